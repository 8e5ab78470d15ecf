"""Training-lab presets: ready-made specs a class can start with one click."""

from __future__ import annotations

from core.spec import ModelSpec

PRESETS: dict[str, ModelSpec] = {
    # ≈15 s on a 2-core laptop (measured in bench/), and the digits are already recognisable.
    "Quick: 2-D VAE on 20,000 digits (≈15 s)": ModelSpec(
        "vae", latent_dim=2, epochs=6, batch_size=128, schedule="cosine", train_size=20_000),
    "The lesson's model, as in the lesson (≈30 s)": ModelSpec("lesson", latent_dim=16, epochs=10, batch_size=256),
    "Only 7s: a one-class conv AE (≈40 s)": ModelSpec(
        "conv_ae", latent_dim=16, epochs=10, batch_size=128, schedule="cosine", digits=(7,)),
    "β = 4 VAE, strong KL pressure (≈40 s)": ModelSpec(
        "vae", latent_dim=2, beta=4.0, epochs=8, batch_size=128, schedule="cosine", train_size=30_000),
}
