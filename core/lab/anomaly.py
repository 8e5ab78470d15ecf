"""Anomaly detection by reconstruction: a model trained on "normal" data explains normal inputs
well and unusual ones badly, so its error is an anomaly score (higher = more unusual).

Scores (each (N,)): "bce" and "mse" are per-pixel reconstruction errors for any autoencoder;
"neg_elbo" is the VAE's −ELBO in nats/image (reconstruction + KL, one seeded sample).

Evaluation protocol: the MNIST test set is split in two fixed halves. Thresholds are chosen on the
*validation* half of the normal scores; every figure (precision, recall, ROC) uses the other half,
so the threshold is never tuned on the data it is judged on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import LatentLabError
from core.lab import metrics
from core.lab.data import as_batch, fashion_for_pages, mnist_for_pages, to_float

SCORES = ("bce", "mse", "neg_elbo")
SCORE_LABELS = {"bce": "reconstruction BCE per pixel", "mse": "reconstruction MSE per pixel", "neg_elbo": "−ELBO (nats/image)"}
ANOMALY_SETS = {
    "fashion": "Fashion-MNIST test images (clothing)",
    "other_digits": "the other digits (one-class mode)",
    "noise": "uniform random noise",
    "rotated": "digits rotated by 90°",
    "flipped": "digits mirrored left–right",
}
ANOMALY_SHORT = {  # the same sets named in a few words, for legends
    "fashion": "Fashion-MNIST", "other_digits": "the other digits", "noise": "uniform random noise",
    "rotated": "digits rotated by 90°", "flipped": "digits mirrored left–right",
}
SPLIT_SEED = 7
# The Upload page (and `python -m core score`) flags a digit as unusual when its score (per-image BCE) is
# above this percentile of the model's scores on the MNIST test digits: 5 % of MNIST's own are flagged.
FLAG_PERCENTILE = 95.0


def score(model, x: np.ndarray, kind: str = "bce") -> np.ndarray:
    from core.lab import inference  # Keras: imported here, so the thresholds and served scores need no TensorFlow
    from core.lab.models import VAE

    if kind not in SCORES:
        raise LatentLabError(f"unknown anomaly score {kind!r}; valid scores: {', '.join(SCORES)}")
    if kind == "neg_elbo":
        if not isinstance(model, VAE):
            raise LatentLabError("the −ELBO score needs a VAE; use 'bce' or 'mse' for a plain autoencoder")
        rec, kl = inference.neg_elbo(model, x)
        return rec + kl
    x_hat = inference.reconstruct(model, x)
    return {"bce": metrics.per_image_bce, "mse": metrics.per_image_mse}[kind](as_batch(x), x_hat)


def _halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of range(n) into (validation, test) index arrays."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


def normal_images(digit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) MNIST test images of the normal class: all digits, or one digit (the pages'
    test images: the full test set, or the shipped subset offline)."""
    mnist = mnist_for_pages()
    x = mnist.x_test if digit is None else mnist.x_test[mnist.y_test == digit]
    val, test = _halves(len(x))
    return to_float(x[val]), to_float(x[test])


def anomalous_images(kind: str, digit: int | None, n: int = 2000) -> np.ndarray:
    """Up to n images (float32 (n, 28, 28, 1)) of anomaly set `kind` (see ANOMALY_SETS).

    Rotated and flipped digits come from the normal class's *test* half, so a one-class model sees
    its own digit turned around, not another digit.
    """
    rng = np.random.default_rng(SPLIT_SEED + 1)
    if kind == "fashion":
        x = to_float(fashion_for_pages().x_test)
    elif kind == "other_digits":
        if digit is None:
            raise LatentLabError("'other_digits' needs a normal digit (one-class mode); choose one first")
        mnist = mnist_for_pages()
        x = to_float(mnist.x_test[mnist.y_test != digit])
    elif kind == "noise":
        return rng.random((min(n, 1000), 28, 28, 1), dtype=np.float32)
    elif kind in ("rotated", "flipped"):
        x = normal_images(digit)[1]
        x = np.rot90(x, k=1, axes=(1, 2)) if kind == "rotated" else x[:, :, ::-1]
        x = np.ascontiguousarray(x)
    else:
        raise LatentLabError(f"unknown anomaly set {kind!r}; valid sets: {', '.join(ANOMALY_SETS)}")
    if len(x) > n:
        x = x[np.sort(rng.choice(len(x), n, replace=False))]
    return x


@dataclass(frozen=True)
class Confusion:
    """Counts at a threshold: 'positive' = flagged as anomalous (score > threshold)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def false_positive_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else float("nan")


def confusion(normal: np.ndarray, anomalous: np.ndarray, threshold: float) -> Confusion:
    normal, anomalous = np.asarray(normal), np.asarray(anomalous)
    tp = int(np.count_nonzero(anomalous > threshold))
    fp = int(np.count_nonzero(normal > threshold))
    return Confusion(tp=tp, fp=fp, tn=len(normal) - fp, fn=len(anomalous) - tp)


def roc_curve(normal: np.ndarray, anomalous: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate, thresholds), sweeping the threshold from +∞ down
    through every distinct score; starts at (0, 0) and ends at (1, 1)."""
    scores = np.concatenate([normal, anomalous])
    is_anom = np.concatenate([np.zeros(len(normal)), np.ones(len(anomalous))])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_anom = scores[order], is_anom[order]
    # Only emit a point where the score changes, so tied scores move the curve diagonally.
    last_of_run = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(is_anom)[last_of_run]
    fps = (last_of_run + 1) - tps
    tpr = np.r_[0.0, tps / len(anomalous)]
    fpr = np.r_[0.0, fps / len(normal)]
    return fpr, tpr, np.r_[np.inf, scores[last_of_run]]


def default_threshold(normal_validation: np.ndarray, percentile: float = 95.0) -> float:
    """The score above which `100 - percentile` % of normal validation images would be flagged."""
    return float(np.percentile(normal_validation, percentile))


def flag_threshold(reference: np.ndarray) -> float:
    """The Upload page's threshold: the FLAG_PERCENTILE-th percentile of a model's scores on the MNIST
    test digits (`reference`, (N,)). A digit scoring above it is flagged as unusual."""
    return default_threshold(reference, FLAG_PERCENTILE)


def reconstruction_bce(reconstruct: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """The Upload page's score, per-image BCE, with any reconstruction function (a served model's
    `reconstruct`, images → x̂ (N, 28, 28, 1)): images (N, 28, 28[, 1]) or one (28, 28) → (N,)."""
    x = as_batch(x)
    return metrics.per_image_bce(x, reconstruct(x))
