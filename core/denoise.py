"""The denoising lab's numbers: corrupt an image, clean it with each model, and score the results
with TensorFlow's own PSNR and SSIM against the clean image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import infer, noise
from core.data import load_mnist, to_float

# Levels shown on the sweep chart for each noise type (σ, rate, or erased fraction).
SWEEP_LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0),
    "salt_and_pepper": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6),
    "mask": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
}
SWEEP_SAMPLE = 300  # fixed test digits for the sweep: enough for a smooth mean, fast to compute
SWEEP_SEED = 2024


@dataclass(frozen=True)
class Scored:
    name: str
    image: np.ndarray  # (28, 28)
    psnr: float  # dB against the clean image; higher is better
    ssim: float  # structural similarity in [-1, 1]; 1 = identical


def psnr_ssim(clean: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB) and SSIM of `other` against `clean`, both (N, 28, 28, 1) in [0, 1].

    PSNR is capped at 100 dB for identical images (TensorFlow returns inf there).
    """
    import tensorflow as tf

    a, b = tf.constant(clean, tf.float32), tf.constant(other, tf.float32)
    psnr = np.minimum(tf.image.psnr(a, b, max_val=1.0).numpy(), 100.0)
    ssim = tf.image.ssim(a, b, max_val=1.0).numpy()
    return psnr, ssim


def denoise_one(models: dict[str, object], clean: np.ndarray, kind: str, level: float, seed: int) -> list[Scored]:
    """clean (28, 28) → [noisy, then each model's output], each scored against the clean image."""
    x = np.asarray(clean, np.float32).reshape(1, 28, 28, 1)
    noisy = noise.corrupt(x, kind, level, seed)
    outputs = {"noisy input": noisy} | {name: infer.reconstruct(m, noisy) for name, m in models.items()}
    stacked = np.concatenate(list(outputs.values()))  # (1 + M, 28, 28, 1)
    psnr, ssim = psnr_ssim(np.repeat(x, len(stacked), axis=0), stacked)
    return [Scored(n, img[..., 0], float(p), float(s)) for n, img, p, s in zip(outputs, stacked, psnr, ssim, strict=True)]


def sweep_sample(n: int = SWEEP_SAMPLE, seed: int = SWEEP_SEED) -> np.ndarray:
    """A fixed random sample of MNIST test digits, float32 (n, 28, 28, 1)."""
    x = load_mnist().x_test
    idx = np.random.default_rng(seed).choice(len(x), size=n, replace=False)
    return to_float(x[np.sort(idx)])


def psnr_sweep(models: dict[str, object], kind: str, levels=None, n: int = SWEEP_SAMPLE) -> dict[str, np.ndarray]:
    """Mean PSNR against noise level: {"level": (L,), "noisy input": (L,), <model name>: (L,)}."""
    levels = SWEEP_LEVELS[kind] if levels is None else levels
    clean = sweep_sample(n)
    curves = {"level": np.asarray(levels, float), "noisy input": []} | {name: [] for name in models}
    for i, level in enumerate(levels):
        noisy = noise.corrupt(clean, kind, level, seed=SWEEP_SEED + i)
        curves["noisy input"].append(psnr_ssim(clean, noisy)[0].mean())
        for name, m in models.items():
            curves[name].append(psnr_ssim(clean, infer.reconstruct(m, noisy))[0].mean())
    return {k: np.asarray(v, float) for k, v in curves.items()}
