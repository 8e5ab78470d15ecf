"""The denoising lab's numbers: corrupt an image, clean it with each model, and score the results
with TensorFlow's own PSNR and SSIM against the clean image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import LatentLabError
from core.lab import noise
from core.lab.data import load_mnist, to_float
from core.serving import infer

# Levels shown on the sweep chart for each noise type (σ, rate, or erased fraction).
SWEEP_LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0),
    "salt_and_pepper": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6),
    "mask": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
}
SWEEP_SAMPLE = 300  # fixed test digits for the sweep: enough for a smooth mean, fast to compute
SWEEP_SEED = 2024
PSNR_CAP = 100.0  # dB, given to identical images, whose PSNR is infinite
# One setting per noise type for the "trained on one noise, tested on another" table: the page's
# default levels. Each is a point of SWEEP_LEVELS, so the table reads its figures off the sweeps.
TRANSFER_LEVELS: dict[str, float] = {"gaussian": 0.5, "salt_and_pepper": 0.2, "mask": 0.3}


@dataclass(frozen=True)
class Scored:
    name: str
    image: np.ndarray  # (28, 28)
    psnr: float  # dB against the clean image; higher is better
    ssim: float  # structural similarity in [-1, 1]; 1 = identical


_GRAPHS: dict = {}  # "psnr" / "psnr_ssim" → the metric as one traced TensorFlow graph, made on first use


def _graph(name: str):
    """tf.image.psnr (and .ssim) over (N, 28, 28, 1) float32 pairs as one compiled graph. Eagerly,
    tf.image.ssim dispatches some 60 ops one by one (~25 ms for five images on 2 cores, most of a
    Denoise rerun); traced once, a call is ~1 ms. One signature with any N, so it traces once."""
    if name not in _GRAPHS:
        import tensorflow as tf

        spec = tf.TensorSpec((None, 28, 28, 1), tf.float32)
        fns = {
            "psnr": lambda a, b: tf.image.psnr(a, b, max_val=1.0),
            "psnr_ssim": lambda a, b: (tf.image.psnr(a, b, max_val=1.0), tf.image.ssim(a, b, max_val=1.0)),
        }
        _GRAPHS[name] = tf.function(fns[name], input_signature=[spec, spec], autograph=False)
    return _GRAPHS[name]


def _pair(clean: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(clean, np.float32), np.asarray(other, np.float32)
    if a.shape != b.shape or a.shape[1:] != (28, 28, 1):
        raise LatentLabError(f"PSNR and SSIM need two (N, 28, 28, 1) stacks of the same size, got {a.shape} and {b.shape}")
    return a, b


def psnr_only(clean: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per-image PSNR (dB) of `other` against `clean`, both (N, 28, 28, 1) in [0, 1], capped at
    PSNR_CAP (100 dB) for identical images (TensorFlow returns inf there). The sweeps use this alone:
    SSIM was most of their cost and they only plot PSNR."""
    return np.minimum(_graph("psnr")(*_pair(clean, other)).numpy(), PSNR_CAP)


def psnr_ssim(clean: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB, as `psnr_only`) and SSIM of `other` against `clean`, both (N, 28, 28, 1)."""
    psnr, ssim = _graph("psnr_ssim")(*_pair(clean, other))
    return np.minimum(psnr.numpy(), PSNR_CAP), ssim.numpy()


def psnr_label(psnr: float) -> str:
    """How a PSNR reads on screen: "23.4 dB", or "∞ dB" for an identical image (`psnr_ssim` caps those
    at PSNR_CAP, which is a stand-in for infinity, not a measurement)."""
    return "∞ dB" if psnr >= PSNR_CAP else f"{psnr:.1f} dB"


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
    """Mean PSNR against noise level: {"level": (L,), "noisy input": (L,), <model name>: (L,)}.

    The noisy input's mean is taken over the images the noise actually changed: an untouched copy
    has infinite PSNR (capped at 100 dB), and light masking often erases only blank background
    (measured on this sample: 19 % of images at fraction 0.1, which lifted the mean from 22 to
    37 dB). Where nothing changed (level 0) the value is NaN, which a chart leaves out.
    """
    levels = SWEEP_LEVELS[kind] if levels is None else levels
    clean = sweep_sample(n)
    curves = {"level": np.asarray(levels, float), "noisy input": []} | {name: [] for name in models}
    for i, level in enumerate(levels):
        noisy = noise.corrupt(clean, kind, level, seed=SWEEP_SEED + i)
        changed = np.any(noisy != clean, axis=(1, 2, 3))  # (n,)
        psnr = psnr_only(clean[changed], noisy[changed]) if changed.any() else np.array([np.nan])
        curves["noisy input"].append(psnr.mean())
        for name, m in models.items():
            curves[name].append(psnr_only(clean, infer.reconstruct(m, noisy)).mean())
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
