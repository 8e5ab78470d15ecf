"""Fidelity of the upload pipeline: MNIST test digits rendered as photos of paper (upscaled,
inverted to dark ink on light paper, shifted, padded, blurred, unevenly lit, noisy, JPEG) come back
close to the originals, and the shipped autoencoder finds them no harder to rebuild.

Figures on 500 digits are printed by `python bench/bench_preprocess.py --fidelity 500`.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.lab import anomaly
from core.lab.data import load_mnist
from core.lab.preprocess import from_file
from core.lab.samples import photo_bytes, random_photo

N = 80  # digits; ~5 s to render and preprocess
ONE_PIXEL_SHIFT_MAE = 0.065  # mean |x − x shifted by one column| over MNIST test digits (measured)


@pytest.fixture(scope="module")
def photos():
    x = load_mnist().x_test.astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    idx = rng.choice(len(x), N, replace=False)
    back = np.stack([from_file(photo_bytes(x[i], random_photo(rng), seed=int(i)), f"#{i}").image for i in idx])
    return x, idx, back


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic (largest gap between the empirical CDFs)."""
    grid = np.sort(np.r_[a, b])
    return float(np.max(np.abs(np.searchsorted(np.sort(a), grid, side="right") / len(a)
                               - np.searchsorted(np.sort(b), grid, side="right") / len(b))))


def test_ks_statistic_against_a_hand_count():
    assert _ks(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])) == 0.0
    assert _ks(np.array([1.0, 2]), np.array([3.0, 4])) == 1.0
    assert _ks(np.array([1.0, 2, 3, 4]), np.array([3.5, 5, 6, 7])) == pytest.approx(0.75)  # at 3: 3/4 vs 0


def test_the_one_pixel_yardstick():
    x = load_mnist().x_test[:1000].astype(np.float32) / 255.0
    assert np.abs(np.roll(x, 1, axis=2) - x).mean() == pytest.approx(ONE_PIXEL_SHIFT_MAE, abs=0.005)


def test_photos_come_back_close_to_the_originals(photos):
    x, idx, back = photos
    mae = np.abs(back - x[idx]).mean(axis=(1, 2))  # (N,) mean absolute pixel difference
    assert mae.mean() < 0.045  # measured 0.030 on 500 digits
    assert np.percentile(mae, 90) < ONE_PIXEL_SHIFT_MAE  # even the worst tenth is within a 1-pixel shift
    assert np.mean(mae < ONE_PIXEL_SHIFT_MAE) >= 0.9


def test_reconstruction_errors_are_distributed_like_the_originals(photos, shipped_store):
    from core.lab.zoo import SHIPPED

    x, idx, back = photos
    model = shipped_store.get(SHIPPED["conv_ae"])
    original, photo = anomaly.score(model, x[idx], "bce"), anomaly.score(model, back, "bce")
    assert 0.9 < np.median(photo) / np.median(original) < 1.15
    assert _ks(original, photo) < 0.2  # below the 5 % critical value for two samples of 80 (≈ 0.21)


@pytest.fixture(scope="module")
def shipped_store(tmp_path_factory):
    """The weights in assets/ and nothing else: no training, no user cache."""
    from core.serving.store import ASSETS_DIR, ModelStore

    return ModelStore(cache_dir=tmp_path_factory.mktemp("cache"), assets_dir=ASSETS_DIR, allow_training=False)
