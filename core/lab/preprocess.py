"""Turning any picture of a digit into what an MNIST model expects: one pipeline for the Draw page's
canvas and for uploaded files (photos of paper, scans, screenshots, white-on-black drawings).

The steps, each kept as a (small) image so the pages can show what happened:

1. upright: the EXIF orientation applied (phones store photos sideways and say so in EXIF);
2. greyscale: transparent pixels composited onto the paper's colour;
3. polarity: MNIST is light ink on black, so dark ink on light paper is inverted;
4. paper removed: uneven lighting flattened (a quadratic surface fitted to the paper is
   subtracted), then a soft Otsu threshold maps paper texture to 0 and ink to (0, 1], and specks
   that are not part of the digit are dropped;
5. as MNIST itself was made: crop to the ink → (thicken hairline strokes to MNIST's typical
   width) → scale to fit a 20×20 box keeping the aspect ratio (anti-aliased) → paste into 28×28
   so that the ink's centre of mass sits at pixel (14, 14) → float32 in [0, 1], ink = 1.

(On the MNIST test set the mean centre of mass is (13.99, 14.01) and bounding boxes are at most 20
pixels tall or wide.) Steps 2–4 are `core.lab.ink`'s; decoding files safely is `core.lab.images`'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from core.errors import LatentLabError
from core.lab.images import ORIENTATION_NAMES, Decoded, decode, upright
from core.lab.ink import (
    MIN_CONTRAST,
    Ink,
    drop_specks,
    luminance,
    paper_surface,
    paper_under_transparency,
    polarity,
    resize,
    shrink,
    soft_threshold,
)

log = logging.getLogger(__name__)

BOX = 20  # the digit is scaled to fit a BOX×BOX square ...
SIZE = 28  # ... inside a SIZE×SIZE image
CENTRE = 14.0  # where MNIST puts the centre of mass (row and column)
INK_THRESHOLD = 0.1  # fraction of the peak ink below which a pixel counts as background for cropping

MIN_STROKE = 1.0  # strokes thinner than this (pixels, at 20×20) are thickened; MNIST's 5th percentile is 1.2
TARGET_STROKE = 1.8  # ... to MNIST's median stroke width (2 × area / perimeter over the test set)
THICKEN_SCALE = 4  # thickening works at 4 × 20 = 80 pixels on the long side
STEP_SIDE = 96  # the step images kept for display are at most this many pixels on the long side


@dataclass(frozen=True)
class Preprocessed:
    """The model input and the intermediate images, in order, for display."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], ink = 1
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (caption, 2-D float image in [0, 1])
    notes: tuple[str, ...] = ()  # what the user should know (first frame of an animation, inverted, ...)


# ---------------------------------------------------------------------------------------------
# Entry points


def from_canvas(rgba: np.ndarray) -> Preprocessed:
    """A drawing-canvas image (H, W, 3 or 4) uint8, light strokes on a dark or transparent
    background → MNIST-style 28×28 input."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise LatentLabError(f"expected an RGB(A) image of shape (H, W, 3 or 4), got {rgba.shape}")
    grey = luminance(rgba[..., :3])
    alpha = rgba[..., 3].astype(np.float32) / 255.0 if rgba.shape[2] == 4 else None
    return preprocess(grey, alpha, ink="light")  # the canvas draws white on black: no guessing


def from_canvas_ink(ink: np.ndarray) -> Preprocessed:
    """The Draw page's pad: ink (H, W) uint8 grey levels, light strokes on 0 — the canvas cropped to
    the ink plus a margin (views/canvas) — → MNIST-style 28×28 input.

    The same pipeline as `from_canvas`: the crop only drops black paper that the crop to the ink
    drops anyway, so the result matches `from_canvas` of the whole canvas
    (tests/test_canvas_input.py measures how closely)."""
    ink = np.asarray(ink)
    if ink.ndim != 2 or min(ink.shape) < 1:
        raise LatentLabError(f"expected a 2-D ink image (H, W), got shape {ink.shape}")
    if ink.dtype != np.uint8:
        raise LatentLabError(f"expected uint8 ink levels 0..255, got dtype {ink.dtype}")
    return preprocess(ink.astype(np.float32) / 255.0, None, ink="light")


def from_file(data: bytes, name: str = "the file") -> Preprocessed:
    """Image file bytes (PNG, JPEG, BMP, GIF, WebP, TIFF) → MNIST-style 28×28 input.

    Any problem is a `LatentLabError` whose message starts with `name`."""
    decoded = decode(data, name)
    try:
        return preprocess_decoded(decoded)
    except LatentLabError as err:
        raise LatentLabError(f"{name}: {err}") from None


@dataclass(frozen=True)
class Outcome:
    """What became of one uploaded file: its `Preprocessed`, or the message saying why not."""

    name: str
    pre: Preprocessed | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.pre is not None


def preprocess_many(files: list[tuple[str, bytes]]) -> list[Outcome]:
    """(name, bytes) pairs → one `Outcome` each, in order; one bad file never stops the others."""
    outcomes = []
    for name, data in files:
        try:
            outcomes.append(Outcome(name, pre=from_file(data, name)))
        except LatentLabError as err:
            outcomes.append(Outcome(name, error=str(err)))
        except Exception as err:  # noqa: BLE001 (a bug on one file must not take the others down; it is logged)
            log.exception("preprocessing %r failed unexpectedly", name)
            outcomes.append(Outcome(name, error=f"{name} could not be processed (an unexpected {type(err).__name__})"))
    return outcomes


def preprocess_decoded(d: Decoded) -> Preprocessed:
    return preprocess(d.grey, d.alpha, orientation=d.orientation, notes=d.notes,
                      label=f"{d.size[0]}×{d.size[1]} {d.format}")


def mnist_style(ink: np.ndarray) -> Preprocessed:
    """Ink image (H, W), background 0 and ink > 0 → `Preprocessed` with the 28×28 model input
    (step 5 only: for images that are clean already)."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise LatentLabError(f"expected a 2-D ink image, got shape {ink.shape}")
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 1e-3:
        raise LatentLabError("there is no ink in this image: draw or upload a digit")
    ink = ink / peak  # the darkest stroke becomes full ink, as in MNIST
    image, steps = _fit_box(ink)
    return Preprocessed(image, [("input (ink = white)", _thumb(ink))] + steps)


def preprocess(
    grey: np.ndarray, alpha: np.ndarray | None = None, *, orientation: int = 1, ink: Ink = "auto",
    notes: tuple[str, ...] = (), label: str = "",
) -> Preprocessed:
    """The whole pipeline (steps 1–5) from a greyscale image (H, W) in [0, 1] as stored, its opacity
    (H, W) in [0, 1] or None, and its EXIF orientation. `ink` says which way the polarity goes
    ("light": light ink on dark, like the canvas), or "auto" to decide from the pixels."""
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise LatentLabError(f"expected a 2-D greyscale image, got shape {grey.shape}")
    if ink not in ("auto", "light", "dark"):
        raise LatentLabError(f"ink must be 'auto', 'light' or 'dark', got {ink!r}")
    notes, steps = list(notes), []
    what = f"input{', ' + label if label else ''}"

    # 1. Upright. (H, W) → (H', W'), a rotation or mirror of it.
    if orientation != 1:
        steps.append((f"{what}, as stored", _thumb(grey)))
        grey = upright(grey, orientation)
        alpha = upright(alpha, orientation) if alpha is not None else None
        notes.append(f"turned upright: the photo's EXIF data says it is {ORIENTATION_NAMES[orientation]}")
        what = "upright"

    # 2. Greyscale with transparency composited onto the paper.
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float32)
        assert alpha.shape == grey.shape, (alpha.shape, grey.shape)
        paper = paper_under_transparency(grey, alpha, ink)
        grey = grey * alpha + paper * (1.0 - alpha)
        what += f", transparent → {'white' if paper > 0.5 else 'black'}"
    steps.append((f"{what} (greyscale)", _thumb(grey)))
    spread = float(np.ptp(grey))
    if spread < MIN_CONTRAST:
        raise LatentLabError(f"there is no ink in this image: it is blank (every pixel is within {spread:.3f} "
                             "of the same grey)")

    # 3. Polarity: from here on ink is bright (→ 1) and paper dark (→ 0), as in MNIST.
    if ink == "auto":
        ink = polarity(grey)
    v = 1.0 - grey if ink == "dark" else grey
    if ink == "dark":
        steps.append(("inverted: dark ink → light", _thumb(v)))
        notes.append("dark ink on light paper: inverted to light ink on black, like MNIST")

    # 4. Paper removed: flatten the lighting, soft-threshold, drop specks.
    surface, lit_range = paper_surface(v)  # (H, W) or a constant: the paper's brightness everywhere
    v = v - surface
    if lit_range > 2 * MIN_CONTRAST:
        shown = _thumb(v)
        steps.append(("lighting evened out", np.clip(shown - shown.min(), 0, 1)))
        notes.append("uneven lighting evened out")
    soft, t = soft_threshold(v)
    ink_img, dropped = drop_specks(soft)
    steps.append((f"paper removed (Otsu t = {t:.2f}" + (f", {dropped} speck{'s' * (dropped > 1)} dropped)" if dropped else ")"),
                  _thumb(ink_img)))

    # 5. Crop, scale, centre.
    image, fit_steps = _fit_box(ink_img)
    return Preprocessed(image, steps + fit_steps, tuple(notes))


# ---------------------------------------------------------------------------------------------
# Step 5, as MNIST was made


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) of a 2-D image with positive total mass."""
    assert img.sum() > 0, "centre of mass of an empty image"
    r, c = ndimage.center_of_mass(np.asarray(img, dtype=np.float64))
    return float(r), float(c)


def _fit_box(ink: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Ink (H, W) with peak 1 → (28×28 float32 image, its steps): crop, scale to 20×20, centre."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise LatentLabError("there is no ink in this image: draw or upload a digit")
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    steps = [("cropped to the ink", _thumb(crop))]

    # A pen line on a big sheet would be a fraction of a pixel wide in 20×20, a faint grey hairline
    # no MNIST digit has: thicken such strokes to MNIST's typical width first.
    width = _stroke_width(crop) * BOX / max(crop.shape)  # in pixels of the 20×20 box
    if width < MIN_STROKE:
        crop = _thicken(crop, TARGET_STROKE - width)
        steps.append((f"strokes thickened ({width:.1f} → {TARGET_STROKE:.1f} px at 20×20)", _thumb(crop)))

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


def _thumb(a: np.ndarray) -> np.ndarray:
    """A copy of a 2-D image at most STEP_SIDE on its long side, for display (f×f blocks averaged)."""
    a = np.asarray(a, dtype=np.float32)
    factor = -(-max(a.shape) // STEP_SIDE)  # ceil division
    return shrink(a, factor) if factor > 1 else a.copy()
