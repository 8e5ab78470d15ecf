"""Latent-space maths for the explorer: codes of the test set, extents and grids, prior samples,
interpolation, prior tails and the VAE's ELBO terms.

Everything works on 2-D latent spaces (the VAEs and the AE with a 2-D code), whose points are
(z₁, z₂) pairs. Grids are laid out as images are: row 0 at the *top* holds the *largest* z₂, so a
grid of decoded digits reads like the scatter plot it was cut from. Functions that need a model
import Keras lazily; the rest is numpy, testable without a model. Turning decoded images into
pictures (tiles, PNG, GIF) is `core.figures.tiles`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from core.errors import LatentLabError

GRID_MODES = {"range": "over a range", "quantiles": "over Gaussian quantiles"}
MAX_GRID = 30  # 30×30 = 900 decodes: under a second on a CPU, and still legible at ~20 px a digit
MAX_STEPS = 32  # interpolation steps
MAX_SAMPLES = 256
EXTENT_PAD = 0.08  # margin around the codes, as a share of their span: room to click beyond the clusters


# ---------------------------------------------------------------------------------------------
# Codes of the test set
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """The test set in a 2-D latent space: z (N, 2) — z_mean for a VAE, the code for an AE —,
    z_log_var (N, 2) for a VAE (None for an AE) and the digit labels (N,)."""

    z: np.ndarray
    labels: np.ndarray
    z_log_var: np.ndarray | None = None

    def kl_to_prior(self, i: int) -> float:
        """KL(q(z|x_i) ‖ N(0, I)) in nats for test digit i of a VAE (`core.lab.losses.kl_divergence`)."""
        from core.lab.losses import kl_divergence  # Keras, lazily: the rest of this module is numpy

        assert self.z_log_var is not None, "only a VAE's codes have a q(z|x)"
        return float(np.asarray(kl_divergence(self.z[i : i + 1], self.z_log_var[i : i + 1]))[0])


def has_2d_code(spec) -> bool:
    """True if the model of `spec` (a `core.lab.spec.ModelSpec`) codes a digit as a point (z₁, z₂), so it
    can be drawn as a latent map: a VAE or plain AE with latent_dim 2. The denoiser's code is a
    (7, 7, latent_dim) feature map (`spec.code_shape`), not a vector, whatever its latent_dim."""
    return spec.code_shape == (2,)


def test_codes(model, x: np.ndarray, labels: np.ndarray) -> Codes:
    """Encode images x (N, 28, 28[, 1]) in [0, 1]. VAEs keep the spread of q(z|x) as well."""
    from core.lab import inference
    from core.lab.models import VAE

    if isinstance(model, VAE):
        z_mean, z_log_var = inference.encode_gaussian(model, x)
        codes = Codes(z_mean, np.asarray(labels), z_log_var)
    else:
        codes = Codes(inference.encode(model, x), np.asarray(labels))
    if codes.z.shape[1] != 2:
        raise LatentLabError(f"the latent explorer needs a 2-D latent space, this model's has {codes.z.shape[1]} dimensions")
    return codes


def extent(z: np.ndarray, pad: float = EXTENT_PAD) -> tuple[tuple[float, float], tuple[float, float]]:
    """((z₁ low, z₁ high), (z₂ low, z₂ high)): the bounding box of z (N, 2), widened by `pad` of
    its span on each side, so the map has empty space around the clusters to click into."""
    z = np.asarray(z, dtype=np.float64)
    assert z.ndim == 2 and z.shape[1] == 2 and len(z), z.shape
    lo, hi = z.min(axis=0), z.max(axis=0)
    margin = np.maximum((hi - lo) * pad, 1e-3)  # a single point still gets a box
    return (float(lo[0] - margin[0]), float(hi[0] + margin[0])), (float(lo[1] - margin[1]), float(hi[1] + margin[1]))


def click_grid(box: tuple[tuple[float, float], tuple[float, float]], n: int) -> np.ndarray:
    """(n², 2) points of an n×n grid spanning `box`, z₁ fastest (numpy.meshgrid order), rounded to
    4 decimals: exactly the coordinates the map's invisible click targets carry and report back."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n))  # (n, n) each
    return np.round(np.stack([gx.ravel(), gy.ravel()], axis=-1), 4).astype(np.float32)


@dataclass(frozen=True)
class GridDecodes:
    """What the decoder draws at every point of a map's click grid, computed once per model so that
    a click is a lookup, not a model call: the grid (n², 2) and its images (n², 28, 28) uint8."""

    grid: np.ndarray
    images: np.ndarray

    def image_at(self, z: np.ndarray) -> np.ndarray | None:
        """The stored image (28, 28) if z (2,) is one of the grid points (as a click reports it), else None."""
        d = np.abs(self.grid - np.asarray(z, np.float32)).max(axis=1)  # (n²,) Chebyshev distance to each grid point
        i = int(np.argmin(d))
        return self.images[i] if d[i] < 1e-3 else None


# ---------------------------------------------------------------------------------------------
# Grids, prior samples, interpolation
# ---------------------------------------------------------------------------------------------


def _check_n(name: str, n: int, high: int, low: int = 1) -> int:
    if not isinstance(n, int | np.integer) or not low <= n <= high:
        raise LatentLabError(f"{name} must be a whole number in {low}..{high}, got {n!r}")
    return int(n)


def grid_axes(mode: str, n: int, low: float = -3.0, high: float = 3.0) -> np.ndarray:
    """The n values along each axis of a grid.

    "range": evenly spaced from `low` to `high` (both included).
    "quantiles": z = Φ⁻¹(p) at p = (i + ½)/n, the midpoints of n equal slices of probability under
    N(0, 1): every tile of the n×n grid stands for the same 1/n² of the prior's mass, so the grid
    spends its tiles where the prior (and, for a VAE, the data) actually is.
    """
    n = _check_n("the grid size", n, MAX_GRID)
    if mode == "range":
        if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
            raise LatentLabError(f"the grid range must have low < high, got {low!r} to {high!r}")
        return np.linspace(low, high, n)
    if mode == "quantiles":
        return np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    raise LatentLabError(f"unknown grid mode {mode!r}; valid modes: {', '.join(GRID_MODES)}")


def grid_points(z1_values: np.ndarray, z2_values: np.ndarray) -> np.ndarray:
    """(rows, cols, 2) latent points; column j has z₁ = z1_values[j] and row i has
    z₂ = z2_values[::-1][i], so the top row is the largest z₂ (as on the map)."""
    z1, z2 = np.asarray(z1_values, np.float32), np.asarray(z2_values, np.float32)[::-1]
    zz1, zz2 = np.meshgrid(z1, z2)  # (rows, cols) each
    return np.stack([zz1, zz2], axis=-1)


def prior_samples(n: int, seed: int, dim: int = 2) -> np.ndarray:
    """n draws z ~ N(0, I), (n, dim); the same seed gives the same draws everywhere."""
    n = _check_n("the number of samples", n, MAX_SAMPLES)
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def fitted_gaussian(z: np.ndarray, epsilon: np.ndarray) -> np.ndarray:
    """Map standard-normal draws ε (n, D) onto the Gaussian fitted to codes z (N, D):
    mean + L ε with L Lᵀ = Cov(z). The most generous way to 'sample' a plain AE's code."""
    z = np.asarray(z, np.float64)
    mean, cov = z.mean(axis=0), np.cov(z, rowvar=False)
    L = np.linalg.cholesky(cov + 1e-9 * np.eye(len(cov)))  # (D, D); the jitter keeps a flat cloud factorable
    return (mean + np.asarray(epsilon, np.float64) @ L.T).astype(np.float32)


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` points on the straight line from z_a to z_b (both ends included): (steps, D),
    z(t) = (1 − t) z_a + t z_b at t = 0, 1/(steps − 1), …, 1."""
    steps = _check_n("the number of steps", steps, MAX_STEPS, low=2)
    z_a, z_b = np.asarray(z_a, np.float32).reshape(-1), np.asarray(z_b, np.float32).reshape(-1)
    if z_a.shape != z_b.shape:
        raise LatentLabError(f"both ends must live in the same latent space, got sizes {z_a.size} and {z_b.size}")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]  # (steps, 1)
    return (1.0 - t) * z_a + t * z_b


def prior_tail(z: np.ndarray) -> np.ndarray:
    """P(|ε| > |z|) for ε ~ N(0, I₂): the share of prior draws landing further from the centre than
    z (…, 2). |ε|² is χ² with 2 degrees of freedom, whose survival function is exp(−r²/2)."""
    z = np.asarray(z, np.float64)
    assert z.shape[-1] == 2, z.shape
    return np.exp(-0.5 * np.sum(np.square(z), axis=-1))


def share_text(p: float) -> str:
    """A share as people read it: "12.3 %", and "< 0.1 %" for a share too small to show in one decimal
    (a far-out point is not "0.0 %": some prior draws do land there)."""
    p = float(p)
    assert 0.0 <= p <= 1.0, p
    return "< 0.1 %" if 0.0 < p < 0.001 else f"{p:.1%}".replace("%", " %")


# ---------------------------------------------------------------------------------------------
# The posterior q(z|x) = N(μ, diag σ²) of a VAE
# ---------------------------------------------------------------------------------------------

SIGMA_LEVELS = (1.0, 2.0)  # the ellipses drawn around a posterior: 1σ and 2σ


def sigma_of(z_log_var: np.ndarray) -> np.ndarray:
    """σ = exp(½ · log σ²): the encoder's `z_log_var` head → the posterior's standard deviations."""
    return np.exp(0.5 * np.asarray(z_log_var, np.float64))


def sample_posterior(z_mean: np.ndarray, z_log_var: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n draws z ~ q(z|x) = N(μ, diag σ²) of one image, (n, D), by the reparameterisation trick:
    z = μ + σ ⊙ ε with ε ~ N(0, I) from a numpy generator seeded with `seed` (the same seed, the same ε)."""
    n = _check_n("the number of samples", n, MAX_SAMPLES)
    mu = np.asarray(z_mean, np.float64).reshape(-1)  # (D,)
    sigma = sigma_of(z_log_var).reshape(-1)  # (D,)
    assert mu.shape == sigma.shape, (mu.shape, sigma.shape)
    epsilon = np.random.default_rng(seed).standard_normal((n, len(mu)))  # (n, D)
    return (mu + sigma * epsilon).astype(np.float32)


def ellipse_points(z_mean: np.ndarray, sigma: np.ndarray, k: float, m: int = 64) -> np.ndarray:
    """The kσ ellipse of a 2-D diagonal Gaussian N(μ, diag σ²) as a closed polyline (m + 1, 2): the
    points z with Σᵢ ((zᵢ − μᵢ)/σᵢ)² = k², axis-aligned with semi-axes k·σ₁ and k·σ₂."""
    mu, sigma = np.asarray(z_mean, np.float64).reshape(2), np.asarray(sigma, np.float64).reshape(2)
    t = np.linspace(0.0, 2.0 * np.pi, m + 1)  # the last point closes the curve
    return (mu + k * sigma * np.stack([np.cos(t), np.sin(t)], axis=-1)).astype(np.float32)


def ellipse_mass(k: float) -> float:
    """The share of a 2-D Gaussian inside its kσ ellipse: the squared Mahalanobis radius is χ² with 2
    degrees of freedom, so P(r ≤ k) = 1 − exp(−k²/2) (39 % at 1σ, 86 % at 2σ)."""
    return float(1.0 - np.exp(-0.5 * k * k))


@dataclass(frozen=True)
class Endpoint:
    """One end of an interpolation: an image (28, 28) in [0, 1], encoded by whichever model
    interpolates, or a point `z` picked on the map of the model named `model`."""

    label: str
    image: np.ndarray | None = None
    z: tuple[float, float] | None = None
    model: str | None = None


def endpoint_code(endpoint: Endpoint, model, model_name: str) -> np.ndarray:
    """The endpoint's latent point (D,) in `model`'s space (a VAE's z_mean, an AE's code)."""
    if endpoint.z is not None:
        if endpoint.model != model_name:
            raise LatentLabError(
                f"{endpoint.label} was picked on the map of {endpoint.model!r}, not {model_name!r}: points of one "
                "latent space mean nothing in another. Pick it again on this model's map, or choose a digit instead")
        return np.asarray(endpoint.z, np.float32)
    if endpoint.image is None:
        raise LatentLabError(f"{endpoint.label} has neither an image nor a point")
    from core.lab import inference

    return inference.encode(model, endpoint.image)[0]


def decode_points(decode, z: np.ndarray) -> np.ndarray:
    """Decode latent points of any leading shape (..., D) → images (..., 28, 28) in [0, 1]. `decode`
    maps codes (M, D) to images (M, 28, 28, 1): a served model's `decode`, or
    `lambda z: core.lab.inference.decode(model, z)` for a Keras model."""
    z = np.asarray(z, np.float32)
    images = np.asarray(decode(z.reshape(-1, z.shape[-1])))  # (M, 28, 28, 1)
    return images[..., 0].reshape(*z.shape[:-1], 28, 28)


# ---------------------------------------------------------------------------------------------
# β trade-off
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElboTerms:
    """Mean test-set terms of a VAE, nats per image: −ELBO = reconstruction + KL (β-free)."""

    beta: float
    reconstruction: float
    kl: float

    @property
    def neg_elbo(self) -> float:
        return self.reconstruction + self.kl


def terms_from_metrics(beta: float, metrics: dict | None) -> ElboTerms | None:
    """The terms from a stored record's metrics (test_neg_elbo, test_kl), or None if missing."""
    if not metrics or "test_neg_elbo" not in metrics or "test_kl" not in metrics:
        return None
    return ElboTerms(float(beta), float(metrics["test_neg_elbo"]) - float(metrics["test_kl"]), float(metrics["test_kl"]))


def measure_terms(vae, beta: float, x: np.ndarray) -> ElboTerms:
    """The terms measured on images x, one seeded sample z ~ q(z|x) each (as core.lab.evaluate does)."""
    from core.lab import inference

    rec, kl = inference.neg_elbo(vae, x)
    return ElboTerms(float(beta), float(np.mean(rec)), float(np.mean(kl)))
