"""core.serving.forward: the numpy reconstruction pass matches Keras layer by layer, and packs are checked."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from core.errors import LatentLabError
from core.lab.models import build
from core.lab.spec import ModelSpec
from core.serving import forward
from core.serving.store import FORWARD_SUFFIX, ModelStore, save_entry, write_forward_pack

RNG = np.random.default_rng(0)


def _pass_of(model) -> forward.ForwardPass:
    pack = forward.export(model, "0" * 64)
    return forward.ForwardPass(json.loads(str(pack["header"]))["ops"], pack)


def _randomise(model) -> None:
    """Non-trivial weights everywhere (fresh biases are 0 and BatchNorm statistics 0 / 1, which would
    hide bugs), at the scale training leaves them, so float32 rounding stays well below the tolerance."""
    values = []
    for w in model.weights:
        value = np.asarray(w)
        if "variance" in w.path:
            value = RNG.uniform(0.5, 1.5, value.shape)
        elif "gamma" in w.path:
            value = 1.0 + RNG.normal(0.0, 0.2, value.shape)
        else:  # kernels keep Keras's initialisation; biases, β and moving means get small offsets
            value = value + RNG.normal(0.0, 0.1, value.shape)
        values.append(value.astype("float32"))
    model.set_weights(values)


def _autoencoder(encoder_layers, decoder_layers, in_shape=(28, 28, 1)):
    """An encoder and decoder sub-model wrapped as core.lab.models does, from lists of layers."""
    x = keras.Input(in_shape)
    h = x
    for layer in encoder_layers:
        h = layer(h)
    encoder = keras.Model(x, h, name="encoder")
    z = keras.Input(h.shape[1:])
    h = z
    for layer in decoder_layers:
        h = layer(h)
    decoder = keras.Model(z, h, name="decoder")
    return keras.Model(x, decoder(encoder(x)))


@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("size", [28, 13])
def test_convolutions_match_keras(strides, padding, size):
    model = _autoencoder(
        [layers.Conv2D(5, 3, strides=strides, padding=padding, activation="relu"),
         layers.Conv2D(4, (2, 4), strides=strides, padding=padding, use_bias=False)],
        [layers.Conv2DTranspose(3, 3, strides=strides, padding=padding, activation="tanh"),
         layers.Conv2DTranspose(2, (4, 2), strides=strides, padding=padding, use_bias=False, activation="sigmoid")],
        in_shape=(size, size, 1),
    )
    _randomise(model)
    x = RNG.random((3, size, size, 1), dtype=np.float32)
    np.testing.assert_allclose(_pass_of(model)(x), np.asarray(model(x, training=False)), atol=2e-5)


def test_dense_batchnorm_relu_reshape_match_keras():
    model = _autoencoder(
        [layers.Conv2D(6, 3, strides=2, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(),
         layers.Flatten(), layers.Dense(7), layers.Activation("relu")],
        [layers.Dense(7 * 7 * 2, activation="relu"), layers.Reshape((7, 7, 2)), layers.BatchNormalization(center=False),
         layers.Conv2DTranspose(1, 3, strides=4, padding="same", activation="sigmoid")],
    )
    _randomise(model)
    x = RNG.random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(_pass_of(model)(x), np.asarray(model(x, training=False)), atol=2e-5)


@pytest.mark.parametrize("kind", ["lesson", "conv_ae", "denoise", "vae"])
def test_every_model_kind_exports(kind):
    """The builders' own models, VAEs included (their call decodes z_mean; z_log_var is a side branch)."""
    model = build(ModelSpec(kind, latent_dim=4, noise_factor=0.5 if kind == "denoise" else 0.0))
    _randomise(model)
    x = RNG.random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(_pass_of(model)(x), np.asarray(model(x, training=False)), atol=2e-5)


def test_unsupported_layers_are_named():
    model = _autoencoder([layers.Flatten(), layers.Dropout(0.1), layers.Dense(3)], [layers.Dense(784)])
    with pytest.raises(LatentLabError, match="Dropout"):
        forward.export(model, "0" * 64)
    model = _autoencoder([layers.Flatten(), layers.Dense(3, activation="softmax")], [layers.Dense(784)])
    with pytest.raises(LatentLabError, match="softmax"):
        forward.export(model, "0" * 64)


def test_inference_only():
    model = _autoencoder([layers.Flatten(), layers.Dense(3)], [layers.Dense(784), layers.Reshape((28, 28, 1))])
    with pytest.raises(ValueError, match="inference"):
        _pass_of(model)(np.zeros((1, 28, 28, 1), np.float32), training=True)


@pytest.fixture
def stored(tmp_path):
    """A tiny lesson model saved as a store entry, with its forward pack."""
    spec = ModelSpec("lesson", latent_dim=4, epochs=1)
    model = build(spec)
    _randomise(model)
    record = save_entry(tmp_path, spec, model, {"train_seconds": 1.0})
    write_forward_pack(tmp_path, spec, model, record)
    return tmp_path, spec, model


def test_store_serves_the_pack_without_training(stored):
    directory, spec, model = stored
    store = ModelStore(cache_dir=directory / "empty", assets_dir=directory, allow_training=False)
    x = RNG.random((2, 28, 28, 1), dtype=np.float32)
    fp = store.forward(spec)
    np.testing.assert_allclose(fp(x), np.asarray(model(x, training=False)), atol=2e-5)
    assert store.forward(spec) is fp  # loaded once
    assert store.forward(ModelSpec("lesson", latent_dim=5)) is None  # no entry at all


def test_stale_or_damaged_pack_is_not_used(stored, caplog):
    directory, spec, model = stored
    pack = directory / f"{spec.key}{FORWARD_SUFFIX}"
    good = pack.read_bytes()
    # Stale: the model file changed after the pack was exported (its record names a new hash).
    record = save_entry(directory, spec, build(spec), {"train_seconds": 1.0})
    assert ModelStore(cache_dir=directory, assets_dir=directory).forward(spec) is None
    assert "another version" in caplog.text
    write_forward_pack(directory, spec, model, record)
    assert ModelStore(cache_dir=directory, assets_dir=directory).forward(spec) is not None
    pack.write_bytes(good[: len(good) // 2])  # truncated
    assert ModelStore(cache_dir=directory, assets_dir=directory).forward(spec) is None
    assert "unreadable" in caplog.text


def test_loading_a_pack_needs_no_tensorflow(stored):
    """The point of packs: a fresh process loads and runs one without importing TensorFlow."""
    directory, spec, _ = stored
    code = (
        "import sys, numpy as np\n"
        "from core.serving.store import ModelStore\n"
        "from core.lab.spec import ModelSpec\n"
        f"fp = ModelStore(cache_dir={str(directory / 'empty')!r}, assets_dir={str(directory)!r}).forward(ModelSpec('lesson', latent_dim=4, epochs=1))\n"
        "assert fp(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 28, 28, 1)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(Path(__file__).resolve().parent.parent))


def test_a_pack_does_not_wait_for_a_keras_load_of_the_same_model(stored):
    """The Home page's warm-up loads Keras models (importing TensorFlow: seconds) while the Draw page
    reads the same models' packs; reading a pack must not queue behind that load."""
    import threading

    directory, spec, _ = stored
    store = ModelStore(cache_dir=directory / "empty", assets_dir=directory, allow_training=False)
    with store._key_lock(spec.key):  # as ModelStore.get holds it for the whole Keras load
        result = []
        reader = threading.Thread(target=lambda: result.append(store.forward(spec)))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "forward() waited for the Keras model's lock"
    assert result[0] is not None
