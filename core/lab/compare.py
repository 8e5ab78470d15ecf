"""Reconstruct one input with several models and score each: what the Draw page shows.

The models are anything called like a Keras model on (1, 28, 28, 1): Keras models, `core.serving.infer.Compiled`
graphs, or `core.serving.forward.ForwardPass` (numpy). This module imports neither Keras nor TensorFlow, so
the Draw page can answer from numpy packs before TensorFlow has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.lab import metrics


@dataclass(frozen=True)
class Reconstruction:
    name: str
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    bce: float  # mean per-pixel binary cross-entropy against the input
    mse: float


def reconstruct_all(models: dict[str, object], x: np.ndarray) -> list[Reconstruction]:
    """x (28, 28) in [0, 1] → one `Reconstruction` per model, in the dict's order."""
    x = np.asarray(x, dtype=np.float32).reshape(1, 28, 28, 1)
    out = []
    for name, model in models.items():
        x_hat = np.asarray(model(x, training=False))  # (1, 28, 28, 1); a direct call (~ms), never predict (~45 ms)
        out.append(Reconstruction(name, x_hat[0, ..., 0], float(metrics.per_image_bce(x, x_hat)[0]),
                                  float(metrics.per_image_mse(x, x_hat)[0])))
    return out
