"""What digit does the model think it is? The label of its nearest MNIST digits in the model's code space.

`knn_label(codes, labels, query, k)` votes among the k reference codes nearest to the query (Euclidean
distance): a code that carries the digit's identity puts a digit among others of its kind.
"""

from __future__ import annotations

import numpy as np

from core.errors import LatentLabError

K = 5  # neighbours that vote
CHUNK = 500  # queries per (CHUNK, N) distance matrix: keeps memory flat


def nearest(codes: np.ndarray, query: np.ndarray, k: int = K) -> np.ndarray:
    """Indices (M, k) of the k codes nearest to each query, nearest first. codes (N, ...), query (M, ...)."""
    codes = np.asarray(codes, np.float32).reshape(len(codes), -1)  # (N, D)
    query = np.asarray(query, np.float32).reshape(len(query), -1)  # (M, D)
    if query.shape[1] != codes.shape[1]:
        raise LatentLabError(f"query codes have {query.shape[1]} numbers, the reference codes {codes.shape[1]}")
    if not 1 <= k <= len(codes):
        raise LatentLabError(f"k must be between 1 and the {len(codes)} reference codes, got {k!r}")
    sq = (codes**2).sum(1)  # (N,)
    out = []
    for start in range(0, len(query), CHUNK):
        q = query[start : start + CHUNK]
        d2 = (q**2).sum(1)[:, None] - 2 * q @ codes.T + sq[None, :]  # (m, N) squared distances
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]  # the k nearest, unordered
        order = np.take_along_axis(d2, part, 1).argsort(1, kind="stable")
        out.append(np.take_along_axis(part, order, 1))
    return np.concatenate(out) if out else np.empty((0, k), dtype=int)


def knn_label(codes: np.ndarray, labels: np.ndarray, query: np.ndarray, k: int = K) -> np.ndarray | int:
    """The majority label among each query's k nearest codes; a tie goes to the tied label whose member is
    nearest. codes (N, D), labels (N,), query (M, D) → labels (M,); a single query (D,) → one int."""
    single = np.ndim(query) == np.ndim(codes) - 1
    q = np.asarray(query)[None] if single else np.asarray(query)
    labels = np.asarray(labels)
    neighbours = labels[nearest(codes, q, k)]  # (M, k), nearest first
    out = np.empty(len(q), dtype=int)
    for i, row in enumerate(neighbours):
        votes = np.bincount(row, minlength=int(labels.max()) + 1)
        tied = votes == votes.max()
        out[i] = next(int(v) for v in row if tied[v])
    return int(out[0]) if single else out
