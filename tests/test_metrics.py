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


def test_psnr_matches_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(metrics.per_image_psnr(x, y), tf.image.psnr(x, y, max_val=1.0).numpy(), rtol=1e-4)


def test_percentile_of():
    ref = np.arange(100)
    assert metrics.percentile_of(50, ref) == pytest.approx(50.5)  # 50 below, the tie counts half
    assert metrics.percentile_of(1000, ref) == 100.0
    assert metrics.percentile_of(-1, ref) == 0.0
