"""Step 5 of the pipeline (`core.lab.preprocess`), as MNIST itself was made: a digit's ink is cropped,
hairline strokes are thickened to MNIST's typical width, the crop is scaled to fit a 20×20 box keeping
its aspect ratio (anti-aliased), and pasted into 28×28 so that the ink's centre of mass sits at pixel
(14, 14). On the MNIST test set the mean centre of mass is (13.99, 14.01) and bounding boxes are at
most 20 pixels tall or wide.

`thumb` makes the small copies of each step that the pages show.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from core.errors import LatentLabError
from core.lab.ink import resize, shrink

BOX = 20  # the digit is scaled to fit a BOX×BOX square ...
SIZE = 28  # ... inside a SIZE×SIZE image
CENTRE = 14.0  # where MNIST puts the centre of mass (row and column)
INK_THRESHOLD = 0.1  # fraction of the peak ink below which a pixel counts as background for cropping

MIN_STROKE = 1.0  # strokes thinner than this (pixels, at 20×20) are thickened; MNIST's 5th percentile is 1.2
TARGET_STROKE = 1.8  # ... to MNIST's median stroke width (2 × area / perimeter over the test set)
THICKEN_SCALE = 4  # thickening works at 4 × 20 = 80 pixels on the long side
STEP_SIDE = 96  # the step images kept for display are at most this many pixels on the long side


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) of a 2-D image with positive total mass."""
    assert img.sum() > 0, "centre of mass of an empty image"
    r, c = ndimage.center_of_mass(np.asarray(img, dtype=np.float64))
    return float(r), float(c)


def ink_extent(ink: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns holding ink above INK_THRESHOLD: what step 5 crops to."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise LatentLabError("there is no ink in this image: draw or upload a digit")
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def fit_box(ink: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Ink (H, W) with peak 1 → (28×28 float32 image, its steps): crop, scale to 20×20, centre."""
    crop = ink[ink_extent(ink)]
    steps = [("cropped to the ink", thumb(crop))]

    # A pen line on a big sheet would be a fraction of a pixel wide in 20×20, a faint grey hairline
    # no MNIST digit has: thicken such strokes to MNIST's typical width first.
    width = _stroke_width(crop) * BOX / max(crop.shape)  # in pixels of the 20×20 box
    if width < MIN_STROKE:
        crop = _thicken(crop, TARGET_STROKE - width)
        steps.append((f"strokes thickened ({width:.1f} → {TARGET_STROKE:.1f} px at 20×20)", thumb(crop)))

    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # PIL's float mode keeps full precision; LANCZOS anti-aliases when shrinking.
    box = np.clip(resize(crop, (new_h, new_w), Image.Resampling.LANCZOS), 0.0, 1.0)
    box /= max(float(box.max()), 1e-6)  # the strongest ink is full ink, as in MNIST (thin strokes fade when shrunk)
    steps.append((f"scaled to {new_h}×{new_w} (fits 20×20)", box))

    # Put the box in the 28×28 canvas so that its centre of mass lands on (14, 14), as MNIST does
    # (whole-pixel shift), without pushing any ink over the edge.
    com_r, com_c = centre_of_mass(box) if box.sum() > 0 else (new_h / 2, new_w / 2)
    top = int(np.clip(round(CENTRE - com_r), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - com_c), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = box
    steps.append(("centred by mass in 28×28", out))
    return out, steps


def _stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels of an ink image: 2 × area / perimeter of {ink > 0.5} (a long
    stroke of width w and length L has area wL and perimeter ≈ 2L). MNIST's median is 1.8 pixels."""
    m = ink > 0.5
    area = int(m.sum())
    if area == 0:
        return 0.0
    padded = np.pad(m, 1)
    perimeter = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    return 2.0 * area / perimeter


def _thicken(crop: np.ndarray, extra: float) -> np.ndarray:
    """Widen strokes by `extra` pixels of the 20×20 box: resample the crop to THICKEN_SCALE × 20
    pixels on its long side (cheap, and fine enough), renormalise, and take the maximum over a
    disc (grey dilation). The result is padded by the disc's radius, so no ink is cut off."""
    h, w = crop.shape
    scale = THICKEN_SCALE * BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    mid = resize(crop, size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)
    mid = np.clip(mid / max(float(mid.max()), 1e-6), 0.0, 1.0)
    return _dilate_disc(mid, extra * THICKEN_SCALE / 2)  # the disc adds its radius on each side of a stroke


def _dilate_disc(a: np.ndarray, radius: float) -> np.ndarray:
    """Grey dilation (the maximum over a disc of `radius` pixels) of a 2-D image ≥ 0, on a copy
    padded by the radius."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = dy * dy + dx * dx <= radius * radius
    return ndimage.grey_dilation(np.pad(a, r), footprint=disc, mode="constant", cval=0.0)


def thumb(a: np.ndarray) -> np.ndarray:
    """A copy of a 2-D image at most STEP_SIDE on its long side, for display (f×f blocks averaged)."""
    a = np.asarray(a, dtype=np.float32)
    factor = -(-max(a.shape) // STEP_SIDE)  # ceil division
    return shrink(a, factor) if factor > 1 else a.copy()
