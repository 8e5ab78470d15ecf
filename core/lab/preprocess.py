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

Steps 2–4 are `core.lab.ink`'s, step 5 `core.lab.mnist_frame`'s; decoding files safely is
`core.lab.images`'s.

A file may hold several digits (a line, a sheet with 0–9): `find_digits` groups the ink's pieces into
digits (`core.lab.layout`), in reading order, and sends each through step 5 on its own. The Draw
page's canvas is always one digit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from core.errors import LatentLabError
from core.lab import layout
from core.lab.images import ORIENTATION_NAMES, Decoded, decode, upright
from core.lab.ink import (
    MIN_CONTRAST,
    Ink,
    Pieces,
    digit_pieces,
    drop_specks,
    luminance,
    paper_surface,
    paper_under_transparency,
    pieces,
    polarity,
    soft_threshold,
)
from core.lab.mnist_frame import fit_box, ink_extent, thumb

log = logging.getLogger(__name__)

MAX_DIGITS = 30  # digits taken from one picture (in reading order); more are left out, with a note
MAX_PIECES = 300  # the largest pieces of ink considered for grouping into digits (the rest count as specks)
MIN_PEAK = 0.5  # a group of pieces is a digit only if some of its ink is at least this strong (not a shadow)
CROP_MARGIN = 0.1  # the crop shown for a digit extends this fraction of its box's long side around it


@dataclass(frozen=True, eq=False)
class Digit:
    """One digit found in a picture."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of its ink in the upright original image's pixels, x1, y1 exclusive
    crop: np.ndarray  # the picture around it (upright greyscale, as photographed), at most `mnist_frame.STEP_SIDE`, for display
    image: np.ndarray  # (28, 28) float32 in [0, 1], ink = 1: the model input
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # step 5's images (crop, scale, centre)
    notes: tuple[str, ...] = ()  # e.g. "probably two digits touching"


@dataclass(frozen=True)
class Preprocessed:
    """The model input and the intermediate images, in order, for display. `image` is the first
    digit's input; `digits` lists every digit found, in reading order (one for a drawing)."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], ink = 1
    steps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (caption, 2-D float image in [0, 1])
    notes: tuple[str, ...] = ()  # what the user should know (first frame of an animation, inverted, ...)
    digits: tuple[Digit, ...] = ()


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

    @property
    def digits(self) -> tuple[Digit, ...]:
        """The digits found in the file, in reading order (none if it could not be read)."""
        return self.pre.digits if self.pre is not None else ()


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
    """A decoded file → every digit in it (`find_digits`), with boxes in the file's own pixels."""
    return preprocess(d.grey, d.alpha, orientation=d.orientation, notes=d.notes,
                      label=f"{d.size[0]}×{d.size[1]} {d.format}", many=True, size=d.size)


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
    image, steps = fit_box(ink)
    return Preprocessed(image, [("input (ink = white)", thumb(ink))] + steps)


def preprocess(
    grey: np.ndarray, alpha: np.ndarray | None = None, *, orientation: int = 1, ink: Ink = "auto",
    notes: tuple[str, ...] = (), label: str = "", many: bool = False, size: tuple[int, int] | None = None,
) -> Preprocessed:
    """The whole pipeline (steps 1–5) from a greyscale image (H, W) in [0, 1] as stored, its opacity
    (H, W) in [0, 1] or None, and its EXIF orientation. `ink` says which way the polarity goes
    ("light": light ink on dark, like the canvas), or "auto" to decide from the pixels.

    `many`: the picture may hold several digits (`find_digits`); otherwise all its ink is one digit.
    `size`: (width, height) of the original file as stored, when `grey` was decoded smaller; digit
    boxes are given in its pixels."""
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise LatentLabError(f"expected a 2-D greyscale image, got shape {grey.shape}")
    if ink not in ("auto", "light", "dark"):
        raise LatentLabError(f"ink must be 'auto', 'light' or 'dark', got {ink!r}")
    notes, steps = list(notes), []
    what = f"input{', ' + label if label else ''}"
    size = size or (grey.shape[1], grey.shape[0])

    # 1. Upright. (H, W) → (H', W'), a rotation or mirror of it.
    if orientation != 1:
        steps.append((f"{what}, as stored", thumb(grey)))
        grey = upright(grey, orientation)
        alpha = upright(alpha, orientation) if alpha is not None else None
        size = size[::-1] if orientation >= 5 else size  # 5–8 swap width and height
        notes.append(f"turned upright: the photo's EXIF data says it is {ORIENTATION_NAMES[orientation]}")
        what = "upright"

    # 2. Greyscale with transparency composited onto the paper.
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float32)
        assert alpha.shape == grey.shape, (alpha.shape, grey.shape)
        paper = paper_under_transparency(grey, alpha, ink)
        grey = grey * alpha + paper * (1.0 - alpha)
        what += f", transparent → {'white' if paper > 0.5 else 'black'}"
    steps.append((f"{what} (greyscale)", thumb(grey)))
    spread = float(np.ptp(grey))
    if spread < MIN_CONTRAST:
        raise LatentLabError(f"there is no ink in this image: it is blank (every pixel is within {spread:.3f} "
                             "of the same grey)")

    # 3. Polarity: from here on ink is bright (→ 1) and paper dark (→ 0), as in MNIST.
    if ink == "auto":
        ink = polarity(grey)
    v = 1.0 - grey if ink == "dark" else grey
    if ink == "dark":
        steps.append(("inverted: dark ink → light", thumb(v)))
        notes.append("dark ink on light paper: inverted to light ink on black, like MNIST")

    # 4. Paper removed: flatten the lighting, soft-threshold, drop specks.
    surface, lit_range = paper_surface(v)  # (H, W) or a constant: the paper's brightness everywhere
    v = v - surface
    if lit_range > 2 * MIN_CONTRAST:
        shown = thumb(v)
        steps.append(("lighting evened out", np.clip(shown - shown.min(), 0, 1)))
        notes.append("uneven lighting evened out")
    soft, t = soft_threshold(v)
    to_original = (size[0] / grey.shape[1], size[1] / grey.shape[0])
    found = find_digits(soft, grey, to_original=to_original) if many else _one_digit(soft, grey, to_original)
    dropped = found.dropped
    steps.append((f"paper removed (Otsu t = {t:.2f}" + (f", {dropped} speck{'s' * (dropped > 1)} dropped)" if dropped else ")"),
                  thumb(found.ink)))
    if found.count > MAX_DIGITS:
        notes.append(f"{found.count} digits found: only the first {MAX_DIGITS} (in reading order) are used; "
                     f"the limit is {MAX_DIGITS} digits per image")
    elif found.count > 1:
        notes.append(f"{found.count} digits found, numbered in reading order (rows top to bottom, each left to right)")

    # 5. Crop, scale, centre (each digit).
    first = found.digits[0]
    return Preprocessed(first.image, steps + (first.steps if found.count == 1 else []), tuple(notes), tuple(found.digits))


# ---------------------------------------------------------------------------------------------
# Several digits in one picture


@dataclass(frozen=True, eq=False)
class Found:
    """What `find_digits` found in a picture's ink."""

    digits: list[Digit]  # in reading order, at most the limit
    count: int  # how many digits the picture holds (may exceed len(digits))
    ink: np.ndarray  # (H, W) the ink that belongs to some digit (specks dropped)
    dropped: int  # how many specks were dropped


def find_digits(ink: np.ndarray, photo: np.ndarray | None = None, *, to_original: tuple[float, float] = (1.0, 1.0),
                limit: int = MAX_DIGITS) -> Found:
    """Ink (H, W) in [0, 1], paper 0 (step 4's output) → every digit in it, in reading order, each
    through step 5 on its own.

    The ink's pieces (`core.lab.ink.pieces`) that `digit_pieces` keeps are grouped into digits
    (`core.lab.layout.group`); smaller pieces survive inside a digit's box. A picture of one digit
    gives exactly what the single-digit pipeline gives (`drop_specks`, then step 5).
    `photo` (H, W): the upright greyscale picture, for each digit's crop; `to_original`: (x, y) scale
    from these pixels to the original file's, for the boxes; `limit`: at most this many digits are
    put through step 5."""
    ink = np.asarray(ink, dtype=np.float32)
    photo = ink if photo is None else photo
    p = pieces(ink > 0)
    if len(p) == 0:
        raise LatentLabError("there is no ink in this image: draw or upload a digit")
    groups, faint = _digit_groups(ink, p)
    if len(groups) == 1 and not faint:  # one digit: exactly the single-digit pipeline
        return _one_digit(ink, photo, to_original)
    order = layout.reading_order(np.stack([_union(p.boxes[g]) for g in groups]))
    groups = [groups[i] for i in order]
    kept = np.zeros(len(p), dtype=bool)
    for g in groups:
        kept[g] = True
    digits = [_digit(ink, p, g, photo, to_original) for g in groups[:limit]]
    return Found(digits, len(groups), ink * p.mask(kept), int(len(p) - kept.sum()))


def _digit_groups(ink: np.ndarray, p: Pieces) -> tuple[list[np.ndarray], int]:
    """The pieces of each digit (index arrays into `p`, in no particular order), and how many faint
    groups were left out."""
    if len(p) == 1:
        return [np.array([0])], 0
    _, large, small = digit_pieces(p)
    big = np.flatnonzero(large)
    if len(big) > MAX_PIECES:  # noise, not writing: only the largest pieces can be digits
        big = big[np.argsort(-p.area[big], kind="stable")[:MAX_PIECES]]
    groups = [big[g] for g in layout.group(p.boxes[big])]
    # A digit must have strong ink somewhere: a faint smudge is a shadow, not a stroke.
    peak = np.asarray(ndimage.maximum(_pooled_max(ink, p.factor), p.labels, np.arange(1, len(p) + 1)))
    strong = [g for g in groups if peak[g].max() >= MIN_PEAK] or [max(groups, key=lambda g: peak[g].max())]
    faint = len(groups) - len(strong)
    groups = strong
    # Small pieces survive inside a digit's box (the dot of a broken stroke), never on their own.
    boxes = np.stack([_union(p.boxes[g]) for g in groups])
    for i in np.flatnonzero(small):
        b = p.boxes[i]
        inside = np.flatnonzero((b[0] >= boxes[:, 0]) & (b[1] >= boxes[:, 1]) & (b[2] <= boxes[:, 2]) & (b[3] <= boxes[:, 3]))
        if inside.size:
            groups[inside[0]] = np.r_[groups[inside[0]], i]
    return groups, faint


def _pooled_max(a: np.ndarray, f: int) -> np.ndarray:
    """The maximum over f×f blocks (the grid of `Pieces.labels`)."""
    if f == 1:
        return a
    h, w = a.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    return np.pad(a, ((0, hp - h), (0, wp - w))).reshape(hp // f, f, wp // f, f).max(axis=(1, 3))


def _union(boxes: np.ndarray) -> np.ndarray:
    """The box (x0, y0, x1, y1) around boxes (n, 4)."""
    return np.r_[boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)]


def _one_digit(ink: np.ndarray, photo: np.ndarray, to_original: tuple[float, float]) -> Found:
    """All the ink is one digit: specks dropped (`drop_specks`), then step 5."""
    kept, dropped = drop_specks(ink)
    image, steps = fit_box(kept)
    rows, cols = ink_extent(kept)
    box = (cols.start, rows.start, cols.stop, rows.stop)
    p = pieces(kept > 0)
    blob = p.boxes[int(np.argmax(p.area))]
    return Found([_described(box, blob, image, steps, photo, to_original)], 1, kept, dropped)


def _digit(ink: np.ndarray, p: Pieces, members: np.ndarray, photo: np.ndarray, to_original: tuple[float, float]) -> Digit:
    """One digit of several: its pieces' ink alone, its darkest stroke as full ink, through step 5."""
    keep = np.zeros(len(p), dtype=bool)
    keep[members] = True
    x0, y0, x1, y1 = (int(v) for v in _union(p.boxes[members]))
    part = ink[y0:y1, x0:x1] * p.mask(keep, (x0, y0, x1, y1))
    part /= max(float(part.max()), 1e-6)
    image, steps = fit_box(part)
    rows, cols = ink_extent(part)
    blob = p.boxes[members[int(np.argmax(p.area[members]))]]
    return _described((x0 + cols.start, y0 + rows.start, x0 + cols.stop, y0 + rows.stop), blob, image, steps, photo,
                      to_original)


def _described(box: tuple[int, int, int, int], blob: np.ndarray, image: np.ndarray, steps: list, photo: np.ndarray,
               to_original: tuple[float, float]) -> Digit:
    """A `Digit` from its box in the working pixels (and its largest blob's): its crop of the photo, its
    box in the original's pixels, and a note if the blob looks like several digits touching."""
    x0, y0, x1, y1 = box
    m = round(CROP_MARGIN * max(x1 - x0, y1 - y0))
    crop = thumb(photo[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m])
    sx, sy = to_original
    original = (int(np.floor(x0 * sx)), int(np.floor(y0 * sy)), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy)))
    notes = ()
    if layout.looks_like_several(tuple(blob)):
        bw, bh = int(blob[2] - blob[0]), int(blob[3] - blob[1])
        notes = (f"one blob of ink {bw}×{bh} pixels, much wider than tall: probably two or more digits touching. "
                 "Leave a gap between digits so that each is read on its own.",)
    return Digit(original, crop, image, steps, notes)
