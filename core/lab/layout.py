"""Many digits in one picture: which pieces of ink make up which digit, and in what order to read them.

Box arithmetic only (no pixels): every piece of ink is a box (x0, y0, x1, y1), x1 and y1 exclusive,
from `core.lab.ink.pieces`. Pieces that belong together are merged into one digit:

- **stacked**: one above the other, mostly overlapping left–right, with a small gap (a 5's detached
  bar, a dot, a stroke broken across);
- **overlapping**: their boxes share much of the smaller one's area (a piece inside a 0);
- **a fragment nearly touching**: a piece much shorter than its neighbour, almost touching it (a 7's
  bar broken off at the corner, a 5's bar sticking out to the right).

Merging never makes a box much wider than tall (no digit is; a fragment whose box touches its
neighbour's may stick out further), and on a sheet (three or more
groups) two digit-sized groups of similar height are never merged: they are two digits. Merged boxes can meet new
partners, so merging repeats until nothing changes.

Reading order: groups whose vertical centres lie within half a row's height of the row's centre form
a row; rows top to bottom, each left to right.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csgraph, csr_matrix

STACK_OVERLAP = 0.5  # stacked: left–right overlap ≥ this × the narrower width ...
STACK_GAP = 0.3  # ... a vertical gap ≤ this × the taller height ...
STACK_SHARED = 0.5  # ... and a vertical overlap ≤ this × the shorter height (else they sit side by side)
SHARED_AREA = 0.3  # overlapping: the boxes' intersection ≥ this × the smaller box's area
FRAGMENT_HEIGHT = 0.6  # a fragment is at most this × its neighbour's height ...
FRAGMENT_GAP = 0.12  # ... and within this × that height of it
MERGED_ASPECT = 1.25  # a merged box is at most this × as wide as it is tall ...
FRAGMENT_ASPECT = 2.0  # ... or this, for a fragment whose box touches or overlaps its neighbour's
SHEET = 3  # with at least this many groups the picture is a sheet of digits ...
DIGIT_SIZED = 0.7  # ... where groups at least this × the median height are whole digits
ROW_SPREAD = 0.5  # a group joins a row if its centre is within this × the row's mean height of the row's centre
WIDE = 1.3  # a group wider than this × its height is probably two digits touching


def _pairs(boxes: np.ndarray, heights_median: float | None) -> np.ndarray:
    """Which groups belong together: (n, n) bool, symmetric, for boxes (n, 4) float."""
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    w, h = x1 - x0, y1 - y0
    # Pairwise (n, n) quantities: overlap along each axis (negative = the gap between them).
    ox = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    oy = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    w_min, h_min = np.minimum(w[:, None], w[None]), np.minimum(h[:, None], h[None])
    h_max = np.maximum(h[:, None], h[None])
    stacked = (ox >= STACK_OVERLAP * w_min) & (-oy <= STACK_GAP * h_max) & (oy <= STACK_SHARED * h_min)
    shared = np.clip(ox, 0, None) * np.clip(oy, 0, None)
    overlapping = shared >= SHARED_AREA * np.minimum((w * h)[:, None], (w * h)[None])
    gap = np.maximum(-ox, -oy)  # ≤ 0 when the boxes touch or overlap
    fragment = (h_min <= FRAGMENT_HEIGHT * h_max) & (gap <= FRAGMENT_GAP * h_max)
    merged_w = np.maximum(x1[:, None], x1[None]) - np.minimum(x0[:, None], x0[None])
    merged_h = np.maximum(y1[:, None], y1[None]) - np.minimum(y0[:, None], y0[None])
    ok = ((stacked | overlapping | fragment) & (merged_w <= MERGED_ASPECT * merged_h)) | (
        fragment & (gap <= 0) & (merged_w <= FRAGMENT_ASPECT * merged_h))
    if heights_median is not None:  # a sheet: two whole digits stay two digits
        whole = h >= DIGIT_SIZED * heights_median
        ok &= ~(whole[:, None] & whole[None] & (h_min > FRAGMENT_HEIGHT * h_max))
    np.fill_diagonal(ok, False)
    return ok


def _union_box(boxes: np.ndarray) -> np.ndarray:
    return np.r_[boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)]


def group(boxes: np.ndarray) -> list[list[int]]:
    """Piece boxes (n, 4) (x0, y0, x1, y1) → groups of piece indices, one group per digit, each
    sorted, in no particular order (see `reading_order`)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    members = [[i] for i in range(len(boxes))]
    current = boxes.copy()
    while len(current) > 1:
        median = float(np.median(current[:, 3] - current[:, 1])) if len(current) >= SHEET else None
        ok = _pairs(current, median)
        if not ok.any():
            break
        n, label = csgraph.connected_components(csr_matrix(ok), directed=False)
        members = [sorted(i for g in np.flatnonzero(label == k) for i in members[g]) for k in range(n)]
        current = np.stack([_union_box(boxes[m]) for m in members])
    return members


def reading_order(boxes: np.ndarray) -> list[int]:
    """Group boxes (n, 4) → their indices in reading order: rows top to bottom, each left to right."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cy, h = (boxes[:, 1] + boxes[:, 3]) / 2, boxes[:, 3] - boxes[:, 1]
    rows: list[list[int]] = []
    for i in np.argsort(cy, kind="stable"):
        if rows:
            row = rows[-1]
            if abs(cy[i] - cy[row].mean()) <= ROW_SPREAD * h[row].mean():
                row.append(int(i))
                continue
        rows.append([int(i)])
    rows.sort(key=lambda row: cy[row].mean())
    return [i for row in rows for i in sorted(row, key=lambda j: (boxes[j, 0] + boxes[j, 2]) / 2)]


def looks_like_several(box: tuple[float, float, float, float]) -> bool:
    """A blob of ink (one connected piece) whose box is much wider than tall: probably two or more
    digits touching (no single digit is)."""
    x0, y0, x1, y1 = box
    return (x1 - x0) > WIDE * (y1 - y0)
