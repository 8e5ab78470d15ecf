"""Test-set metrics for a model: the figures in the evaluate table, the manifest and the floors.

- ``test_bce``, ``test_mse``: mean per-pixel BCE / MSE of reconstructions of MNIST test images;
- ``test_neg_elbo`` (VAEs): mean −ELBO on MNIST test, nats/image (true bound, β = 1);
- ``auroc_fashion``: AUROC separating MNIST test (normal) from Fashion-MNIST test (anomalous)
  by the per-image BCE reconstruction error;
- ``auroc_one_class_mean`` (the ten one-class models): mean over digits of the AUROC separating
  that digit's test images from all other test images by MSE reconstruction error;
- ``psnr_gauss_0.5`` (the denoising architecture, whether trained on noisy or on clean inputs, and any
  model trained on noise): mean per-image PSNR of the model's output on MNIST test images with Gaussian
  noise of std 0.5 added (clipped to [0, 1]), against the clean images;
- ``other_writers_flagged``, ``other_writers_knn_acc`` (with ``other_writers=True``; needs scikit-learn):
  on digits by 43 writers who are not in MNIST, photographed and preprocessed like an upload, the
  fraction flagged at the Upload page's default threshold and the k-NN label accuracy in code space
  (`core.lab.other_writers`).
"""

from __future__ import annotations

import numpy as np

from core.lab import anomaly, inference, metrics, noise
from core.lab.data import load_fashion_mnist, load_mnist, to_float
from core.lab.spec import ModelSpec

NOISE_EVAL_SEED = 1234  # fixed so the PSNR figure is the same on every run


def noisy_test_images(noise_factor: float = 0.5, seed: int = NOISE_EVAL_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) MNIST test images, float32 (10000, 28, 28, 1)."""
    clean = to_float(load_mnist().x_test)
    return clean, noise.gaussian(clean, noise_factor, seed)


def evaluate(model, spec: ModelSpec, other_writers: bool = False) -> dict[str, float]:
    x = to_float(load_mnist().x_test)
    x_hat = inference.reconstruct(model, x)
    bce = metrics.per_image_bce(x, x_hat)
    out = {"test_bce": float(bce.mean()), "test_mse": float(metrics.per_image_mse(x, x_hat).mean())}
    if spec.is_vae:
        rec, kl = inference.neg_elbo(model, x)
        out["test_neg_elbo"] = float((rec + kl).mean())
        out["test_kl"] = float(kl.mean())
    fashion = anomaly.score(model, to_float(load_fashion_mnist().x_test), "bce")
    out["auroc_fashion"] = metrics.auroc(bce, fashion)
    if spec.kind == "denoise" or spec.noise_factor > 0:  # both of the denoising pair: clean- and noise-trained
        clean, noisy = noisy_test_images(0.5)
        out["psnr_gauss_0.5"] = float(metrics.per_image_psnr(clean, inference.reconstruct(model, noisy)).mean())
    if other_writers:
        from core.lab.other_writers import evaluate_other_writers

        out |= evaluate_other_writers(model, reference_scores=bce)
    return {k: round(v, 5) for k, v in out.items()}


ONE_CLASS_SCORE = "mse"  # per-pixel BCE rewards faint, thin digits (a 1 looks "normal" to every model)


def evaluate_one_class(models: dict[int, object]) -> dict[str, float]:
    """Ruff et al.'s protocol: model d was trained on digit d's training images only; its AUROC
    separates digit d's test images (normal) from all other test images (anomalous) by the
    per-pixel MSE reconstruction error. Returns {"auroc_digit_0": ..., "auroc_one_class_mean": ...}."""
    mnist = load_mnist()
    x = to_float(mnist.x_test)
    out = {}
    for digit, model in sorted(models.items()):
        s = anomaly.score(model, x, ONE_CLASS_SCORE)
        out[f"auroc_digit_{digit}"] = round(metrics.auroc(s[mnist.y_test == digit], s[mnist.y_test != digit]), 5)
    out["auroc_one_class_mean"] = round(float(np.mean(list(out.values()))), 5)
    return out
