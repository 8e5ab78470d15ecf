"""The named models the app ships with (trained weights in assets/models/, listed in
assets/manifest.json). `python -m core train --all` regenerates exactly these."""

from __future__ import annotations

import dataclasses

from core.errors import LatentLabError
from core.lab.spec import ModelSpec

SHIPPED: dict[str, ModelSpec] = {
    # The lesson's code, unchanged: dense 64-32-16, Adam(1e-3), BCE, batch 256, 10 epochs.
    "lesson": ModelSpec("lesson", latent_dim=16, epochs=10, batch_size=256),
    "conv_ae": ModelSpec("conv_ae", latent_dim=64, epochs=16, batch_size=128, schedule="cosine"),
    "ae_2d": ModelSpec("ae_2d", latent_dim=2, epochs=12, batch_size=128, schedule="cosine"),
    # Seven epochs of the BatchNorm denoiser (~77 s each here) keep its training near nine minutes.
    "denoise": ModelSpec("denoise", latent_dim=32, noise_factor=0.5, epochs=7, batch_size=128, schedule="cosine"),
    "vae_2d": ModelSpec("vae", latent_dim=2, epochs=30, batch_size=128, schedule="cosine"),
    "vae_16": ModelSpec("vae", latent_dim=16, epochs=20, batch_size=128, schedule="cosine"),
    # The β trade-off (latent explorer): the same 2-D VAE with a lighter and a heavier KL weight.
    "vae_2d_beta0.25": ModelSpec("vae", latent_dim=2, beta=0.25, epochs=30, batch_size=128, schedule="cosine"),
    "vae_2d_beta4": ModelSpec("vae", latent_dim=2, beta=4.0, epochs=30, batch_size=128, schedule="cosine"),
}

TITLES = {
    "lesson": "Lesson AE (dense, 16-D code)",
    "conv_ae": "Conv AE (64-D code)",
    "ae_2d": "Conv AE (2-D code)",
    "denoise": "Denoising conv AE (7×7×32 code)",
    "vae_2d": "VAE (2-D latent)",
    "vae_16": "VAE (16-D latent)",
    "vae_2d_beta0.25": "VAE (2-D latent, β = 0.25)",
    "vae_2d_beta4": "VAE (2-D latent, β = 4)",
}


# Shipped models that also ship a numpy forward pack (core.serving.forward): the Draw page's three, so a
# fresh server answers the first stroke without waiting seconds for TensorFlow to import.
FORWARD_PACKED = ("lesson", "conv_ae", "vae_2d")


def spec_named(name: str) -> ModelSpec:
    try:
        return SHIPPED[name]
    except KeyError:
        raise LatentLabError(f"unknown model {name!r}; shipped models: {', '.join(SHIPPED)}") from None



# The one-class recipe (anomaly lab): this spec with digits=(d,) for d in 0..9. Chosen by measurement
# (AUROC of digit d vs the other test digits, MSE score; digits 8 and 2 are the hard ones):
# VAE z=8: 0.886 / 0.935; the lesson's dense AE: 0.876 / 0.902 (mean over ten 0.952);
# conv AE z=16: 0.78 / 0.84 with BCE. Scoring by BCE instead of MSE costs 0.03–0.09 on hard digits.
ONE_CLASS_TEMPLATE = ModelSpec("vae", latent_dim=8, epochs=30, batch_size=128, schedule="cosine")


def one_class_spec(digit: int) -> ModelSpec:
    """The model trained on one digit's training images only (the one-class anomaly protocol)."""
    if digit not in range(10):
        raise LatentLabError(f"digit must be in 0..9, got {digit!r}")
    return dataclasses.replace(ONE_CLASS_TEMPLATE, digits=(digit,))


def all_shipped() -> dict[str, ModelSpec]:
    """Every model whose weights ship in assets/: the named models and the ten one-class models."""
    return SHIPPED | {f"one_class_{d}": one_class_spec(d) for d in range(10)}
