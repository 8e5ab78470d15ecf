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

(Measured on the MNIST test set: the mean centre of mass is (13.99, 14.01), bounding boxes are at
most 20 pixels tall or wide.) Decoding files safely is core/lab/images.py's job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from core.errors import LatentLabError
from core.lab.images import ORIENTATION_NAMES, Decoded, decode, upright

log = logging.getLogger(__name__)

BOX = 20  # the digit is scaled to fit a BOX×BOX square ...
SIZE = 28  # ... inside a SIZE×SIZE image
CENTRE = 14.0  # where MNIST puts the centre of mass (row and column)
INK_THRESHOLD = 0.1  # fraction of the peak ink below which a pixel counts as background for cropping

RAMP_TOP = 0.5  # the soft threshold reaches full ink this far from Otsu's threshold to the ink's median
MIN_CONTRAST = 0.04  # ink must differ from the paper by this much (of black…white) to count as ink
NOISE_MARGIN = 3.0  # ... and by this many standard deviations of the paper's own texture
SURFACE_GRID = 48  # the lighting surface is fitted on the image shrunk to this many pixels (long side)
LABEL_SIDE = 256  # specks are found on the ink mask shrunk (max-pooled) to at most this long side
KEEP_FRACTION = 0.08  # a piece of ink this large (× the digit's main stroke) is part of the digit
SPECK_FRACTION = 0.01  # ... smaller pieces survive only inside the main stroke's bounding box
MIN_STROKE = 1.0  # strokes thinner than this (pixels, at 20×20) are thickened; MNIST's 5th percentile is 1.2
TARGET_STROKE = 1.8  # ... to MNIST's median stroke width (2 × area / perimeter over the test set)
THICKEN_SCALE = 4  # thickening works at 4 × 20 = 80 pixels on the long side
STEP_SIDE = 96  # the step images kept for display are at most this many pixels on the long side
STATS_PIXELS = 200_000  # threshold statistics are taken on at most about this many pixels

Ink = Literal["auto", "light", "dark"]


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
    grey = _luminance(rgba[..., :3])
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
        paper = _paper_under_transparency(grey, alpha, ink)
        grey = grey * alpha + paper * (1.0 - alpha)
        what += f", transparent → {'white' if paper > 0.5 else 'black'}"
    steps.append((f"{what} (greyscale)", _thumb(grey)))
    spread = float(np.ptp(grey))
    if spread < MIN_CONTRAST:
        raise LatentLabError(f"there is no ink in this image: it is blank (every pixel is within {spread:.3f} "
                             "of the same grey)")

    # 3. Polarity: from here on ink is bright (→ 1) and paper dark (→ 0), as in MNIST.
    if ink == "auto":
        ink = _polarity(grey)
    v = 1.0 - grey if ink == "dark" else grey
    if ink == "dark":
        steps.append(("inverted: dark ink → light", _thumb(v)))
        notes.append("dark ink on light paper: inverted to light ink on black, like MNIST")

    # 4. Paper removed: flatten the lighting, soft-threshold, drop specks.
    surface, lit_range = _paper_surface(v)  # (H, W) or a constant: the paper's brightness everywhere
    v = v - surface
    if lit_range > 2 * MIN_CONTRAST:
        shown = _thumb(v)
        steps.append(("lighting evened out", np.clip(shown - shown.min(), 0, 1)))
        notes.append("uneven lighting evened out")
    soft, t = _soft_threshold(v)
    ink_img, dropped = _drop_specks(soft)
    steps.append((f"paper removed (Otsu t = {t:.2f}" + (f", {dropped} speck{'s' * (dropped > 1)} dropped)" if dropped else ")"),
                  _thumb(ink_img)))

    # 5. Crop, scale, centre.
    image, fit_steps = _fit_box(ink_img)
    return Preprocessed(image, steps + fit_steps, tuple(notes))


# ---------------------------------------------------------------------------------------------
# Steps 2–4


def ink_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """Canvas pixels (H, W, 4) uint8, light strokes on a dark or transparent background → ink (H, W)
    float32 in [0, 1]. Transparent pixels count as background."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise LatentLabError(f"expected an RGB(A) image of shape (H, W, 3 or 4), got {rgba.shape}")
    alpha = rgba[..., 3].astype(np.float32) / 255.0 if rgba.shape[2] == 4 else 1.0
    return _luminance(rgba[..., :3]) * alpha


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) float32 in [0, 1], ITU-R 601 weights (as Pillow's "L" mode)."""
    return (rgb.astype(np.float32) / 255.0) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _paper_under_transparency(grey: np.ndarray, alpha: np.ndarray, ink: Ink) -> float:
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


def _polarity(grey: np.ndarray) -> Literal["light", "dark"]:
    """Which way the ink goes: the paper is the median tone (most pixels are paper), and the ink is
    whichever tail reaches farther from it. The extremes are taken on a 2×2-averaged copy, so lone
    noisy pixels do not decide."""
    g = _shrink(grey, 2) if min(grey.shape) >= 4 else grey
    paper = float(np.median(g))
    return "dark" if paper - float(g.min()) > float(g.max()) - paper else "light"


def _shrink(a: np.ndarray, factor: int) -> np.ndarray:
    """Average factor×factor blocks (Pillow's C box reduce), float32 in and out."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F").reduce(factor))


def _resize(a: np.ndarray, hw: tuple[int, int], resample=Image.Resampling.BOX) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F").resize((hw[1], hw[0]), resample))


def _paper_surface(v: np.ndarray, rounds: int = 3) -> tuple[np.ndarray | float, float]:
    """The paper's brightness as a smooth quadratic surface a + bx + cy + dx² + exy + fy² (H, W),
    or a constant where the fitted surface is flat to within 1/255; and its range (max − min).

    Fitted by least squares to the image shrunk to SURFACE_GRID pixels, using only paper cells:
    those below an Otsu threshold of the residual (re-chosen each round) and not next to one above
    it, so strokes and their blurred edges do not pull the surface up. On a flat background (a canvas, a scan) the surface is that constant; under a
    lamp or in a phone photo it follows the gradient."""
    h, w = v.shape
    scale = SURFACE_GRID / max(h, w)
    gh, gw = max(1, round(h * scale)), max(1, round(w * scale))
    g = _resize(v, (gh, gw)) if scale < 1 else v
    gh, gw = g.shape
    ys, xs = np.mgrid[0:gh, 0:gw]
    ys, xs = (ys + 0.5) / gh - 0.5, (xs + 0.5) / gw - 0.5  # cell centres in [-0.5, 0.5]
    basis = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1).reshape(-1, 6)  # (cells, 6)
    values = g.reshape(-1).astype(np.float64)
    coef = np.zeros(6)
    residual = values
    for _ in range(rounds):
        near_ink = _dilate((residual >= _otsu(residual)).reshape(gh, gw)).reshape(-1)  # ink cells and their neighbours
        paper = ~near_ink
        if paper.sum() < 12:  # too few clean paper cells to fit six numbers: a constant will do
            paper = residual < _otsu(residual)
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


def _dilate(m: np.ndarray) -> np.ndarray:
    """3×3 binary dilation of a 2-D bool array."""
    p = np.pad(m, 1)
    h, w = m.shape
    return np.logical_or.reduce([p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])


def _otsu(v: np.ndarray, bins: int = 256) -> float:
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


def _soft_threshold(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual brightness (H, W), paper ≈ 0 → ink (H, W) in [0, 1] and the Otsu threshold.

    A soft version of Otsu: values ramp linearly from `lo` (halfway between the paper's mean and
    the threshold, but at least NOISE_MARGIN σ above the paper) to `hi` (halfway from the threshold
    to the ink's median level), where they reach 1. Paper texture stays at exactly 0, the core of a
    stroke is full ink as in MNIST, and stroke edges keep their anti-aliasing. (Ramping up to the
    median instead leaves strokes greyer than MNIST's: on photos of MNIST digits the conv AE's
    error then comes out ~7 % above the originals'; with `hi` halfway it matches them.)
    The statistics come from every k-th row and column (≤ STATS_PIXELS samples): plenty for a histogram."""
    k = max(1, int(np.sqrt(v.size / STATS_PIXELS)))
    sample = v[::k, ::k]
    t = _otsu(sample)
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


def _drop_specks(ink: np.ndarray) -> tuple[np.ndarray, int]:
    """Ink (H, W) → the ink with the pieces that are not the digit set to 0, and how many were."""
    keep, dropped = _digit_mask(ink > 0)
    return (ink * keep if dropped else ink), dropped


def _digit_mask(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Ink mask (H, W) bool → (which pixels belong to the digit (H, W) bool, how many specks were dropped).

    The mask's 8-connected pieces are found on a max-pooled copy (≤ LABEL_SIDE). The digit's main
    stroke is the largest piece, preferring pieces that do not touch the image's edge (those are
    usually the paper's edge or a shadow). Kept with it: pieces at least KEEP_FRACTION of its size
    (a 5's detached bar), and pieces of at least SPECK_FRACTION inside its bounding box. If the main
    stroke does not touch the edge, nothing that does is kept."""
    h, w = mask.shape
    f = max(1, -(-max(h, w) // LABEL_SIDE))  # ceil division
    small = mask
    if f > 1:
        hp, wp = -(-h // f) * f, -(-w // f) * f
        small = np.pad(mask, ((0, hp - h), (0, wp - w))).reshape(hp // f, f, wp // f, f).any(axis=(1, 3))
    rows, starts, ends, label, n = _runs_and_components(small)
    if n <= 1:
        return mask, 0
    area = np.bincount(label, weights=ends - starts, minlength=n)
    top = np.full(n, small.shape[0]); np.minimum.at(top, label, rows)  # noqa: E702
    bottom = np.full(n, -1); np.maximum.at(bottom, label, rows)  # noqa: E702
    left = np.full(n, small.shape[1]); np.minimum.at(left, label, starts)  # noqa: E702
    right = np.full(n, -1); np.maximum.at(right, label, ends - 1)  # noqa: E702
    edge = (top == 0) | (left == 0) | (bottom == small.shape[0] - 1) | (right == small.shape[1] - 1)
    main = int(np.argmax(area * np.where(edge, 0.25, 1.0)))
    inside = (top >= top[main]) & (bottom <= bottom[main]) & (left >= left[main]) & (right <= right[main])
    keep = (area >= KEEP_FRACTION * area[main]) | (inside & (area >= SPECK_FRACTION * area[main]))
    if not edge[main]:
        keep &= ~edge
    keep[main] = True
    # Paint the kept runs back: +1 at each run's start, −1 at its end, cumulative sum along rows.
    paint = np.zeros((small.shape[0], small.shape[1] + 1), dtype=np.int32)
    k = keep[label]
    np.add.at(paint, (rows[k], starts[k]), 1)
    np.add.at(paint, (rows[k], ends[k]), -1)
    kept_small = np.cumsum(paint, axis=1)[:, :-1] > 0
    if f > 1:  # back to full size: each small pixel covers an f×f block
        kept_small = np.repeat(np.repeat(kept_small, f, axis=0), f, axis=1)[:h, :w]
    return mask & kept_small, int(n - keep.sum())


def _runs_and_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """8-connected components of a bool mask, by union–find over its horizontal runs of True.

    Returns per run: row, start column, end column (exclusive), component id in 0..n-1; and n."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)  # (H, W+1): +1 run starts, −1 run ends
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    n_runs = len(rows)
    if n_runs == 0:
        return rows, starts, ends, np.zeros(0, dtype=np.int64), 0
    parent = list(range(n_runs))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    first = np.searchsorted(rows, np.arange(mask.shape[0] + 1)).tolist()  # runs of row r: first[r]:first[r+1]
    s, e = starts.tolist(), ends.tolist()
    for r in range(1, mask.shape[0]):
        i, i_end, j, j_end = first[r - 1], first[r], first[r], first[r + 1]
        while i < i_end and j < j_end:
            if s[j] <= e[i] and s[i] <= e[j]:  # overlap or touch diagonally (ends are exclusive)
                a, b = find(i), find(j)
                if a != b:
                    parent[b] = a
            if e[i] < e[j]:
                i += 1
            else:
                j += 1
    roots = np.array([find(i) for i in range(n_runs)])
    _, label = np.unique(roots, return_inverse=True)
    return rows, starts, ends, label, int(label.max()) + 1


# ---------------------------------------------------------------------------------------------
# Step 5, as MNIST was made


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) of a 2-D image with positive total mass."""
    total = img.sum()
    assert total > 0, "centre of mass of an empty image"
    rows, cols = np.indices(img.shape)
    return float((rows * img).sum() / total), float((cols * img).sum() / total)


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
    box = np.clip(_resize(crop, (new_h, new_w), Image.Resampling.LANCZOS), 0.0, 1.0)
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
    mid = _resize(crop, size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)
    mid = np.clip(mid / max(float(mid.max()), 1e-6), 0.0, 1.0)
    return _dilate_disc(mid, extra * THICKEN_SCALE / 2)  # the disc adds its radius on each side of a stroke


def _dilate_disc(a: np.ndarray, radius: float) -> np.ndarray:
    """Grey dilation of a 2-D image by a disc of `radius` pixels, on a copy padded by the radius."""
    r = int(np.ceil(radius))
    padded = np.pad(a, r)
    out = padded.copy()
    n = padded.shape
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            # out[y, x] = max(out[y, x], padded[y + dy, x + dx]) wherever both are inside.
            ys, yd = slice(max(0, -dy), n[0] - max(0, dy)), slice(max(0, dy), n[0] - max(0, -dy))
            xs, xd = slice(max(0, -dx), n[1] - max(0, dx)), slice(max(0, dx), n[1] - max(0, -dx))
            np.maximum(out[ys, xs], padded[yd, xd], out=out[ys, xs])
    return out


def _thumb(a: np.ndarray) -> np.ndarray:
    """A copy of a 2-D image at most STEP_SIDE on its long side, for display (f×f blocks averaged)."""
    a = np.asarray(a, dtype=np.float32)
    factor = -(-max(a.shape) // STEP_SIDE)  # ceil division
    return _shrink(a, factor) if factor > 1 else a.copy()
