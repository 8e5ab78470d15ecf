"""Model builders, one per kind, in the `BUILDERS` registry.

Every autoencoder here is a `keras.Model` with two sub-models named ``encoder`` and ``decoder``:
images (B, 28, 28, 1) in [0, 1] → code (B, latent_dim) → images (B, 28, 28, 1) in [0, 1] (sigmoid).
`encoder_of`/`decoder_of` give uniform access, so pages never care which kind they hold.

The VAE follows the keras.io example's structure, plus what that example lacks: ``call`` (decode the
posterior mean), ``test_step``, ``get_config``/``from_config`` and serialisation registration, so it
saves to ``.keras`` and loads back in safe mode.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers, ops

from core.lab.losses import bernoulli_nll, kl_divergence
from core.lab.spec import KINDS, ModelSpec

IMAGE_SHAPE = (28, 28, 1)
PACKAGE = "latent_lab"


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


# Channel widths are small on purpose: a CPU retrains every model in reasonable time (16/32 channels
# train several times faster than 32/64; see docs/performance.md).


def _conv_encoder_trunk(x):
    """(B, 28, 28, 1) → (B, 7·7·32): two stride-2 convolutions, flattened."""
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="enc_conv1")(x)  # (B, 14, 14, 16)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc_conv2")(x)  # (B, 7, 7, 32)
    return layers.Flatten(name="enc_flatten")(x)  # (B, 1568)


def _conv_decoder(latent_dim: int) -> keras.Model:
    """(B, latent_dim) → (B, 28, 28, 1): roughly the mirror of `_conv_encoder_trunk`, with half the
    channels, since the decoder's full-resolution convolutions dominate the cost."""
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(256, activation="relu", name="dec_dense1")(z)
    x = layers.Dense(7 * 7 * 16, activation="relu", name="dec_dense2")(x)
    x = layers.Reshape((7, 7, 16), name="dec_reshape")(x)
    x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu", name="dec_deconv1")(x)  # (B, 14, 14, 16)
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="dec_deconv2")(x)  # (B, 28, 28, 8)
    x_hat = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="x_hat")(x)
    return keras.Model(z, x_hat, name="decoder")


def _mlp_encoder_trunk(x):
    """(B, 28, 28, 1) → (B, 256): two dense layers on the flattened image."""
    h = layers.Flatten(name="enc_flatten")(x)  # (B, 784)
    h = layers.Dense(512, activation="relu", name="enc_dense1")(h)
    return layers.Dense(256, activation="relu", name="enc_dense2")(h)


def _mlp_decoder(latent_dim: int) -> keras.Model:
    """(B, latent_dim) → 256 → 512 → 784 sigmoid → (B, 28, 28, 1)."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(256, activation="relu", name="dec_dense1")(z)
    h = layers.Dense(512, activation="relu", name="dec_dense2")(h)
    h = layers.Dense(784, activation="sigmoid", name="dec_dense3")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE, name="x_hat")(h), name="decoder")


def _autoencoder(encoder: keras.Model, decoder: keras.Model, spec: ModelSpec) -> keras.Model:
    x = keras.Input(IMAGE_SHAPE, name="x")
    return keras.Model(x, decoder(encoder(x)), name=spec.kind)


# ---------------------------------------------------------------------------------------------
# Plain autoencoders
# ---------------------------------------------------------------------------------------------


def build_lesson(spec: ModelSpec) -> keras.Model:
    """The lesson's dense model, layer for layer: 784 → 64 → 32 → 16 (code) → 32 → 64 → 784."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten(name="enc_flatten")(x)
    h = layers.Dense(64, activation="relu", name="enc_dense1")(h)
    h = layers.Dense(32, activation="relu", name="enc_dense2")(h)
    code = layers.Dense(spec.latent_dim, activation="relu", name="code")(h)
    encoder = keras.Model(x, code, name="encoder")

    z = keras.Input((spec.latent_dim,), name="z")
    h = layers.Dense(32, activation="relu", name="dec_dense1")(z)
    h = layers.Dense(64, activation="relu", name="dec_dense2")(h)
    h = layers.Dense(784, activation="sigmoid", name="dec_dense3")(h)
    decoder = keras.Model(z, layers.Reshape(IMAGE_SHAPE, name="dec_reshape")(h), name="decoder")
    return _autoencoder(encoder, decoder, spec)


def build_conv_ae(spec: ModelSpec) -> keras.Model:
    """Convolutional AE with a dense bottleneck of `latent_dim` (linear code, so it can be any real)."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = _conv_encoder_trunk(x)
    h = layers.Dense(256, activation="relu", name="enc_dense")(h)
    code = layers.Dense(spec.latent_dim, name="code")(h)
    encoder = keras.Model(x, code, name="encoder")
    return _autoencoder(encoder, _conv_decoder(spec.latent_dim), spec)


def _conv_bn_relu(h, filters: int, name: str, strides: int = 1, transpose: bool = False):
    """3×3 (transposed) convolution → BatchNorm → ReLU. No bias: BatchNorm's offset replaces it."""
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    h = conv(filters, 3, strides=strides, padding="same", use_bias=False, name=name)(h)
    h = layers.BatchNormalization(name=f"{name}_bn")(h)
    return layers.ReLU(name=f"{name}_relu")(h)


def build_denoise(spec: ModelSpec) -> keras.Model:
    """Fully convolutional denoiser: the code is a (7, 7, latent_dim) feature map, not a vector.

    A dense bottleneck forces the model to redraw the digit from a summary and loses stroke
    detail; a spatial code keeps where the strokes are, while the stride-2 layers still average the
    noise away. BatchNorm speeds up convergence; the width and the extra 3×3 convolutions at 7×7 and
    14×14 give a receptive field that sees whole strokes through the noise. It is trained on noisy
    inputs (`spec.noise_factor`) with clean targets by `core.lab.training`; with noise_factor 0 the
    same architecture is trained on clean inputs, the control that shows what the noise does.
    `spec.latent_dim` is the code's channel count (`spec.code_shape` = (7, 7, latent_dim)).
    """
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = _conv_bn_relu(x, 32, "enc_conv1", strides=2)  # (B, 14, 14, 32)
    h = _conv_bn_relu(h, 64, "enc_conv2", strides=2)  # (B, 7, 7, 64)
    code = _conv_bn_relu(h, spec.latent_dim, "code")  # (B, 7, 7, C)
    encoder = keras.Model(x, code, name="encoder")
    z = keras.Input((7, 7, spec.latent_dim), name="z")
    h = _conv_bn_relu(z, 64, "dec_conv1")  # (B, 7, 7, 64)
    h = _conv_bn_relu(h, 32, "dec_deconv1", strides=2, transpose=True)  # (B, 14, 14, 32)
    h = _conv_bn_relu(h, 32, "dec_conv2")  # (B, 14, 14, 32)
    h = _conv_bn_relu(h, 16, "dec_deconv2", strides=2, transpose=True)  # (B, 28, 28, 16)
    x_hat = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="x_hat")(h)
    return _autoencoder(encoder, keras.Model(z, x_hat, name="decoder"), spec)


# ---------------------------------------------------------------------------------------------
# Variational autoencoder
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(layers.Layer):
    """Reparameterisation trick: z = z_mean + exp(z_log_var / 2) · ε, ε ~ N(0, I).

    The noise comes from a seeded generator, so a training run is reproducible, and the gradient
    flows through z_mean and z_log_var (ε is the only random part).
    """

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs  # (B, D) each
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAE(keras.Model):
    """Loss = E_q[−log p(x|z)] + β · KL(q(z|x) ‖ N(0, I)), one reparameterised sample per image."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.seed = int(seed)
        self.sampler = Sampling(seed, name="sampling")
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def build(self, input_shape=None):
        # The encoder and decoder are functional models, built on construction; nothing else has
        # weights (the sampler only holds a seed). Declaring this keeps Keras from warning.
        self.built = True

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, x, training=False):
        """Deterministic reconstruction: decode the posterior mean (no sampling at inference)."""
        z_mean, _ = self.encoder(x, training=training)
        return self.decoder(z_mean, training=training)

    def losses_for(self, x, training=False):
        """Per-example (reconstruction_loss, kl_loss), each (B,), from one sample z ~ q(z|x)."""
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampler([z_mean, z_log_var])
        x_hat = self.decoder(z, training=training)
        return bernoulli_nll(x, x_hat), kl_divergence(z_mean, z_log_var)

    def _update(self, reconstruction_loss, kl_loss, total_loss):
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf  # the training loop is TensorFlow's (Keras backend = tensorflow)

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            rec, kl = self.losses_for(x, training=True)
            reconstruction_loss, kl_loss = ops.mean(rec), ops.mean(kl)
            total_loss = reconstruction_loss + self.beta * kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._update(reconstruction_loss, kl_loss, total_loss)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        rec, kl = self.losses_for(x, training=False)
        reconstruction_loss, kl_loss = ops.mean(rec), ops.mean(kl)
        return self._update(reconstruction_loss, kl_loss, reconstruction_loss + self.beta * kl_loss)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(spec: ModelSpec) -> keras.Model:
    """Dense VAE: encoder x → (z_mean, z_log_var), each (B, latent_dim); decoder z → image.

    Dense rather than convolutional: it trains much faster per epoch and, with a 2-D latent, reaches
    a better test ELBO in the same time (the 2-D bottleneck, not the decoder's receptive field,
    limits it)."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = _mlp_encoder_trunk(x)
    z_mean = layers.Dense(spec.latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(spec.latent_dim, name="z_log_var")(h)
    encoder = keras.Model(x, [z_mean, z_log_var], name="encoder")
    return VAE(encoder, _mlp_decoder(spec.latent_dim), beta=spec.beta, seed=spec.seed, name="vae")


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[ModelSpec], keras.Model]] = {
    "lesson": build_lesson,
    "conv_ae": build_conv_ae,
    "ae_2d": build_conv_ae,  # the conv AE with a 2-D code, for latent maps beside the VAE's
    "denoise": build_denoise,
    "vae": build_vae,
}
assert set(BUILDERS) == set(KINDS), "every kind in core.lab.spec.KINDS needs a builder"


def _optimizer(spec: ModelSpec, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    if spec.schedule == "cosine":
        # Decay to 5 % of the initial rate over the whole run: fast early progress, fine finish.
        lr = keras.optimizers.schedules.CosineDecay(spec.learning_rate, spec.epochs * steps_per_epoch, alpha=0.05)
    else:
        lr = spec.learning_rate
    return keras.optimizers.Adam(lr)


def build(spec: ModelSpec, steps_per_epoch: int | None = None) -> keras.Model:
    """A fresh, untrained model for `spec`, with its weights created.

    With `steps_per_epoch` it is also compiled for training (optimizer, loss, XLA).
    """
    keras.utils.set_random_seed(spec.seed)
    model = BUILDERS[spec.kind](spec)
    model(keras.ops.zeros((1, *IMAGE_SHAPE)))  # create the weights, so the model can be saved/loaded
    if steps_per_epoch is not None:
        loss = None if spec.is_vae else "binary_crossentropy"  # the VAE computes its own loss
        model.compile(optimizer=_optimizer(spec, steps_per_epoch), loss=loss, jit_compile=True)
    return model


def export_copy(spec: ModelSpec, model: keras.Model) -> keras.Model:
    """An uncompiled twin of a trained model (same weights, no optimizer), for saving."""
    twin = BUILDERS[spec.kind](spec)
    twin(keras.ops.zeros((1, *IMAGE_SHAPE)))
    twin.set_weights(model.get_weights())
    return twin


def encoder_of(model: keras.Model) -> keras.Model:
    """The encoder sub-model. AEs: x → code (B, D); VAEs: x → [z_mean, z_log_var]."""
    return model.encoder if isinstance(model, VAE) else model.get_layer("encoder")


def decoder_of(model: keras.Model) -> keras.Model:
    """The decoder sub-model: code (B, D) → image (B, 28, 28, 1)."""
    return model.decoder if isinstance(model, VAE) else model.get_layer("decoder")
