"""Training-lab presets: ready-made specs a class can start with one click."""

from __future__ import annotations

from core.lab.spec import ModelSpec

# How long the quick preset takes, said the same way on its label and on Home (measured: docs/performance.md,
# "Training lab's quick preset"); training runs in a low-priority worker process, so a busy server stretches it.
QUICK_TIME = "about half a minute on a quiet 2-core server"
QUICK = f"Quick: VAE with an 8-D code on 20,000 digits ({QUICK_TIME})"

PRESETS: dict[str, ModelSpec] = {
    # The quickest recipe whose reconstructions stay readable: with a 2-D code the same run is too
    # blurry to recognise, and a 16-D code takes longer than the half minute a class waits
    # (bench/bench_quick_preset.py; figures in docs/performance.md).
    QUICK: ModelSpec(
        "vae", latent_dim=8, epochs=5, batch_size=128, schedule="cosine", train_size=20_000),
    # A 2-D code draws a map on the Latent page; in half a minute it is blurry (see above).
    "2-D VAE for the latent map, on 20,000 digits (≈30 s)": ModelSpec(
        "vae", latent_dim=2, epochs=6, batch_size=128, schedule="cosine", train_size=20_000),
    "The lesson's model, as in the lesson (≈30 s)": ModelSpec("lesson", latent_dim=16, epochs=10, batch_size=256),
    "Only 7s: a one-class conv AE (≈40 s)": ModelSpec(
        "conv_ae", latent_dim=16, epochs=10, batch_size=128, schedule="cosine", digits=(7,)),
    "β = 4 VAE, strong KL pressure (≈40 s)": ModelSpec(
        "vae", latent_dim=2, beta=4.0, epochs=8, batch_size=128, schedule="cosine", train_size=30_000),
}
