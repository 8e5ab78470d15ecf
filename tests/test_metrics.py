"""Every on-screen number checked against an independent computation."""

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import metrics


def _auroc_by_counting(normal, anomalous):
    # The definition: P(anomalous score > normal score) + ½ P(equal), over all pairs.
    wins = sum((a > n) + 0.5 * (a == n) for a in anomalous for n in normal)
    return wins / (len(normal) * len(anomalous))


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pair_counting_with_ties(seed):
    rng = np.random.default_rng(seed)
    normal = rng.integers(0, 8, size=40).astype(float)  # small integer range: many ties
    anomalous = rng.integers(2, 10, size=30).astype(float)
    assert metrics.auroc(normal, anomalous) == pytest.approx(_auroc_by_counting(normal, anomalous), abs=1e-12)


def test_auroc_extremes_and_errors():
    assert metrics.auroc([0, 1, 2], [3, 4]) == 1.0
    assert metrics.auroc([3, 4], [0, 1, 2]) == 0.0
    assert metrics.auroc([1, 1], [1, 1]) == 0.5
    with pytest.raises(LatentLabError, match="0 normal"):
        metrics.auroc([], [1.0])


def test_bce_and_mse_match_keras_and_numpy():
    import keras

    rng = np.random.default_rng(0)
    x = rng.random((6, 28, 28, 1)).astype(np.float32)
    x_hat = rng.random((6, 28, 28, 1)).astype(np.float32)
    ref = np.asarray(keras.ops.mean(keras.ops.binary_crossentropy(x, x_hat), axis=(1, 2, 3)))
    np.testing.assert_allclose(metrics.per_image_bce(x, x_hat), ref, rtol=1e-5)
    np.testing.assert_allclose(metrics.per_image_mse(x, x_hat), ((x - x_hat) ** 2).reshape(6, -1).mean(1), rtol=1e-6)


def test_psnr_matches_tensorflow_and_numpy():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(metrics.per_image_psnr(x, y), tf.image.psnr(x, y, max_val=1.0).numpy(), rtol=1e-4)
    mse = ((x - y) ** 2).reshape(4, -1).mean(1)
    np.testing.assert_allclose(metrics.per_image_psnr(x[..., 0], y[..., 0]), 10 * np.log10(1 / mse), rtol=1e-5)


def test_identical_images_get_the_capped_psnr_shown_as_infinite():
    clean = np.zeros((2, 28, 28, 1), np.float32)
    psnr = metrics.per_image_psnr(clean, clean)
    assert np.all(psnr == metrics.PSNR_CAP)
    assert metrics.psnr_label(float(psnr[0])) == "∞ dB"
    assert metrics.psnr_label(23.456) == "23.5 dB"


def _noisy_copy(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return np.clip(clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape), 0, 1).astype(np.float32)


def _mnist_pairs(n: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n MNIST test digits (n, 28, 28, 1) and a noisy copy: sparse ink on black, as the page scores."""
    from core.lab.data import load_mnist, to_float

    clean = to_float(load_mnist().x_test[:n])
    return clean, _noisy_copy(clean, sigma, seed)


@pytest.mark.parametrize(("n", "sigma"), [(1, 0.05), (5, 0.3), (7, 1.0)])
def test_ssim_matches_tensorflow(n, sigma):
    """tf.image.ssim is the independent reference: the same Wang et al. SSIM (11×11 Gaussian window,
    σ = 1.5, K1 = 0.01, K2 = 0.03, data range 1, 'valid'), computed by TensorFlow's convolutions."""
    import tensorflow as tf

    uniform = np.random.default_rng(n).random((n, 28, 28, 1)).astype(np.float32)
    for x, y in (_mnist_pairs(n, sigma, seed=n), (uniform, _noisy_copy(uniform, sigma, seed=n))):
        ours = metrics.per_image_ssim(x, y)
        assert ours.shape == (n,)
        np.testing.assert_allclose(ours, tf.image.ssim(x, y, max_val=1.0).numpy(), atol=1e-4)


def test_ssim_of_identical_images_is_one_and_is_symmetric():
    x, y = _mnist_pairs(3, 0.2, seed=0)
    np.testing.assert_allclose(metrics.per_image_ssim(x, x), 1.0, atol=1e-12)
    np.testing.assert_allclose(metrics.per_image_ssim(x, y), metrics.per_image_ssim(y, x), atol=1e-12)
    assert np.all(metrics.per_image_ssim(x, y) < 1)


def test_image_metrics_reject_mismatched_stacks():
    for fn in (metrics.per_image_psnr, metrics.per_image_ssim):
        with pytest.raises(LatentLabError, match=r"same size, got \(2, 28, 28, 1\) and \(3, 28, 28, 1\)"):
            fn(np.zeros((2, 28, 28, 1)), np.zeros((3, 28, 28, 1)))


def test_percentile_of():
    ref = np.arange(100)
    assert metrics.percentile_of(50, ref) == pytest.approx(50.5)  # 50 below, the tie counts half
    assert metrics.percentile_of(1000, ref) == 100.0
    assert metrics.percentile_of(-1, ref) == 0.0
