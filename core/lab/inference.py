"""What a trained autoencoder does with images: encode, decode, reconstruct, and the VAE's −ELBO.

Plain Keras calls on batches of float32 images (N, 28, 28, 1) in [0, 1]. The app's interactive paths
go through `core.serving.infer` instead, which runs the same models faster; these are the reference.
"""

from __future__ import annotations

import numpy as np

from core.lab.data import as_batch
from core.lab.losses import bernoulli_nll, kl_divergence
from core.lab.models import VAE, Sampling, decoder_of, encoder_of

BATCH = 1000  # images per call: keeps memory flat on the 10 000-image test set


def _chunked(fn, x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(fn(x[i : i + BATCH])) for i in range(0, len(x), BATCH)])


def reconstruct(model, x: np.ndarray) -> np.ndarray:
    """x (N, 28, 28[, 1]) → x̂ (N, 28, 28, 1). A VAE decodes the centre of q(z|x), so this is deterministic."""
    x = as_batch(x)
    return _chunked(lambda b: model(b, training=False), x)


def encode(model, x: np.ndarray) -> np.ndarray:
    """x → code (N, D) (for the denoiser (N, 7, 7, C)). For a VAE this is z_mean, the centre of q(z|x)."""
    x = as_batch(x)
    enc = encoder_of(model)
    if isinstance(model, VAE):
        return _chunked(lambda b: enc(b, training=False)[0], x)
    return _chunked(lambda b: enc(b, training=False), x)


def encode_gaussian(model: VAE, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x → (z_mean, z_log_var), each (N, D): the VAE's q(z|x) = N(z_mean, exp(z_log_var))."""
    x = as_batch(x)
    enc = encoder_of(model)
    parts = [enc(x[i : i + BATCH], training=False) for i in range(0, len(x), BATCH)]
    return np.concatenate([np.asarray(m) for m, _ in parts]), np.concatenate([np.asarray(v) for _, v in parts])


def decode(model, z: np.ndarray) -> np.ndarray:
    """code (N, D) — or (N, 7, 7, C) for the denoiser — → images (N, 28, 28, 1)."""
    z = np.asarray(z, dtype=np.float32)
    z = z[None] if z.ndim == 1 else z
    dec = decoder_of(model)
    return _chunked(lambda b: dec(b, training=False), z)


def neg_elbo(model: VAE, x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (reconstruction_loss, kl_loss) in nats, with one seeded sample z ~ q(z|x) each.

    −ELBO = reconstruction_loss + kl_loss (β does not enter: this is the true bound).
    """
    x = as_batch(x)
    sampler = Sampling(seed)  # a fresh seeded sampler: the same numbers every time it is asked
    enc, dec = encoder_of(model), decoder_of(model)
    rec, kl = [], []
    for i in range(0, len(x), BATCH):
        b = x[i : i + BATCH]
        z_mean, z_log_var = enc(b, training=False)
        z = sampler([z_mean, z_log_var])
        rec.append(np.asarray(bernoulli_nll(b, dec(z, training=False))))
        kl.append(np.asarray(kl_divergence(z_mean, z_log_var)))
    return np.concatenate(rec), np.concatenate(kl)
