"""What the Upload page and `python -m core score` say about a digit under one model.

- its **score**: the reconstruction error, per-image BCE (`anomaly.reconstruction_bce`);
- its **percentile** among the MNIST test digits' scores (`metrics.percentile_of`);
- whether it is **flagged** as unusual: scored above `anomaly.flag_threshold`, the 95th percentile;
- its **label**: the majority label of its k nearest MNIST test digits in the model's code space
  (`neighbours.knn_label`), with those neighbours, nearest first.

A model is given by its functions (a served model's `reconstruct` and `encode`), so this module runs
no model itself and imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.lab import anomaly, metrics
from core.lab.data import as_batch
from core.lab.neighbours import K, knn_label, nearest

Fn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class Reference:
    """One model's view of the MNIST test digits: their scores (N,), codes (N, D) and labels (N,)."""

    scores: np.ndarray
    codes: np.ndarray
    labels: np.ndarray

    @property
    def threshold(self) -> float:
        return anomaly.flag_threshold(self.scores)


@dataclass(frozen=True)
class Verdict:
    score: float  # per-image BCE
    percentile: float  # 0..100: the share of MNIST test digits scoring lower
    flagged: bool  # score above the Upload page's threshold
    label: int  # the k-NN label
    votes: int  # how many of the k neighbours carry that label
    neighbours: tuple[int, ...]  # indices of the k nearest MNIST test digits, nearest first


def reference(reconstruct: Fn, encode: Fn, x_test: np.ndarray, y_test: np.ndarray) -> Reference:
    """Score and encode the MNIST test digits (N, 28, 28[, 1]) once per model."""
    x_test = as_batch(x_test)
    return Reference(anomaly.reconstruction_bce(reconstruct, x_test), encode(x_test), np.array(y_test))  # labels: a copy


def judge(x: np.ndarray, reconstruct: Fn, encode: Fn, ref: Reference, k: int = K) -> list[Verdict]:
    """Digits (M, 28, 28[, 1]) or one (28, 28) → one `Verdict` each, against `ref` (the same model's)."""
    x = as_batch(x)
    if len(x) == 0:
        return []
    scores = anomaly.reconstruction_bce(reconstruct, x)
    codes = encode(x)
    labels = np.atleast_1d(knn_label(ref.codes, ref.labels, codes, k))
    near = nearest(ref.codes, codes, k)  # (M, k)
    threshold = ref.threshold
    return [
        Verdict(float(s), metrics.percentile_of(float(s), ref.scores), bool(s > threshold), int(label),
                int(np.count_nonzero(ref.labels[idx] == label)), tuple(int(i) for i in idx))
        for s, label, idx in zip(scores, labels, near, strict=True)
    ]
