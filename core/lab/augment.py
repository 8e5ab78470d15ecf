"""Data augmentation for handwriting: distort training digits the way other people's writing differs
from MNIST's, so a model learns handwriting rather than one population's habits.

`augment(x, aug, rng)` distorts a batch (B, 28, 28, 1) in [0, 1] by the recipe `aug` (a
`core.lab.spec.Augment`, part of the model's spec), drawing every random number from `rng`:

1. stroke width: with probability `aug.stroke` one pixel thicker (grey dilation) or thinner (grey
   erosion) by a 2×2 square, even odds — pens, pencils and markers;
2. one affine map per image — rotation, shear (slant), zoom and shift — about the image centre;
3. elastic distortion (Simard, Steinkraus & Platt, 2003): every pixel moves by a random field, smoothed
   by a Gaussian of std `elastic_sigma` and scaled by `elastic_alpha` — a wobbly hand;
4. the image is resampled once (bilinear) at the moved coordinates; ink leaving the frame is lost.

Only `aug.fraction` of the images are distorted. There are no mirror images or quarter turns: those
are what the Anomalies page calls anomalies. Training (`core.lab.training`) gives the model the
distorted image as input *and* target: the model learns to reconstruct whatever it is shown.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.lab.spec import Augment


def affine_matrices(aug: Augment, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n random maps, as (A (n, 2, 2), shift (n, 2)) in (row, column) pixel coordinates about the image
    centre: a point p moves to A (p − centre) + centre + shift."""
    angle = np.deg2rad(rng.uniform(-aug.rotation, aug.rotation, n))
    shear = rng.uniform(-aug.shear, aug.shear, n)
    zoom = rng.uniform(*aug.scale, n)
    shift = rng.uniform(-aug.shift, aug.shift, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rotate = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (n, 2, 2)
    slant = np.zeros((n, 2, 2))
    slant[:, 0, 0] = slant[:, 1, 1] = 1.0
    slant[:, 1, 0] = shear  # column += shear × row: the upright strokes lean
    return zoom[:, None, None] * rotate @ slant, shift


def elastic_field(aug: Augment, n: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(n, 2, H, W) pixel displacements: uniform noise in [−1, 1], Gaussian-smoothed, times alpha."""
    field = rng.uniform(-1.0, 1.0, (n, 2, *shape))
    return aug.elastic_alpha * ndimage.gaussian_filter(field, sigma=(0, 0, aug.elastic_sigma, aug.elastic_sigma), mode="constant")


def stroke_width(images: np.ndarray, change: np.ndarray) -> np.ndarray:
    """images (B, H, W); change (B,) in {−1, 0, +1} → strokes one pixel thinner, unchanged, thicker."""
    thicker = ndimage.grey_dilation(images, size=(1, 2, 2))
    thinner = ndimage.grey_erosion(images, size=(1, 2, 2))
    c = change[:, None, None]
    return np.where(c > 0, thicker, np.where(c < 0, thinner, images))


def augment(x: np.ndarray, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Distort a batch x (B, 28, 28, 1) float32 in [0, 1] → (B, 28, 28, 1) float32 in [0, 1].

    The same `rng` state gives the same images. Every random number is drawn whatever `aug` says, so
    the draws of one image do not depend on the others'."""
    x = np.asarray(x, dtype=np.float32)
    images = x[..., 0]  # (B, H, W)
    b, h, w = images.shape
    a, shift = affine_matrices(aug, b, rng)  # (B, 2, 2), (B, 2)
    change = rng.choice([-1, 1], b) * (rng.random(b) < aug.stroke)  # (B,) stroke width change
    displacement = elastic_field(aug, b, (h, w), rng) if aug.elastic_alpha > 0 else np.zeros((b, 2, h, w))
    keep = rng.random(b) >= aug.fraction  # (B,) images left as they are

    images = stroke_width(images, change)
    # Resample: the output pixel p shows the input at A⁻¹ (p − centre − shift) + centre, moved by the field.
    centre = np.array([(h - 1) / 2, (w - 1) / 2])[:, None, None]  # (2, 1, 1)
    grid = np.indices((h, w), dtype=np.float64) - centre  # (2, H, W)
    source = np.einsum("bij,bjhw->bihw", np.linalg.inv(a), grid[None] - shift[:, :, None, None]) + centre + displacement
    batch = np.broadcast_to(np.arange(b, dtype=np.float64)[:, None, None], (b, h, w))  # each image samples only itself
    coords = np.stack([batch, source[:, 0], source[:, 1]])  # (3, B, H, W)
    out = ndimage.map_coordinates(images, coords, order=1, mode="constant", cval=0.0)  # (B, H, W)
    out = np.where(keep[:, None, None], x[..., 0], np.clip(out, 0.0, 1.0))
    return out[..., None].astype(np.float32)
