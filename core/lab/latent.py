"""Latent-space maths for the explorer: codes of the test set, grids, prior samples, interpolation,
and export of decoded images as PNG and animated GIF.

Everything works on 2-D latent spaces (the VAEs and the AE with a 2-D code), whose points are
(z₁, z₂) pairs. Grids are laid out as images are: row 0 at the *top* holds the *largest* z₂, so a
grid of decoded digits reads like the scatter plot it was cut from. Functions that need a model
import TensorFlow lazily; the rest is numpy and Pillow, testable without a model.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from PIL import Image

from core.errors import LatentLabError

GRID_MODES = {"range": "over a range", "quantiles": "over Gaussian quantiles"}
MAX_GRID = 30  # 30×30 = 900 decodes: under a second on a CPU, and still legible at ~20 px a digit
MAX_STEPS = 32  # interpolation steps
MAX_SAMPLES = 256
EXTENT_PAD = 0.08  # margin around the codes, as a share of their span: room to click beyond the clusters
GIF_MS = 120  # per frame: 10 steps there and back in ~2.4 s, slow enough to follow one stroke morphing


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


def has_2d_code(spec) -> bool:
    """True if the model of `spec` (a `core.lab.spec.ModelSpec`) codes a digit as a point (z₁, z₂), so it
    can be drawn as a latent map: a VAE or plain AE with latent_dim 2. The denoiser's code is a
    (7, 7, latent_dim) feature map, not a vector, whatever its latent_dim."""
    return spec.kind != "denoise" and spec.latent_dim == 2


def test_codes(model, x: np.ndarray, labels: np.ndarray) -> Codes:
    """Encode images x (N, 28, 28[, 1]) in [0, 1]. VAEs keep the spread of q(z|x) as well."""
    from core.lab.models import VAE
    from core.serving import infer

    if isinstance(model, VAE):
        z_mean, z_log_var = infer.encode_gaussian(model, x)
        codes = Codes(z_mean, np.asarray(labels), z_log_var)
    else:
        codes = Codes(infer.encode(model, x), np.asarray(labels))
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


def kl_to_prior(z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    """KL(N(μ, diag σ²) ‖ N(0, I)) in nats, closed form ½ Σ_d (μ_d² + σ_d² − log σ_d² − 1): (N, D) → (N,)."""
    z_mean, z_log_var = np.asarray(z_mean, np.float64), np.asarray(z_log_var, np.float64)
    return 0.5 * np.sum(np.square(z_mean) + np.exp(z_log_var) - z_log_var - 1.0, axis=-1)


def click_grid(box: tuple[tuple[float, float], tuple[float, float]], n: int) -> np.ndarray:
    """(n², 2) points of an n×n grid spanning `box`, z₁ fastest (numpy.meshgrid order), rounded to
    4 decimals: exactly the coordinates the map's invisible click targets carry and report back."""
    (x_lo, x_hi), (y_lo, y_hi) = box
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n))  # (n, n) each
    return np.round(np.stack([gx.ravel(), gy.ravel()], axis=-1), 4).astype(np.float32)


@dataclass(frozen=True)
class GridDecodes:
    """What the decoder draws at every point of a map's click grid, computed once per model so that
    a click is a lookup, not a TensorFlow call (on a small server, TensorFlow's worker threads would
    compete with the browser for the CPU): the grid (n², 2) and its images (n², 28, 28) uint8."""

    grid: np.ndarray
    images: np.ndarray

    def image_at(self, z: np.ndarray) -> np.ndarray | None:
        """The stored image (28, 28) if z (2,) is one of the grid points (as a click reports it), else None."""
        d = np.abs(self.grid - np.asarray(z, np.float32)).max(axis=1)  # (n²,) Chebyshev distance to each grid point
        i = int(np.argmin(d))
        return self.images[i] if d[i] < 1e-3 else None


def decode_grid(model, z: np.ndarray, n: int) -> GridDecodes:
    """Decode the n×n click grid over `extent(z)` of the codes z (N, 2)."""
    grid = click_grid(extent(z), n)
    return GridDecodes(grid, to_uint8(decode_points(model, grid)))


# ---------------------------------------------------------------------------------------------
# Clicks on the map
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clicked:
    """A point picked on a map: its latent coordinates and, if it was a test digit, its index."""

    z1: float
    z2: float
    test_index: int | None = None

    @property
    def z(self) -> np.ndarray:
        return np.array([self.z1, self.z2], dtype=np.float32)

    def describe(self) -> str:
        where = f"z = ({self.z1:+.2f}, {self.z2:+.2f})"
        return where if self.test_index is None else f"{where}, the centre of test digit #{self.test_index}"


def clicked_from_selection(selection: dict | None) -> Clicked | None:
    """The first point of a Streamlit plotly selection (`event.selection`), or None if empty.

    Points carry "x", "y" and, for test digits, "customdata" = the test index (the invisible
    click grid has none, so a click on empty space gives a bare point)."""
    points = (selection or {}).get("points") or []
    if not points:
        return None
    p = points[0]
    if p.get("x") is None or p.get("y") is None:
        return None
    custom = p.get("customdata")
    custom = custom[0] if isinstance(custom, list | tuple) and custom else custom
    index = int(custom) if isinstance(custom, int | float) and not isinstance(custom, bool) and custom >= 0 else None
    return Clicked(float(p["x"]), float(p["y"]), index)


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
    from core.serving import infer

    return infer.encode(model, endpoint.image)[0]


class Decoder:
    """A model's decoder as one compiled TensorFlow graph (what `core.serving.infer.Compiled` is for the whole
    model): codes (M, D) float32 → images (M, 28, 28, 1). For pages that decode a few points per
    rerun: on the 2-core server the 2-D VAE's decoder takes ~7 ms eagerly for 10 points and the
    2-D conv AE's ~19 ms, the graph 2–4 ms. The first call traces it (~0.1 s). `decode_points`
    takes one in place of the model."""

    def __init__(self, model) -> None:
        import tensorflow as tf

        from core.lab.models import decoder_of

        decoder = decoder_of(model)
        code_shape = tuple(decoder.inputs[0].shape[1:])  # (D,): one signature, any batch size
        self._fn = tf.function(lambda z: decoder(z, training=False), autograph=False,
                               input_signature=[tf.TensorSpec((None, *code_shape), tf.float32)])

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(np.asarray(z, np.float32)))


def decode_points(model, z: np.ndarray) -> np.ndarray:
    """Decode latent points of any leading shape (..., 2) → images (..., 28, 28) in [0, 1]. `model`
    is a model or its compiled `Decoder`."""
    from core.serving import infer

    z = np.asarray(z, np.float32)
    flat = z.reshape(-1, z.shape[-1])  # (M, D)
    images = model(flat) if isinstance(model, Decoder) else infer.decode(model, flat)  # (M, 28, 28, 1)
    return images[..., 0].reshape(*z.shape[:-1], 28, 28)


# ---------------------------------------------------------------------------------------------
# Images: tiling, upscaling, PNG and GIF bytes
# ---------------------------------------------------------------------------------------------


def tile(images: np.ndarray, pad: int = 2, pad_value: float = 0.25) -> np.ndarray:
    """(rows, cols, h, w) images → one (rows·(h+pad) + pad, cols·(w+pad) + pad) image, with a
    grey gutter (`pad_value`) so neighbouring black backgrounds stay apart."""
    images = np.asarray(images, np.float32)
    if images.ndim == 3:  # a single row
        images = images[None]
    rows, cols, h, w = images.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, np.float32)
    for i in range(rows):
        for j in range(cols):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = images[i, j]
    return out


def tile_centres(count: int, size: int = 28, pad: int = 2) -> np.ndarray:
    """Pixel coordinates of the centres of `count` tiles along one axis of `tile`'s output."""
    return pad + np.arange(count) * (size + pad) + (size - 1) / 2


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8 0..255 (clipped, rounded); uint8 input is returned as it is."""
    if np.asarray(image).dtype == np.uint8:
        return np.asarray(image)
    return np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (h, w) → (h·factor, w·factor): crisp pixels at any size."""
    image = np.asarray(image)
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def png_bytes(image: np.ndarray, scale: int = 4) -> bytes:
    """A greyscale PNG of a [0, 1] (or uint8) image (h, w), enlarged `scale`× without blurring."""
    buf = io.BytesIO()
    Image.fromarray(upscale(to_uint8(image), scale), mode="L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_data_uri(image: np.ndarray, scale: int = 8) -> str:
    """The image as an inline `data:` URL (a few kB): the browser shows it without a second request."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, scale)).decode("ascii")


def strip_png(frames: np.ndarray, scale: int = 4, pad: int = 2) -> bytes:
    """The interpolation strip as one PNG: frames (N, 28, 28) side by side."""
    return png_bytes(tile(np.asarray(frames)[None], pad=pad), scale)


def gif_bytes(frames: np.ndarray, scale: int = 6, ms_per_frame: int = GIF_MS, bounce: bool = True) -> bytes:
    """An endlessly looping animated GIF of frames (N, 28, 28) in [0, 1].

    With `bounce` it plays there and back (A → B → A) without repeating the end frames, so the loop
    has no jump: N frames become 2N − 2."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or len(frames) < 1:
        raise LatentLabError(f"an animation needs frames of shape (N, height, width), got {frames.shape}")
    order = list(range(len(frames))) + (list(range(len(frames) - 2, 0, -1)) if bounce else [])
    pictures = [Image.fromarray(upscale(to_uint8(frames[i]), scale), mode="L") for i in order]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame,
                     loop=0, disposal=1, optimize=False)  # optimize=False: identical frames must stay frames
    return buf.getvalue()


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
    from core.serving import infer

    rec, kl = infer.neg_elbo(vae, x)
    return ElboTerms(float(beta), float(np.mean(rec)), float(np.mean(kl)))
