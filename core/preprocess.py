"""Turning a drawing into what an MNIST model expects, the way MNIST itself was made:
crop to the ink → scale to fit a 20×20 box keeping the aspect ratio (anti-aliased) → paste into
28×28 so that the ink's centre of mass sits at pixel (14, 14) → float32 in [0, 1], ink = 1.

(Measured on the MNIST test set: the mean centre of mass is (13.99, 14.01), bounding boxes are at
most 20 pixels tall or wide.) Every step's image is kept, so the page can show what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.errors import LatentLabError

BOX = 20  # the digit is scaled to fit a BOX×BOX square ...
SIZE = 28  # ... inside a SIZE×SIZE image
CENTRE = 14.0  # where MNIST puts the centre of mass (row and column)
INK_THRESHOLD = 0.1  # fraction of the peak ink below which a pixel counts as background for cropping


@dataclass
class Preprocessed:
    """The model input and the intermediate images, in order, for display."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], ink = 1
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (caption, 2-D float image)


def ink_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """Canvas pixels (H, W, 4) uint8, light strokes on a dark or transparent background → ink (H, W)
    float32 in [0, 1]. Transparent pixels count as background."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise LatentLabError(f"expected an RGB(A) image of shape (H, W, 3 or 4), got {rgba.shape}")
    rgb = rgba[..., :3].astype(np.float32) / 255.0
    luminance = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    alpha = rgba[..., 3].astype(np.float32) / 255.0 if rgba.shape[2] == 4 else 1.0
    return luminance * alpha


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) of a 2-D image with positive total mass."""
    total = img.sum()
    assert total > 0, "centre of mass of an empty image"
    rows, cols = np.indices(img.shape)
    return float((rows * img).sum() / total), float((cols * img).sum() / total)


def mnist_style(ink: np.ndarray) -> Preprocessed:
    """Ink image (H, W), background 0 and ink > 0 → `Preprocessed` with the 28×28 model input."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise LatentLabError(f"expected a 2-D ink image, got shape {ink.shape}")
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 1e-3:
        raise LatentLabError("there is no ink in this image: draw or upload a digit")
    ink = ink / peak  # the darkest stroke becomes full ink, as in MNIST
    steps = [("input (ink = white)", ink)]

    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    steps.append(("cropped to the ink", crop))

    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # PIL's float mode keeps full precision; LANCZOS anti-aliases when shrinking.
    box = np.asarray(Image.fromarray(crop, mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS))
    box = np.clip(box, 0.0, 1.0)
    steps.append((f"scaled to {new_h}×{new_w} (fits 20×20)", box))

    # Put the box in the 28×28 canvas so that its centre of mass lands on (14, 14), as MNIST does
    # (whole-pixel shift), without pushing any ink over the edge.
    com_r, com_c = centre_of_mass(box) if box.sum() > 0 else (new_h / 2, new_w / 2)
    top = int(np.clip(round(CENTRE - com_r), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - com_c), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = box
    steps.append(("centred by mass in 28×28", out))
    return Preprocessed(out, steps)


def from_canvas(rgba: np.ndarray) -> Preprocessed:
    """A drawing-canvas image (light strokes on dark) → MNIST-style 28×28 input."""
    return mnist_style(ink_from_rgba(rgba))
