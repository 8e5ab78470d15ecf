import numpy as np
import pytest

from core.lab.models import BUILDERS, VAE, bernoulli_nll, build, decoder_of, encoder_of, kl_divergence
from core.lab.spec import KINDS, ModelSpec

SPECS = {
    "lesson": ModelSpec("lesson"),
    "conv_ae": ModelSpec("conv_ae", latent_dim=32),
    "ae_2d": ModelSpec("ae_2d", latent_dim=2),
    "denoise": ModelSpec("denoise", latent_dim=32, noise_factor=0.5),
    "vae": ModelSpec("vae", latent_dim=2),
}


def test_registry_covers_every_kind():
    assert set(BUILDERS) == set(KINDS) == set(SPECS)


@pytest.mark.parametrize("kind", KINDS)
def test_shapes(kind):
    spec = SPECS[kind]
    model = build(spec)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    x_hat = np.asarray(model(x, training=False))
    assert x_hat.shape == (3, 28, 28, 1)
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    code = encoder_of(model)(x)
    if isinstance(model, VAE):
        z_mean, z_log_var = code
        assert z_mean.shape == z_log_var.shape == (3, spec.latent_dim)
        code = z_mean
    # The denoiser's code is a spatial feature map; every other code is a vector.
    assert code.shape == ((3, 7, 7, spec.latent_dim) if kind == "denoise" else (3, spec.latent_dim))
    assert decoder_of(model)(code).shape == (3, 28, 28, 1)


def test_lesson_model_is_the_lesson_architecture():
    model = build(SPECS["lesson"])
    dense = [layer for sub in (encoder_of(model), decoder_of(model)) for layer in sub.layers if layer.__class__.__name__ == "Dense"]
    assert [(d.units, d.activation.__name__) for d in dense] == [
        (64, "relu"), (32, "relu"), (16, "relu"), (32, "relu"), (64, "relu"), (784, "sigmoid")
    ]


def test_kl_matches_numpy_closed_form_and_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 3)).astype(np.float32)
    log_var = rng.normal(scale=0.5, size=(5, 3)).astype(np.float32)
    var = np.exp(log_var)
    # KL(N(mu, var) || N(0, 1)) per dimension = log(1/sigma) + (var + mu^2)/2 - 1/2
    ref = (-0.5 * log_var + 0.5 * (var + mu**2) - 0.5).sum(axis=1)
    np.testing.assert_allclose(np.asarray(kl_divergence(mu, log_var)), ref, rtol=1e-5)
    # Independent check by sampling: E_q[log q(z) - log p(z)].
    z = mu[0] + np.sqrt(var[0]) * rng.standard_normal((400_000, 3))
    log_q = -0.5 * (((z - mu[0]) ** 2) / var[0] + log_var[0] + np.log(2 * np.pi)).sum(1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(1)
    assert np.mean(log_q - log_p) == pytest.approx(ref[0], abs=0.02)


def test_bernoulli_nll_is_summed_bce():
    rng = np.random.default_rng(1)
    x = rng.random((2, 28, 28, 1)).astype(np.float32)
    p = np.clip(rng.random((2, 28, 28, 1)), 0.01, 0.99).astype(np.float32)
    ref = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(bernoulli_nll(x, p)), ref, rtol=1e-4)


def test_vae_train_and_test_steps_report_three_losses():
    spec = ModelSpec("vae", latent_dim=2, epochs=1, batch_size=64)
    vae = build(spec, steps_per_epoch=2)
    x = np.random.default_rng(0).random((128, 28, 28, 1)).astype(np.float32)
    logs = vae.fit(x, epochs=1, batch_size=64, verbose=0).history
    assert set(logs) == {"loss", "reconstruction_loss", "kl_loss"}
    ev = vae.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    assert ev["loss"] == pytest.approx(ev["reconstruction_loss"] + ev["kl_loss"], rel=1e-4)


@pytest.mark.parametrize("kind", ["vae", "conv_ae"])
def test_save_load_round_trip(tmp_path, kind):
    import keras

    spec = SPECS[kind]
    model = build(spec)
    x = np.random.default_rng(2).random((4, 28, 28, 1)).astype(np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    if isinstance(model, VAE):
        assert loaded.beta == model.beta and loaded.seed == model.seed
        for a, b in zip(encoder_of(loaded)(x), encoder_of(model)(x), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_sampling_is_seeded():
    from core.lab.models import Sampling

    mu, log_var = np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32)
    a = np.asarray(Sampling(seed=7)([mu, log_var]))
    b = np.asarray(Sampling(seed=7)([mu, log_var]))
    c = np.asarray(Sampling(seed=8)([mu, log_var]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
