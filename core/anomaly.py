"""Anomaly scores: how badly a model explains an input. Higher = more unusual.

Scores (each (N,)): "bce" and "mse" are per-pixel reconstruction errors for any autoencoder;
"neg_elbo" is the VAE's −ELBO in nats/image (reconstruction + KL, one seeded sample).
"""

from __future__ import annotations

import numpy as np

from core import infer, metrics
from core.errors import LatentLabError
from core.models import VAE

SCORES = ("bce", "mse", "neg_elbo")


def score(model, x: np.ndarray, kind: str = "bce") -> np.ndarray:
    if kind not in SCORES:
        raise LatentLabError(f"unknown anomaly score {kind!r}; valid scores: {', '.join(SCORES)}")
    if kind == "neg_elbo":
        if not isinstance(model, VAE):
            raise LatentLabError("the −ELBO score needs a VAE; use 'bce' or 'mse' for a plain autoencoder")
        rec, kl = infer.neg_elbo(model, x)
        return rec + kl
    x_hat = infer.reconstruct(model, x)
    return {"bce": metrics.per_image_bce, "mse": metrics.per_image_mse}[kind](infer._as_batch(x), x_hat)
