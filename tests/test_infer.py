"""core.serving.infer: the served model answers exactly as the lab's plain Keras reference does."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import inference
from core.lab.data import load_mnist, to_float
from core.lab.spec import ModelSpec
from core.serving import infer
from core.serving.store import ModelStore

TINY = dict(epochs=1, batch_size=128, train_size=256)


TRAINED = [ModelSpec("lesson", latent_dim=4, **TINY), ModelSpec("lesson", latent_dim=3, **TINY),
           ModelSpec("vae", latent_dim=2, **TINY), ModelSpec("denoise", latent_dim=4, noise_factor=0.5, **TINY)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = ModelStore(cache_dir=tmp_path_factory.mktemp("cache"))
    for spec in TRAINED:  # serving never trains: train them first, as the Training lab would
        store.get(spec)
    return infer.Server(store)


@pytest.fixture(scope="module")
def x():
    return to_float(load_mnist().x_test[:40])  # (40, 28, 28, 1)


@pytest.mark.parametrize("spec", [ModelSpec("lesson", latent_dim=4, **TINY), ModelSpec("vae", latent_dim=2, **TINY),
                                  ModelSpec("denoise", latent_dim=4, noise_factor=0.5, **TINY)], ids=str)
def test_served_keras_model_matches_the_lab_reference(server, x, spec):
    served = server.served(spec)
    model = server.model(spec)
    assert served.engine == "keras"
    np.testing.assert_allclose(served.reconstruct(x), inference.reconstruct(model, x), atol=1e-5)
    z = served.encode(x)
    np.testing.assert_allclose(z, inference.encode(model, x), atol=1e-5)
    assert z.shape == (len(x), *spec.code_shape)
    np.testing.assert_allclose(served.decode(z), inference.decode(model, z), atol=1e-5)
    np.testing.assert_allclose(served.decode(z[0]), served.decode(z[:1]), atol=1e-6)  # one code
    np.testing.assert_allclose(served.reconstruct(x[0, ..., 0]), served.reconstruct(x[:1]), atol=1e-6)  # (28, 28)
    if spec.is_vae:
        for a, b in zip(served.encode_gaussian(x), inference.encode_gaussian(model, x), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    else:
        with pytest.raises(LatentLabError, match="not a VAE"):
            served.encode_gaussian(x)


def test_served_once_per_spec(server):
    a = server.served(ModelSpec("lesson", latent_dim=4, **TINY))
    assert server.served(ModelSpec("lesson", latent_dim=4, **TINY)) is a  # equal specs: one model
    assert server.loaded(ModelSpec("lesson", latent_dim=4, **TINY))


def test_user_models_are_evicted_least_recently_used_first(server, monkeypatch):
    monkeypatch.setattr(infer, "USER_MODELS_KEPT", 1)
    first, second = ModelSpec("lesson", latent_dim=4, **TINY), ModelSpec("lesson", latent_dim=3, **TINY)
    server.served(first)
    server.served(second)
    assert server.loaded(second) and not server.loaded(first)
    assert not server.store.loaded(first)  # its Keras model is dropped too; the files stay
    assert server.store.available(first)


def test_bad_images_get_a_clear_message(server):
    with pytest.raises(LatentLabError, match="28×28"):
        server.served(ModelSpec("lesson", latent_dim=4, **TINY)).reconstruct(np.zeros((2, 32, 32)))


def test_large_batches_go_through_in_chunks(server, monkeypatch):
    monkeypatch.setattr(infer, "CHUNK", 7)
    served = server.served(ModelSpec("vae", latent_dim=2, **TINY))
    x = to_float(load_mnist().x_test[:20])
    monkeypatch.setattr(infer, "CHUNK", 1000)
    whole = served.reconstruct(x), served.encode_gaussian(x)
    monkeypatch.setattr(infer, "CHUNK", 7)
    np.testing.assert_allclose(served.reconstruct(x), whole[0], atol=1e-6)
    for a, b in zip(served.encode_gaussian(x), whole[1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", ["lesson", "conv_ae", "vae_2d", "denoise"])
def test_shipped_models_are_served_by_onnx_and_match_keras(name, x):
    from core.lab.zoo import SHIPPED

    server = infer.Server(ModelStore(allow_training=False))
    spec = SHIPPED[name]
    served, model = server.served(spec), server.model(spec)
    assert served.engine == "onnx"
    np.testing.assert_allclose(served.reconstruct(x), inference.reconstruct(model, x), atol=1e-5)
    z = served.encode(x)
    np.testing.assert_allclose(served.decode(z), inference.decode(model, z), atol=1e-5)


def test_serving_never_trains(server):
    untrained = ModelSpec("lesson", latent_dim=5, **TINY)
    with pytest.raises(LatentLabError, match="no trained weights"):
        server.served(untrained)
    with pytest.raises(LatentLabError, match="no trained weights"):
        server.model(untrained)
    assert not server.store.available(untrained)
