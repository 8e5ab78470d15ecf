import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import denoise, noise
from core.lab.models import build
from core.lab.spec import ModelSpec


@pytest.fixture(scope="module")
def identity_like():
    """An untrained conv AE stands in for a model: these tests check the plumbing, not quality."""
    return build(ModelSpec("conv_ae", latent_dim=8))


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
    assert np.isnan(noisy[0])  # no noise: nothing changed, no finite PSNR to average
    assert noisy[1] > noisy[2]  # more noise, lower PSNR
    assert np.all(np.isfinite(curves["m"]))  # a model's output is scored at every level


def test_sweep_noisy_mean_skips_untouched_images(identity_like):
    """Light masking leaves some digits untouched (only blank blocks erased); the noisy curve is the
    mean PSNR over the changed ones, checked against numpy on the same seeded corruption."""
    levels, n = (0.0, 0.1), 60
    curves = denoise.psnr_sweep({"m": identity_like}, "mask", levels=levels, n=n)
    clean = denoise.sweep_sample(n)
    noisy = noise.mask_blocks(clean, 0.1, seed=denoise.SWEEP_SEED + 1)
    mse = ((noisy - clean) ** 2).reshape(n, -1).mean(axis=1)
    changed = mse > 0
    assert 0 < (~changed).sum() < n  # the case this guards: some images untouched, some not
    expected = (10 * np.log10(1 / mse[changed])).mean()
    assert curves["noisy input"][1] == pytest.approx(expected, rel=1e-4)


def test_transfer_table_reads_each_sweep_at_its_level():
    sweeps = {
        "gaussian": {"level": np.array([0.0, 0.5]), "noisy input": np.array([np.nan, 9.0]), "plain": np.array([20.0, 15.0]), "dae": np.array([21.0, 20.0])},
        "mask": {"level": np.array([0.0, 0.3]), "noisy input": np.array([np.nan, 16.0]), "plain": np.array([20.0, 14.0]), "dae": np.array([21.0, 15.5])},
    }
    rows = denoise.transfer_table(sweeps, {"gaussian": 0.5, "mask": 0.3}, gain=("dae", "plain"))
    assert rows == [
        {"noise": "gaussian", "level": 0.5, "noisy input": 9.0, "plain": 15.0, "dae": 20.0, "gain (dB)": 5.0},
        {"noise": "mask", "level": 0.3, "noisy input": 16.0, "plain": 14.0, "dae": 15.5, "gain (dB)": 1.5},
    ]
    with pytest.raises(LatentLabError, match="no level 0.7.*0, 0.5"):
        denoise.transfer_table(sweeps, {"gaussian": 0.7})
    with pytest.raises(LatentLabError, match="'salt_and_pepper'.*gaussian, mask"):
        denoise.transfer_table(sweeps, {"salt_and_pepper": 0.2})


def test_transfer_levels_are_sweep_points():
    for kind, level in denoise.TRANSFER_LEVELS.items():
        assert np.isclose(denoise.SWEEP_LEVELS[kind], level).any(), kind


def test_sweep_sample_is_fixed():
    np.testing.assert_array_equal(denoise.sweep_sample(10), denoise.sweep_sample(10))


def test_page_table_shows_each_noise_against_the_gaussian_trained_model():
    """AppTest: the page's transfer table has one row per noise type, read off that type's sweep at
    the default level, and the Gaussian-trained denoiser gains most where it was trained."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=90)  # the first run imports TensorFlow
    at.run()
    at.switch_page("views/denoise.py").run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "gain (dB)" in d.value.columns)  # the transfer table
    assert list(table["noise"]) == ["Gaussian", "Salt and pepper", "Masking (erased blocks)"]
    assert list(table["level"]) == list(denoise.TRANSFER_LEVELS.values())
    from core.lab.zoo import TITLES

    # The honest pair: the same network trained on noisy digits and on clean ones.
    dae, plain = TITLES["denoise"], TITLES["denoise_clean"]
    np.testing.assert_allclose(table["gain (dB)"], table[dae] - table[plain], rtol=1e-9)
    assert table["gain (dB)"].iloc[0] > 3  # σ = 0.5 is the noise it was trained on
    assert table["noisy input"].iloc[0] == pytest.approx(9.4, abs=0.1)  # the figure for σ = 0.5
