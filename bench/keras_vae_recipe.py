"""The keras.io "Variational AutoEncoder" recipe (fchollet), re-implemented for benchmarking.

A faithful re-implementation of `examples/generative/vae.py` as it runs under Keras 3 defaults,
written here from its description (not copied), so `bench_train_speed.py` can train it beside this
project's VAE in one process:

- encoder: Conv2D(32, 3, s2, same, relu) → Conv2D(64, 3, s2, same, relu) → Flatten → Dense(16, relu)
  → z_mean, z_log_var = Dense(2) each → Sampling (seeded `keras.random.SeedGenerator(1337)`);
- decoder: Dense(7·7·64, relu) → Reshape → Conv2DTranspose(64, 3, s2, same, relu)
  → Conv2DTranspose(32, 3, s2, same, relu) → Conv2DTranspose(1, 3, same, sigmoid);
- loss per batch: mean over images of the pixel-summed binary cross-entropy, plus the mean over
  images of KL = −½ Σ_d (1 + log σ² − μ² − σ²); gradient by `tf.GradientTape`;
- data: MNIST train + test concatenated (70,000 images), float32 / 255, continuous targets;
- training: `compile(optimizer=Adam())` with every default (learning rate 1e-3; `jit_compile="auto"`,
  which Keras 3 resolves to *off* on a CPU-only machine), `fit(x, epochs=30, batch_size=128)` on
  the numpy array (Keras shuffles it every epoch).

Nothing here is tuned: the point is to time the recipe as written.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

LATENT_DIM = 2
EPOCHS = 30
BATCH_SIZE = 128
SAMPLING_SEED = 1337  # the recipe's own seed for its sampling layer


# ---------------------------------------------------------------------------------------------
# Data: all 70,000 MNIST digits, continuous in [0, 1]
# ---------------------------------------------------------------------------------------------


def recipe_digits(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """uint8 (60000, 28, 28) and (10000, 28, 28) → float32 (70000, 28, 28, 1) in [0, 1].

    The recipe trains on the test images too; its test −ELBO is therefore measured on images it
    has seen (a 2-D latent barely overfits, but the advantage is the recipe's, not ours)."""
    digits = np.concatenate([x_train, x_test], axis=0)
    return np.expand_dims(digits, -1).astype("float32") / 255


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


class RecipeSampling(layers.Layer):
    """z = μ + exp(½ log σ²) · ε with ε ~ N(0, I) from a seeded generator: (B, 2), (B, 2) → (B, 2)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(SAMPLING_SEED)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def recipe_encoder() -> keras.Model:
    """(B, 28, 28, 1) → [z_mean (B, 2), z_log_var (B, 2), z (B, 2)]."""
    image = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(image)  # (B, 14, 14, 32)
    h = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(h)  # (B, 7, 7, 64)
    h = layers.Flatten()(h)  # (B, 3136)
    h = layers.Dense(16, activation="relu")(h)
    z_mean = layers.Dense(LATENT_DIM, name="z_mean")(h)
    z_log_var = layers.Dense(LATENT_DIM, name="z_log_var")(h)
    z = RecipeSampling()([z_mean, z_log_var])
    return keras.Model(image, [z_mean, z_log_var, z], name="encoder")


def recipe_decoder() -> keras.Model:
    """(B, 2) → (B, 28, 28, 1) in (0, 1)."""
    z = keras.Input((LATENT_DIM,))
    h = layers.Dense(7 * 7 * 64, activation="relu")(z)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(h)  # (B, 14, 14, 64)
    h = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(h)  # (B, 28, 28, 32)
    x_hat = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(h)  # (B, 28, 28, 1)
    return keras.Model(z, x_hat, name="decoder")


class RecipeVAE(keras.Model):
    """The recipe's `VAE`: a custom `train_step` and three running-mean trackers."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        import tensorflow as tf  # the recipe's training step is TensorFlow's

        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            # binary_crossentropy averages over the last (channel, size 1) axis: (B, 28, 28);
            # summing the pixels gives nats per image, then the batch mean.
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))  # (B, 2)
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def build_recipe() -> RecipeVAE:
    """The recipe's model, compiled exactly as the recipe does: `Adam()` and nothing else."""
    vae = RecipeVAE(recipe_encoder(), recipe_decoder())
    vae.compile(optimizer=keras.optimizers.Adam())
    return vae


def encode_gaussian(vae: RecipeVAE, x) -> tuple:
    """x (B, 28, 28, 1) → (z_mean, z_log_var), each (B, 2), for evaluation."""
    z_mean, z_log_var, _ = vae.encoder(x, training=False)
    return z_mean, z_log_var


def train_recipe(digits: np.ndarray, epochs: int = EPOCHS, callbacks=()) -> RecipeVAE:
    """Build and fit the recipe on `digits` (N, 28, 28, 1): `fit(x, epochs, batch_size=128)`."""
    vae = build_recipe()
    vae.fit(digits, epochs=epochs, batch_size=BATCH_SIZE, verbose=0, callbacks=list(callbacks))
    return vae
