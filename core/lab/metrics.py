"""Numbers shown on screen and in the evaluate table, in numpy only (each one tested against an
independent reference in tests/test_metrics.py).

Images are float arrays in [0, 1] of shape (N, 28, 28) or (N, 28, 28, 1); per-image functions
return (N,).
"""

from __future__ import annotations

import numpy as np

from core.errors import LatentLabError

EPS = 1e-7  # the same clipping Keras applies inside binary_crossentropy


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def per_image_bce(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Mean per-pixel binary cross-entropy −[x log x̂ + (1−x) log(1−x̂)], in nats per pixel."""
    x, p = _flat(x), np.clip(_flat(x_hat), EPS, 1 - EPS)
    return -(x * np.log(p) + (1 - x) * np.log1p(-p)).mean(axis=1)


def per_image_mse(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Mean per-pixel squared error."""
    return ((_flat(x) - _flat(x_hat)) ** 2).mean(axis=1)


def per_image_psnr(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10·log10(1 / MSE)."""
    return 10 * np.log10(1.0 / np.maximum(per_image_mse(x, x_hat), 1e-12))


def auroc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve for 'higher score = more anomalous'.

    Computed as the Mann–Whitney rank statistic: the probability that a random anomalous score
    exceeds a random normal one, ties counting one half. O(n log n).
    """
    normal, anomalous = np.asarray(normal, float).ravel(), np.asarray(anomalous, float).ravel()
    if len(normal) == 0 or len(anomalous) == 0:
        raise LatentLabError(f"AUROC needs both classes; got {len(normal)} normal and {len(anomalous)} anomalous")
    scores = np.concatenate([normal, anomalous])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # Average the ranks of tied scores.
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first[counts > 1], counts[counts > 1], strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2
    n0, n1 = len(normal), len(anomalous)
    u = ranks[n0:].sum() - n1 * (n1 + 1) / 2
    return float(u / (n0 * n1))


def percentile_of(score: float, reference: np.ndarray) -> float:
    """Percentage of `reference` scores strictly below `score` (ties count half): 0..100."""
    reference = np.asarray(reference, float)
    below = np.count_nonzero(reference < score) + 0.5 * np.count_nonzero(reference == score)
    return float(100.0 * below / len(reference))
