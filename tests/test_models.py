import numpy as np
import pytest

from core.lab.models import BUILDERS, VAE, build, decoder_of, encoder_of
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
