"""The denoising lab's numbers: corrupt an image, clean it with each model, and score the results
against the clean image with PSNR and SSIM (`core.lab.metrics`, the same PSNR as the evaluate table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import LatentLabError
from core.lab import metrics, noise
from core.lab.data import mnist_for_pages, to_float

# Levels shown on the sweep chart for each noise type (σ, rate, or erased fraction).
SWEEP_LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0),
    "salt_and_pepper": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6),
    "mask": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
}
SWEEP_SAMPLE = 300  # fixed test digits for the sweep: enough for a smooth mean, fast to compute
SWEEP_SEED = 2024
# One setting per noise type for the "trained on one noise, tested on another" table: the page's
# default levels. Each is a point of SWEEP_LEVELS, so the table reads its figures off the sweeps.
TRANSFER_LEVELS: dict[str, float] = {"gaussian": 0.5, "salt_and_pepper": 0.2, "mask": 0.3}


@dataclass(frozen=True)
class Scored:
    name: str
    image: np.ndarray  # (28, 28)
    psnr: float  # dB against the clean image; higher is better
    ssim: float  # structural similarity in [-1, 1]; 1 = identical


def denoise_one(models: dict[str, Callable[[np.ndarray], np.ndarray]], clean: np.ndarray, kind: str, level: float, seed: int) -> list[Scored]:
    """clean (28, 28) → [noisy, then each model's output], each scored against the clean image."""
    x = np.asarray(clean, np.float32).reshape(1, 28, 28, 1)
    noisy = noise.corrupt(x, kind, level, seed)
    outputs = {"noisy input": noisy} | {name: np.asarray(reconstruct(noisy)) for name, reconstruct in models.items()}
    stacked = np.concatenate(list(outputs.values()))  # (1 + M, 28, 28, 1)
    clean_stack = np.repeat(x, len(stacked), axis=0)
    psnr, ssim = metrics.per_image_psnr(clean_stack, stacked), metrics.per_image_ssim(clean_stack, stacked)
    return [Scored(n, img[..., 0], float(p), float(s)) for n, img, p, s in zip(outputs, stacked, psnr, ssim, strict=True)]


def sweep_sample(n: int = SWEEP_SAMPLE, seed: int = SWEEP_SEED) -> np.ndarray:
    """A fixed random sample of the pages' MNIST test digits (`mnist_for_pages`), float32 (n, 28, 28, 1)."""
    x = mnist_for_pages().x_test
    idx = np.random.default_rng(seed).choice(len(x), size=n, replace=False)
    return to_float(x[np.sort(idx)])


def psnr_sweep(models: dict[str, Callable[[np.ndarray], np.ndarray]], kind: str, levels=None, n: int = SWEEP_SAMPLE) -> dict[str, np.ndarray]:
    """Mean PSNR against noise level: {"level": (L,), "noisy input": (L,), <model name>: (L,)}.

    The noisy input's mean is taken over the images the noise actually changed: an untouched copy
    has infinite PSNR (capped at `metrics.PSNR_CAP`), and light masking often erases only blank
    background, so averaging the untouched copies in would inflate the mean. Where nothing changed
    (level 0) the value is NaN, which a chart leaves out.
    """
    levels = SWEEP_LEVELS[kind] if levels is None else levels
    clean = sweep_sample(n)
    curves = {"level": np.asarray(levels, float), "noisy input": []} | {name: [] for name in models}
    for i, level in enumerate(levels):
        noisy = noise.corrupt(clean, kind, level, seed=SWEEP_SEED + i)
        changed = np.any(noisy != clean, axis=(1, 2, 3))  # (n,)
        psnr = metrics.per_image_psnr(clean[changed], noisy[changed]) if changed.any() else np.array([np.nan])
        curves["noisy input"].append(psnr.mean())
        for name, reconstruct in models.items():
            curves[name].append(metrics.per_image_psnr(clean, np.asarray(reconstruct(noisy))).mean())
    return {k: np.asarray(v, float) for k, v in curves.items()}


def transfer_table(
    sweeps: dict[str, dict[str, np.ndarray]],
    levels: dict[str, float] = TRANSFER_LEVELS,
    gain: tuple[str, str] | None = None,
) -> list[dict]:
    """How models cope with each noise type, one row per type at its level in `levels`.

    `sweeps` maps noise type → `psnr_sweep` curves. A row is {"noise": type, "level": level,
    <curve name>: mean PSNR (dB), ...}; with `gain=(better, baseline)` it also has "gain (dB)" =
    better − baseline.
    """
    rows = []
    for kind, level in levels.items():
        if kind not in sweeps:
            raise LatentLabError(f"no PSNR sweep for noise {kind!r}; swept: {', '.join(sweeps)}")
        curves = sweeps[kind]
        (hits,) = np.nonzero(np.isclose(curves["level"], level))
        if not len(hits):
            raise LatentLabError(f"the {kind} sweep has no level {level:g}; its levels: {', '.join(f'{v:g}' for v in curves['level'])}")
        row = {"noise": kind, "level": float(level)} | {k: float(v[hits[0]]) for k, v in curves.items() if k != "level"}
        if gain is not None:
            row["gain (dB)"] = row[gain[0]] - row[gain[1]]
        rows.append(row)
    return rows
