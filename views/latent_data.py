"""The Latent page's cached data and pictures: codes of the test set, decodes, figures and PNGs, each
cached on what it shows (model spec, settings, points) and shared by every session; and `Clicked`,
a point picked on a map, parsed from what the hover map (views/hover) sends.

They live here, not in the page script, because a page's script runs from the top on every rerun:
there each `@st.cache_*` decorator would be applied afresh and hash its function's source on every
rerun. Imported, they are decorated once per process. Nothing here reads widgets or session state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.figures import tiles
from core.figures.latent_map import HOVER_GRID, beta_figure, explorer_map, tiles_figure
from core.lab import latent
from core.lab.data import first_of_each_digit, mnist_for_pages, to_float
from core.lab.spec import ModelSpec
from core.lab.zoo import SHIPPED
from views.common import keras_model, model_store, read_only, served

VAES = {0.25: "vae_2d_beta0.25", 1.0: "vae_2d", 4.0: "vae_2d_beta4"}  # β → shipped 2-D VAE
AE = "ae_2d"  # the plain conv AE with a 2-D code
ZOOM = 8  # the decoded image at 224 px: big enough to see every pixel
BETA_DIGITS = 10  # reconstructions shown per β: the first test image of each digit
# Cache keys hash a spec by its key (a stable 16-hex-digit hash of its settings): Streamlit's default
# for a dataclass walks dataclasses.asdict, several times slower, and a rerun makes dozens of such calls.
BY_KEY = {ModelSpec: lambda spec: spec.key}


def decode(spec, z: np.ndarray) -> np.ndarray:
    """Latent points (..., D) → the served model's decodes (..., 28, 28) in [0, 1]."""
    return latent.decode_points(served(spec).decode, z)


# st.cache_resource, not st.cache_data, for the arrays read on every click: cache_data would unpickle
# a fresh copy on each call (7.8 MB for the test decodes). They are read-only, so sharing is safe.
@st.cache_resource(show_spinner="Encoding the MNIST test digits (once per model)…", max_entries=8, hash_funcs=BY_KEY)
def codes(spec) -> latent.Codes:
    mnist = mnist_for_pages()
    c = latent.test_codes(keras_model(spec), to_float(mnist.x_test), mnist.y_test)
    return latent.Codes(read_only(c.z), read_only(np.array(c.labels)), None if c.z_log_var is None else read_only(c.z_log_var))


@st.cache_data(show_spinner=False, max_entries=8)
def beta_terms(model_name: str) -> latent.ElboTerms:
    """The stored test metrics if the record has them, else measured once on the test set."""
    spec = SHIPPED[model_name]
    record = model_store().record(spec) or {}
    found = latent.terms_from_metrics(spec.beta, record.get("metrics"))
    return found or latent.measure_terms(keras_model(spec), spec.beta, to_float(mnist_for_pages().x_test))


@st.cache_data(show_spinner=False, max_entries=8)
def beta_reconstructions(model_name: str) -> np.ndarray:
    """(BETA_DIGITS, 28, 28): the first test image of each digit, through the VAE's posterior mean."""
    mnist = mnist_for_pages()
    first = first_of_each_digit(mnist.y_test)[:BETA_DIGITS]
    spec = SHIPPED[model_name]
    return decode(spec, served(spec).encode(to_float(mnist.x_test[first])))


@st.cache_resource(show_spinner="Decoding a fine grid over the map (once per model)…", max_entries=8, hash_funcs=BY_KEY)
def grid_decodes(spec) -> latent.GridDecodes:
    """The decodes under the pointer: a HOVER_GRID² grid over the map, decoded once per model."""
    grid = latent.click_grid(latent.extent(codes(spec).z), HOVER_GRID)  # (n², 2)
    return latent.GridDecodes(read_only(grid), read_only(tiles.to_uint8(decode(spec, grid))))


@st.cache_resource(show_spinner="Decoding the test codes (once per model)…", max_entries=8, hash_funcs=BY_KEY)
def test_decodes(spec) -> np.ndarray:
    """(N, 28, 28) uint8 (N test digits, `mnist_for_pages`): the decoder's drawing at each test digit's code (a click on a dot)."""
    return read_only(tiles.to_uint8(decode(spec, codes(spec).z)))


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_KEY)
def image_code(spec, image_bytes: bytes) -> tuple[float, float]:
    """The code of a digit (28×28 float32, as bytes: a plain hashable key): the user's drawing on the
    maps, an interpolation end. One encoder call per image and model, not one per rerun."""
    z = served(spec).encode(np.frombuffer(image_bytes, np.float32).reshape(28, 28))[0]
    return float(z[0]), float(z[1])


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_KEY)
def image_posterior(spec, image_bytes: bytes) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A VAE's q(z|x) of a digit (28×28 float32 as bytes): (z_mean, z_log_var), once per image and model."""
    z_mean, z_log_var = served(spec).encode_gaussian(np.frombuffer(image_bytes, np.float32).reshape(28, 28))
    return tuple(float(v) for v in z_mean[0]), tuple(float(v) for v in z_log_var[0])


@st.cache_data(show_spinner=False, max_entries=128, hash_funcs=BY_KEY)
def posterior_draws(spec, z_mean: tuple[float, ...], z_log_var: tuple[float, ...], n: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n seeded draws z = μ + σ ⊙ ε from q(z|x) = N(μ, diag σ²) (n, D), their decodes (n, 28, 28) and the
    decode of μ itself (28, 28), for the 'sample again' pictures."""
    z = latent.sample_posterior(np.array(z_mean), np.array(z_log_var), n, seed)
    images = decode(spec, np.concatenate([np.array(z_mean, np.float32)[None], z]))  # (1 + n, 28, 28)
    return z, images[1:], images[0]


def as_bytes(image: np.ndarray) -> bytes:
    return np.asarray(image, np.float32).tobytes()


@st.cache_data(show_spinner=False, max_entries=256, hash_funcs=BY_KEY)
def decoded_uri(spec, z1: float, z2: float, test_index: int | None) -> str:
    """The picture under a clicked point as an inline PNG: a test digit's stored decode, a click-grid
    point's, or (a point off the grid) decoded now."""
    if test_index is not None:
        image = test_decodes(spec)[test_index]
    else:
        image = grid_decodes(spec).image_at(np.array([z1, z2], np.float32))
    if image is None:  # a point off the grid (the start, or one set by a test): decode it now
        image = tiles.to_uint8(decode(spec, np.array([z1, z2], np.float32)))
    return tiles.png_data_uri(image, ZOOM)


@st.cache_resource(show_spinner=False, max_entries=32, hash_funcs=BY_KEY)
def grid_figure(spec, mode: str, n: int, z1_range: tuple[float, float], z2_range: tuple[float, float]):
    """The manifold grid's figure, n² decodes sent as one PNG, per model and setting (shared read-only)."""
    z1 = latent.grid_axes(mode, n, *z1_range)
    z2 = latent.grid_axes(mode, n, *z2_range)
    images = decode(spec, latent.grid_points(z1, z2))  # (n, n, 28, 28)
    every = max(1, n // 8)  # at most ~8 labels per axis stay legible
    ticks = tiles.tile_centres(n)
    return tiles_figure(tiles.tile(images), (ticks[::every], [f"{v:.2f}" for v in z1[::every]]),
                        (ticks[::every], [f"{v:.2f}" for v in z2[::-1][::every]]), "z₁", "z₂", height=620)


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs=BY_KEY)
def prior_png(spec, k: int, seed: int) -> str:
    """k × k decodes of the same seeded draws ε ~ N(0, I) as one inline PNG (a data: URL, which st.image
    passes on as it is; PNG bytes it would decode again on every rerun): z = ε for a VAE, and for a
    plain AE ε mapped onto the Gaussian fitted to its test codes."""
    epsilon = latent.prior_samples(k * k, seed)  # (k², 2)
    z = epsilon if spec.is_vae else latent.fitted_gaussian(codes(spec).z, epsilon)
    return tiles.png_data_uri(tiles.tile(decode(spec, z).reshape(k, k, 28, 28)), 2)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BY_KEY)
def interpolation_frames(spec, z_a: tuple[float, ...], z_b: tuple[float, ...], steps: int) -> np.ndarray:
    """(steps, 28, 28): the decodes along the straight line from z_a to z_b."""
    return decode(spec, latent.interpolate(np.array(z_a), np.array(z_b), steps))


@st.cache_resource(show_spinner=False, max_entries=64, hash_funcs=BY_KEY)
def strip_figure(spec, z_a: tuple[float, ...], z_b: tuple[float, ...], steps: int):
    frames = interpolation_frames(spec, z_a, z_b, steps)
    t = np.linspace(0, 1, steps)
    return tiles_figure(tiles.tile(frames[None]), (tiles.tile_centres(steps), [f"{v:.2f}" for v in t]),
                        x_title="t:  z(t) = (1 − t)·z_A + t·z_B", height=190)


@st.cache_resource(show_spinner=False, max_entries=16)
def beta_figures(names: tuple[str, ...], current: float):
    """The β section's bar chart (`current` β highlighted) and reconstruction grid, for the VAEs `names`."""
    terms = [beta_terms(n) for n in names]
    recs = [beta_reconstructions(n) for n in names]
    mnist = mnist_for_pages()
    originals = to_float(mnist.x_test[first_of_each_digit(mnist.y_test)[:BETA_DIGITS]])[..., 0]  # (BETA_DIGITS, 28, 28)
    labels = ["input", *[f"β = {SHIPPED[n].beta:g}" for n in names]]
    # One tiled PNG, as the grid and the strip: one heatmap trace per image is slow to serialise.
    rows = np.stack([originals, *recs])  # (1 + len(names), BETA_DIGITS, 28, 28)
    ticks = tiles.tile_centres(len(rows))
    grid = tiles_figure(tiles.tile(rows), (tiles.tile_centres(BETA_DIGITS), [str(d) for d in range(BETA_DIGITS)]),
                        (ticks, labels), x_title="the first test image of each digit", height=70 * len(rows) + 60)
    return beta_figure(terms, current), grid


@st.cache_resource(show_spinner=False, max_entries=32, hash_funcs=BY_KEY)
def map_figure(spec, marks: tuple[tuple[str, float, float], ...]) -> dict:
    """The hover map's unchanging part (`explorer_map`: codes, grid decodes, marks), built once per model
    and set of marks, not on every click. Never mutated: the page only sends it."""
    c = codes(spec)
    note = " (mean of q(z|x))" if spec.is_vae else " (code)"
    return explorer_map(c.z, c.labels, latent.extent(c.z), grid_decodes(spec).images,
                        {n: (z1, z2) for n, z1, z2 in marks}, axis_note=note)


# ---------------------------------------------------------------------------------------------
# Clicks on the map (the page keeps the last one per model in session state)


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


def clicked_from_pick(pick: dict | None) -> Clicked | None:
    """The point the hover map sends on a click ({z1, z2, index}: index ≥ 0 for a test digit's dot, −1
    for a point of the grid), or None if it sent nothing usable."""
    if not isinstance(pick, dict):
        return None
    z1, z2, index = pick.get("z1"), pick.get("z2"), pick.get("index")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in (z1, z2)):
        return None
    index = int(index) if isinstance(index, int | float) and not isinstance(index, bool) and index >= 0 else None
    return Clicked(float(z1), float(z2), index)
