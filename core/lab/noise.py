"""Corruptions for the denoising lab. Each takes clean images in [0, 1] (any shape ending in the
image dims) and a seed, and returns a corrupted copy in [0, 1]; the same seed gives the same noise,
so a whole classroom sees the same picture. The seed may also be a `numpy.random.Generator`, which
is drawn from as it stands (training continues one stream from batch to batch).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.errors import LatentLabError


def gaussian(x: np.ndarray, sigma: float, seed: int | np.random.Generator = 0) -> np.ndarray:
    """clip(x + σ·N(0, 1), 0, 1) per pixel, float32: the denoising AE's training corruption, and
    the one definition of Gaussian noise in the app (training, evaluation, the Denoise page)."""
    if sigma < 0:
        raise LatentLabError(f"Gaussian noise σ must be ≥ 0, got {sigma}")
    rng = np.random.default_rng(seed)
    return np.clip(x + sigma * rng.standard_normal(np.shape(x)), 0.0, 1.0).astype(np.float32)


def salt_and_pepper(x: np.ndarray, rate: float, seed: int = 0) -> np.ndarray:
    """A fraction `rate` of pixels is replaced, half by 0 (pepper) and half by 1 (salt)."""
    if not 0 <= rate <= 1:
        raise LatentLabError(f"salt-and-pepper rate must be in [0, 1], got {rate}")
    rng = np.random.default_rng(seed)
    u = rng.random(np.shape(x))
    out = np.array(x, dtype=np.float32, copy=True)
    out[u < rate / 2] = 0.0
    out[(u >= rate / 2) & (u < rate)] = 1.0
    return out


def mask_blocks(x: np.ndarray, fraction: float, seed: int = 0, block: int = 4) -> np.ndarray:
    """Erase (set to 0) square blocks of `block`×`block` pixels until about `fraction` of each image's
    blocks are gone. Works on (28, 28), (N, 28, 28) or (N, 28, 28, 1)."""
    if not 0 <= fraction <= 1:
        raise LatentLabError(f"masked fraction must be in [0, 1], got {fraction}")
    if block < 1 or 28 % block:
        raise LatentLabError(f"block size must divide 28, got {block}")
    x = np.asarray(x, dtype=np.float32)
    out = x.copy()
    imgs = out.reshape(-1, 28, 28)  # a view on `out`: (N, 28, 28)
    rng = np.random.default_rng(seed)
    g = 28 // block
    # One keep/erase decision per block, expanded to pixels: (N, g, g) → (N, 28, 28).
    erase = rng.random((len(imgs), g, g)) < fraction
    imgs[np.kron(erase, np.ones((block, block), dtype=bool))] = 0.0
    return out


NOISES: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian,
    "salt_and_pepper": salt_and_pepper,
    "mask": mask_blocks,
}


def corrupt(x: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """Apply noise `kind` at strength `level` (σ, rate or fraction)."""
    try:
        fn = NOISES[kind]
    except KeyError:
        raise LatentLabError(f"unknown noise {kind!r}; valid noises: {', '.join(NOISES)}") from None
    return fn(x, level, seed)
