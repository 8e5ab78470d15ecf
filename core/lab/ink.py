"""Finding the ink: steps 2–4 of `core.lab.preprocess`'s pipeline, on 2-D float images in [0, 1].

2. greyscale: transparent pixels take the paper's colour (`paper_under_transparency`);
3. polarity: which way the ink goes, light on dark or dark on light (`polarity`);
4. paper removed: uneven lighting flattened by subtracting a quadratic surface fitted to the paper
   (`paper_surface`), a soft Otsu threshold that maps paper texture to 0 and ink to (0, 1]
   (`soft_threshold`), and the specks that are not part of the digit dropped (`drop_specks`).

The ink's 8-connected pieces (`pieces`, with `scipy.ndimage`) are also what `core.lab.layout` groups
into digits when a photo holds several.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage

from core.errors import LatentLabError

RAMP_TOP = 0.5  # the soft threshold reaches full ink this far from Otsu's threshold to the ink's median
MIN_CONTRAST = 0.04  # ink must differ from the paper by this much (of black…white) to count as ink
NOISE_MARGIN = 3.0  # ... and by this many standard deviations of the paper's own texture
SURFACE_GRID = 48  # the lighting surface is fitted on the image shrunk to this many pixels (long side)
LABEL_SIDE = 256  # specks are found on the ink mask shrunk (max-pooled) to at most this long side
KEEP_FRACTION = 0.08  # a piece of ink this large (× the digit's main stroke) is part of the digit
SPECK_FRACTION = 0.01  # ... smaller pieces survive only inside the main stroke's bounding box
STATS_PIXELS = 200_000  # threshold statistics are taken on at most about this many pixels

Ink = Literal["auto", "light", "dark"]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) float32 in [0, 1], ITU-R 601 weights (as Pillow's "L" mode)."""
    return (rgb.astype(np.float32) / 255.0) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def paper_under_transparency(grey: np.ndarray, alpha: np.ndarray, ink: Ink) -> float:
    """The colour (0 or 1, or a grey) that transparent pixels take.

    If most of the picture is transparent, what is opaque is the ink (a digit on a transparent
    background), so the paper is whichever of black and white contrasts with it. Otherwise the
    opaque part is mostly paper (transparent margins around a photo) and lends its median tone."""
    if ink != "auto":
        return 0.0 if ink == "light" else 1.0
    opaque = alpha > 0.5
    if not opaque.any():
        return 1.0  # nothing opaque at all: the image will be blank on white
    tone = float(np.median(grey[opaque]))
    if opaque.mean() < 0.5:
        return 1.0 if tone < 0.5 else 0.0
    return tone


def polarity(grey: np.ndarray) -> Literal["light", "dark"]:
    """Which way the ink goes: the paper is the median tone (most pixels are paper), and the ink is
    whichever tail reaches farther from it. The extremes are taken on a 2×2-averaged copy, so lone
    noisy pixels do not decide."""
    g = shrink(grey, 2) if min(grey.shape) >= 4 else grey
    paper = float(np.median(g))
    return "dark" if paper - float(g.min()) > float(g.max()) - paper else "light"


def shrink(a: np.ndarray, factor: int) -> np.ndarray:
    """Average factor×factor blocks (Pillow's C box reduce), float32 in and out."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F").reduce(factor))


def resize(a: np.ndarray, hw: tuple[int, int], resample=Image.Resampling.BOX) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F").resize((hw[1], hw[0]), resample))


def paper_surface(v: np.ndarray, rounds: int = 3) -> tuple[np.ndarray | float, float]:
    """The paper's brightness as a smooth quadratic surface a + bx + cy + dx² + exy + fy² (H, W),
    or a constant where the fitted surface is flat to within 1/255; and its range (max − min).

    Fitted by least squares to the image shrunk to SURFACE_GRID pixels, using only paper cells:
    those below an Otsu threshold of the residual (re-chosen each round) and not next to one above
    it, so strokes and their blurred edges do not pull the surface up. On a flat background (a
    canvas, a scan) the surface is that constant; under a lamp or in a phone photo it follows the
    gradient."""
    h, w = v.shape
    scale = SURFACE_GRID / max(h, w)
    gh, gw = max(1, round(h * scale)), max(1, round(w * scale))
    g = resize(v, (gh, gw)) if scale < 1 else v
    gh, gw = g.shape
    ys, xs = np.mgrid[0:gh, 0:gw]
    ys, xs = (ys + 0.5) / gh - 0.5, (xs + 0.5) / gw - 0.5  # cell centres in [-0.5, 0.5]
    basis = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1).reshape(-1, 6)  # (cells, 6)
    values = g.reshape(-1).astype(np.float64)
    coef = np.zeros(6)
    residual = values
    for _ in range(rounds):
        near_ink = _dilate((residual >= otsu(residual)).reshape(gh, gw)).reshape(-1)  # ink cells and their neighbours
        paper = ~near_ink
        if paper.sum() < 12:  # too few clean paper cells to fit six numbers: a constant will do
            paper = residual < otsu(residual)
            coef = np.zeros(6)
            coef[0] = np.median(values[paper]) if paper.any() else values.min()
            break
        a = basis[paper]
        coef = np.linalg.solve(a.T @ a + 1e-9 * np.eye(6), a.T @ values[paper])  # normal equations, (6, 6)
        residual = values - basis @ coef
    fitted = basis @ coef
    lit_range = float(fitted.max() - fitted.min())
    if lit_range < 1 / 255:  # flat (a canvas, a clean scan): one subtraction, not a surface
        return float(np.mean(fitted)), lit_range
    # Evaluate on the full grid by broadcasting rows (H, 1) against columns (1, W).
    y = ((np.arange(h, dtype=np.float32) + 0.5) / h - 0.5)[:, None]
    x = ((np.arange(w, dtype=np.float32) + 0.5) / w - 0.5)[None, :]
    c = coef.astype(np.float32)
    return (c[0] + c[1] * x + c[3] * x * x) + (c[2] + c[4] * x + c[5] * y) * y, lit_range


EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity: a pixel touches the 8 around it


def _dilate(m: np.ndarray) -> np.ndarray:
    """3×3 binary dilation of a 2-D bool array (outside the array counts as False)."""
    return ndimage.binary_dilation(m, structure=EIGHT)


def otsu(v: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the t that maximises the between-class variance of {v < t} and {v ≥ t}."""
    v = np.asarray(v).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        return hi + 1e-6  # one value: everything is on the low side
    width = (hi - lo) / (bins - 1)  # bin i holds [lo + i·width, lo + (i+1)·width); the max lands in the last bin
    idx = np.minimum(((v - lo) / width).astype(np.int64), bins - 1)
    hist = np.bincount(idx, minlength=bins).astype(np.float64)
    p = hist / hist.sum()
    omega = np.cumsum(p)  # weight of the low class if the cut is after bin k
    mu = np.cumsum(p * np.arange(bins))  # its unnormalised mean
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    between = np.where(np.isfinite(between), between, -1.0)
    # Between two separated peaks every cut in the gap scores the same: take the middle of the gap.
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    k = (int(best[0]) + int(best[-1])) // 2
    return lo + (k + 1) * width


def soft_threshold(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual brightness (H, W), paper ≈ 0 → ink (H, W) in [0, 1] and the Otsu threshold.

    A soft version of Otsu: values ramp linearly from `lo` (halfway between the paper's mean and
    the threshold, but at least NOISE_MARGIN σ above the paper) to `hi` (halfway from the threshold
    to the ink's median level), where they reach 1. Paper texture stays at exactly 0, the core of a
    stroke is full ink as in MNIST, and stroke edges keep their anti-aliasing. (Ramping up to the
    median instead leaves strokes greyer than MNIST's, and the models' error on photographed MNIST
    digits then exceeds their error on the originals; with `hi` halfway the two match.)
    The statistics come from every k-th row and column (≤ STATS_PIXELS samples): plenty for a histogram."""
    k = max(1, int(np.sqrt(v.size / STATS_PIXELS)))
    sample = v[::k, ::k]
    t = otsu(sample)
    below, above = sample[sample < t], sample[sample >= t]
    if below.size == 0 or above.size == 0:
        raise LatentLabError("there is no ink in this image: it is blank")
    mu0, sigma0 = float(below.mean()), float(below.std())
    ink_level = float(np.median(above))
    contrast = ink_level - mu0
    if contrast < MIN_CONTRAST or contrast < NOISE_MARGIN * sigma0:
        raise LatentLabError(
            f"there is no ink in this image: it looks blank or too faint (the darkest marks differ from the "
            f"paper by {contrast:.3f}, less than {max(MIN_CONTRAST, NOISE_MARGIN * sigma0):.3f})"
        )
    lo = min(max(0.5 * (mu0 + t), mu0 + NOISE_MARGIN * sigma0), t)
    hi = max(t + RAMP_TOP * (ink_level - t), lo + 1e-3)
    out = v - np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    return np.clip(out, 0.0, 1.0, out=out), t


def drop_specks(ink: np.ndarray) -> tuple[np.ndarray, int]:
    """Ink (H, W) → the ink with the pieces that are not the digit set to 0, and how many were."""
    keep, dropped = _digit_mask(ink > 0)
    return (ink * keep if dropped else ink), dropped


@dataclass(frozen=True, eq=False)
class Pieces:
    """The 8-connected pieces of an ink mask (H, W), found on a copy max-pooled to at most LABEL_SIDE
    pixels on its long side (so a piece is ink that touches, or nearly touches at that scale).
    Piece i (0-based) is label i + 1 in `labels`."""

    labels: np.ndarray  # (h, w) int32 on the pooled grid: 0 = paper, i + 1 = piece i
    factor: int  # each pooled pixel covers factor × factor pixels of the mask
    shape: tuple[int, int]  # (H, W) of the mask
    area: np.ndarray  # (n,) pooled pixels per piece
    boxes: np.ndarray  # (n, 4) int (x0, y0, x1, y1) in the mask's pixels, x1 and y1 exclusive
    edge: np.ndarray  # (n,) bool: the piece touches the image's edge

    def __len__(self) -> int:
        return len(self.area)

    def mask(self, keep: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Which pixels of the mask's grid belong to the pieces with `keep` (n,) True: (H, W) bool, or
        only the part inside `box` (x0, y0, x1, y1) when given."""
        x0, y0, x1, y1 = box or (0, 0, self.shape[1], self.shape[0])
        f = self.factor
        lut = np.r_[False, np.asarray(keep, dtype=bool)]  # label → kept; paper (0) never is
        small = lut[self.labels[y0 // f : -(-y1 // f), x0 // f : -(-x1 // f)]]
        if f > 1:  # back to full size: each small pixel covers an f×f block
            small = np.repeat(np.repeat(small, f, axis=0), f, axis=1)
        return small[y0 - (y0 // f) * f :, x0 - (x0 // f) * f :][: y1 - y0, : x1 - x0]


def pieces(mask: np.ndarray) -> Pieces:
    """The 8-connected pieces of a bool mask (H, W), on a max-pooled copy (≤ LABEL_SIDE), by
    `scipy.ndimage.label`."""
    h, w = mask.shape
    f = max(1, -(-max(h, w) // LABEL_SIDE))  # ceil division
    small = mask
    if f > 1:
        hp, wp = -(-h // f) * f, -(-w // f) * f
        small = np.pad(mask, ((0, hp - h), (0, wp - w))).reshape(hp // f, f, wp // f, f).any(axis=(1, 3))
    labels, n = ndimage.label(small, structure=EIGHT)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    slices = ndimage.find_objects(labels)
    small_boxes = np.array([(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices], dtype=np.int64).reshape(n, 4)
    edge = ((small_boxes[:, 0] == 0) | (small_boxes[:, 1] == 0)
            | (small_boxes[:, 2] == small.shape[1]) | (small_boxes[:, 3] == small.shape[0]))
    boxes = np.minimum(small_boxes * f, [w, h, w, h])  # in the mask's pixels
    return Pieces(labels, f, (h, w), area, boxes, edge)


def digit_pieces(p: Pieces) -> tuple[int, np.ndarray, np.ndarray]:
    """Which pieces are ink worth keeping, by the single-digit rule of `drop_specks`:
    (the main stroke's index, the pieces as large as a digit's part (n,) bool, the small pieces that
    survive only inside a digit's box (n,) bool).

    The digit's main stroke is the largest piece, preferring pieces that do not touch the image's
    edge (those are usually the paper's edge or a shadow). Large: at least KEEP_FRACTION of its size
    (a 5's detached bar). Small: at least SPECK_FRACTION of it. If the main stroke does not touch the
    edge, nothing that does is kept."""
    main = int(np.argmax(p.area * np.where(p.edge, 0.25, 1.0)))
    allowed = ~p.edge if not p.edge[main] else np.ones(len(p), dtype=bool)
    large = (p.area >= KEEP_FRACTION * p.area[main]) & allowed
    small = (p.area >= SPECK_FRACTION * p.area[main]) & allowed & ~large
    large[main] = True
    return main, large, small


def _digit_mask(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Ink mask (H, W) bool → (which pixels belong to the digit (H, W) bool, how many specks were dropped).

    Kept (`digit_pieces`): the main stroke, pieces at least KEEP_FRACTION of its size, and pieces
    of at least SPECK_FRACTION inside its bounding box."""
    p = pieces(mask)
    if len(p) <= 1:
        return mask, 0
    main, large, small = digit_pieces(p)
    b = p.boxes
    inside = (b[:, 0] >= b[main, 0]) & (b[:, 1] >= b[main, 1]) & (b[:, 2] <= b[main, 2]) & (b[:, 3] <= b[main, 3])
    keep = large | (small & inside)
    return mask & p.mask(keep), int(len(p) - keep.sum())
