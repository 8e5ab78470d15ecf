"""Reconstruct one input with several models and score each: what the Draw page shows.

Each model is given as its reconstruction function, images (N, 28, 28, 1) → x̂ (N, 28, 28, 1): a
served model's `reconstruct` (`core.serving.infer`), or `lambda x: model(x)` for a Keras model. This
module imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.lab import metrics


@dataclass(frozen=True)
class Reconstruction:
    name: str
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    bce: float  # mean per-pixel binary cross-entropy against the input
    mse: float


def reconstruct_all(models: dict[str, Callable[[np.ndarray], np.ndarray]], x: np.ndarray) -> list[Reconstruction]:
    """x (28, 28) in [0, 1] → one `Reconstruction` per model (name → reconstruction function), in order."""
    x = np.asarray(x, dtype=np.float32).reshape(1, 28, 28, 1)
    out = []
    for name, model in models.items():
        x_hat = np.asarray(model(x))  # (1, 28, 28, 1)
        out.append(Reconstruction(name, x_hat[0, ..., 0], float(metrics.per_image_bce(x, x_hat)[0]),
                                  float(metrics.per_image_mse(x, x_hat)[0])))
    return out
