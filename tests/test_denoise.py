import numpy as np
import pytest

from core import denoise
from core.models import build
from core.spec import ModelSpec


@pytest.fixture(scope="module")
def identity_like():
    """An untrained conv AE stands in for a model: these tests check the plumbing, not quality."""
    return build(ModelSpec("conv_ae", latent_dim=8))


def test_psnr_ssim_against_numpy():
    rng = np.random.default_rng(0)
    a = rng.random((3, 28, 28, 1)).astype(np.float32)
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    psnr, ssim = denoise.psnr_ssim(a, b)
    mse = ((a - b) ** 2).reshape(3, -1).mean(1)
    np.testing.assert_allclose(psnr, 10 * np.log10(1 / mse), rtol=1e-4)
    assert np.all(ssim < 1) and np.all(ssim > 0.5)
    same_psnr, same_ssim = denoise.psnr_ssim(a, a)
    assert np.all(same_psnr == 100.0) and np.allclose(same_ssim, 1.0)


def test_denoise_one_scores_noisy_and_each_model(identity_like):
    clean = np.zeros((28, 28), np.float32)
    clean[6:22, 12:16] = 1.0
    out = denoise.denoise_one({"m": identity_like}, clean, "gaussian", 0.5, seed=3)
    assert [s.name for s in out] == ["noisy input", "m"]
    assert all(s.image.shape == (28, 28) for s in out)
    expected_noisy = np.clip(clean.reshape(1, 28, 28, 1) + 0.5 * np.random.default_rng(3).standard_normal((1, 28, 28, 1)), 0, 1)[0, ..., 0]
    np.testing.assert_allclose(out[0].image, expected_noisy, atol=1e-6)
    mse = ((out[0].image - clean) ** 2).mean()
    assert out[0].psnr == pytest.approx(10 * np.log10(1 / mse), rel=1e-4)


def test_sweep_shapes_and_monotone_noisy_curve(identity_like):
    curves = denoise.psnr_sweep({"m": identity_like}, "salt_and_pepper", levels=(0.0, 0.1, 0.3), n=20)
    assert set(curves) == {"level", "noisy input", "m"}
    assert all(len(v) == 3 for v in curves.values())
    noisy = curves["noisy input"]
    assert noisy[0] == 100.0 and noisy[0] > noisy[1] > noisy[2]  # more noise, lower PSNR


def test_sweep_sample_is_fixed():
    np.testing.assert_array_equal(denoise.sweep_sample(10), denoise.sweep_sample(10))
