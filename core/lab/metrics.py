"""Numbers shown on screen and in the evaluate table, in numpy only (each one tested against an
independent reference in tests/test_metrics.py).

Images are float arrays in [0, 1] of shape (N, 28, 28) or (N, 28, 28, 1); per-image functions
return (N,).
"""

from __future__ import annotations

import numpy as np

from core.errors import LatentLabError

EPS = 1e-7  # the same clipping Keras applies inside binary_crossentropy
PSNR_CAP = 100.0  # dB, given to identical images, whose PSNR is infinite
# SSIM as Wang et al. (2004) define it, with their constants (also tf.image.ssim's defaults).
SSIM_WINDOW = 11  # side of the Gaussian window, in pixels
SSIM_SIGMA = 1.5  # its standard deviation
SSIM_K1, SSIM_K2 = 0.01, 0.03  # stabilisers: c1 = (K1·L)², c2 = (K2·L)² for data range L = 1


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
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10·log10(1 / MSE), higher is better.

    Identical images (MSE = 0) have infinite PSNR; they get PSNR_CAP, which `psnr_label` shows as ∞."""
    x, x_hat = _same_stacks(x, x_hat)
    mse = per_image_mse(x, x_hat)
    with np.errstate(divide="ignore"):
        return np.minimum(10 * np.log10(1.0 / mse), PSNR_CAP)


def psnr_label(psnr: float) -> str:
    """How a PSNR reads on screen: "23.4 dB", or "∞ dB" for an identical image (PSNR_CAP is a
    stand-in for infinity, not a measurement)."""
    return "∞ dB" if psnr >= PSNR_CAP else f"{psnr:.1f} dB"


def _same_stacks(x: np.ndarray, x_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, x_hat = np.asarray(x), np.asarray(x_hat)
    if x.shape != x_hat.shape or x.ndim < 3:
        raise LatentLabError(f"comparing images needs two stacks (N, H, W[, 1]) of the same size, got {x.shape} and {x_hat.shape}")
    return x, x_hat


def _gaussian_window(n: int, size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """(n − size + 1, n): row i is the normalised 1-D Gaussian over pixels i … i + size − 1, so
    `W @ a @ W.T` is the 'valid' 2-D Gaussian filter of an (n, n) image (the window is separable)."""
    g = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
    g /= g.sum()
    w = np.zeros((n - size + 1, n))
    for i in range(n - size + 1):
        w[i, i : i + size] = g
    return w


def per_image_ssim(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Structural similarity (Wang et al. 2004) of each pair, in [-1, 1]; 1 = identical.

    Local means μ, variances σ² and covariance σ_xy come from an 11×11 Gaussian window (σ = 1.5)
    at every position where it fits inside the image ('valid'); SSIM is the mean over positions of
    (2μ_x μ_y + c1)(2σ_xy + c2) / ((μ_x² + μ_y² + c1)(σ_x² + σ_y² + c2)), data range 1.
    """
    x, x_hat = _same_stacks(x, x_hat)
    a, b = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    if a.ndim == 4:
        a, b = a[..., 0], b[..., 0]  # (N, H, W, 1) → (N, H, W)
    h, w = a.shape[1:]
    wh, ww = _gaussian_window(h), _gaussian_window(w)

    def local_mean(v):  # (N, H, W) → (N, H − 10, W − 10)
        return wh @ v @ ww.T

    c1, c2 = SSIM_K1**2, SSIM_K2**2
    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a = local_mean(a * a) - mu_a**2
    var_b = local_mean(b * b) - mu_b**2
    cov = local_mean(a * b) - mu_a * mu_b
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    structure = (2 * cov + c2) / (var_a + var_b + c2)
    return (luminance * structure).mean(axis=(1, 2))


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
