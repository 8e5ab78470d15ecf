"""core.lab.latent and core.figures.latent_map: grid, quantile, interpolation and prior-tail maths
against independent references; the map's click grid and figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.errors import LatentLabError
from core.lab import latent


def _phi(z: float) -> float:
    """Standard normal CDF via math.erf: a reference independent of statistics.NormalDist."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


# --- grids ------------------------------------------------------------------------------------


def test_range_axis_is_evenly_spaced_with_both_ends():
    z = latent.grid_axes("range", 7, -2.0, 4.0)
    assert_allclose(z, [-2.0 + i * 1.0 for i in range(7)], atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 15, latent.MAX_GRID])
def test_quantile_axis_puts_equal_prior_mass_in_each_tile(n):
    z = latent.grid_axes("quantiles", n)
    assert_allclose([_phi(v) for v in z], [(i + 0.5) / n for i in range(n)], atol=1e-12)
    assert_allclose(z, -z[::-1], atol=1e-12)  # symmetric about 0
    assert np.all(np.diff(z) > 0)


def test_quantile_axis_matches_tabulated_values():
    # Φ⁻¹(0.75) = 0.6744897501960817 and Φ⁻¹(0.975) = 1.959963984540054 (standard tables).
    assert_allclose(latent.grid_axes("quantiles", 2), [-0.6744897501960817, 0.6744897501960817], atol=1e-12)
    assert latent.grid_axes("quantiles", 20)[19] == pytest.approx(1.959963984540054, abs=1e-12)


@pytest.mark.parametrize(("args", "fragment"), [
    (("spiral", 5), "valid modes: range, quantiles"),
    (("range", 0), "grid size must be a whole number in 1..30, got 0"),
    (("range", latent.MAX_GRID + 1), "got 31"),
    (("range", 5, 2.0, 2.0), "low < high, got 2.0 to 2.0"),
    (("range", 5, 0.0, float("nan")), "low < high"),
])
def test_bad_grid_requests_name_the_bad_value(args, fragment):
    with pytest.raises(LatentLabError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        latent.grid_axes(*args)


def test_grid_points_put_the_largest_z2_on_top_like_the_map():
    z1, z2 = np.array([-1.0, 0.0, 1.0, 2.0]), np.array([10.0, 20.0, 30.0])
    pts = latent.grid_points(z1, z2)
    assert pts.shape == (3, 4, 2)
    for i in range(3):  # reference: row i from the top has the i-th largest z₂; column j has z1[j]
        for j in range(4):
            assert tuple(pts[i, j]) == (z1[j], sorted(z2, reverse=True)[i])


# --- interpolation, prior, fitted Gaussian ---------------------------------------------------------


def test_interpolation_is_linear_with_exact_ends():
    z_a, z_b, steps = np.array([1.0, -2.0]), np.array([-3.0, 5.0]), 9
    path = latent.interpolate(z_a, z_b, steps)
    reference = np.array([[a + (b - a) * k / (steps - 1) for a, b in zip(z_a, z_b, strict=True)] for k in range(steps)])
    assert path.shape == (steps, 2)
    assert_allclose(path, reference, atol=1e-6)
    assert_allclose(path[0], z_a) and assert_allclose(path[-1], z_b)
    assert_allclose(np.diff(path, axis=0), np.tile((z_b - z_a) / (steps - 1), (steps - 1, 1)), atol=1e-6)


def test_interpolation_rejects_bad_requests():
    with pytest.raises(LatentLabError, match="steps must be a whole number in 2..32, got 1"):
        latent.interpolate(np.zeros(2), np.ones(2), 1)
    with pytest.raises(LatentLabError, match="same latent space, got sizes 2 and 3"):
        latent.interpolate(np.zeros(2), np.ones(3), 5)


def test_prior_samples_are_seeded_standard_normal():
    a, b = latent.prior_samples(256, seed=7), latent.prior_samples(256, seed=7)
    assert a.shape == (256, 2) and a.dtype == np.float32
    assert_allclose(a, b)
    assert not np.allclose(a, latent.prior_samples(256, seed=8))
    big = np.random.default_rng(7).standard_normal((256, 2)).astype(np.float32)
    assert_allclose(a, big)  # exactly numpy's generator: reproducible outside the app too
    with pytest.raises(LatentLabError, match="number of samples"):
        latent.prior_samples(0, seed=0)


def test_fitted_gaussian_has_the_codes_mean_and_covariance():
    rng = np.random.default_rng(0)
    codes = rng.multivariate_normal([10.0, -4.0], [[9.0, 2.5], [2.5, 1.5]], size=50_000)
    eps = rng.standard_normal((200_000, 2))
    out = latent.fitted_gaussian(codes, eps)
    assert_allclose(out.mean(axis=0), codes.mean(axis=0), atol=0.03)
    assert_allclose(np.cov(out, rowvar=False), np.cov(codes, rowvar=False), rtol=0.02, atol=0.02)


# --- prior tail -------------------------------------------------------------------------------


def test_prior_tail_matches_monte_carlo():
    eps = np.random.default_rng(2).standard_normal((400_000, 2))
    radius = np.linalg.norm(eps, axis=1)
    for z in ([0.0, 0.0], [1.0, 0.0], [1.2, -1.5], [0.0, 3.0]):
        assert latent.prior_tail(np.array(z)) == pytest.approx(np.mean(radius > np.linalg.norm(z)), abs=0.003)


# --- map geometry and clicks ------------------------------------------------------------------


def test_extent_covers_the_codes_with_a_margin():
    z = np.array([[0.0, -1.0], [10.0, 3.0], [5.0, 1.0]])
    (x_lo, x_hi), (y_lo, y_hi) = latent.extent(z, pad=0.1)
    assert (x_lo, x_hi) == pytest.approx((-1.0, 11.0)) and (y_lo, y_hi) == pytest.approx((-1.4, 3.4))
    (x_lo, x_hi), _ = latent.extent(np.array([[2.0, 2.0]]))
    assert x_lo < 2.0 < x_hi  # one point still gets a box


@pytest.mark.parametrize(("kind", "dim", "mappable"), [
    ("vae", 2, True), ("ae_2d", 2, True), ("lesson", 2, True), ("conv_ae", 2, True),
    ("vae", 16, False), ("lesson", 16, False),
    ("denoise", 2, False),  # its code is a (7, 7, 2) feature map, not a point
])
def test_only_models_coding_a_digit_as_a_2d_point_make_a_map(kind, dim, mappable):
    from core.lab.spec import ModelSpec

    assert latent.has_2d_code(ModelSpec(kind, latent_dim=dim)) is mappable


def test_click_grid_matches_the_figure_and_finds_stored_images():
    box = ((-2.0, 3.0), (-1.0, 1.0))
    grid = latent.click_grid(box, 11)
    assert grid.shape == (121, 2)
    assert_allclose(grid[:11, 0], np.linspace(-2, 3, 11), atol=1e-4)  # z₁ runs fastest
    assert_allclose(grid[::11, 1], np.linspace(-1, 1, 11), atol=1e-4)
    images = np.arange(121, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    decodes = latent.GridDecodes(grid, images)
    # A click reports the grid point's own (rounded) coordinates, as plotly sends them back in JSON.
    k = 57
    assert decodes.image_at(np.array([float(grid[k, 0]), float(grid[k, 1])]))[0, 0] == k
    assert decodes.image_at(np.array([0.123, 0.456])) is None  # not a grid point: decode it live


def test_endpoint_points_only_make_sense_in_their_own_space():
    end = latent.Endpoint("A", z=(1.0, 2.0), model="vae_2d")
    assert_allclose(latent.endpoint_code(end, None, "vae_2d"), [1.0, 2.0])
    with pytest.raises(LatentLabError, match="'vae_2d', not 'ae_2d'"):
        latent.endpoint_code(end, None, "ae_2d")


def test_explorer_figure_has_a_click_grid_over_the_whole_map():
    from core.figures.latent_map import CLICK_GRID, explorer_figure

    rng = np.random.default_rng(3)
    z, labels = rng.normal(size=(500, 2)), rng.integers(0, 10, 500)
    box = latent.extent(z)
    fig = explorer_figure(z, labels, box, marks={"your drawing": (0.1, 0.2)})
    grid, digits, mark = fig.data[0], fig.data[1:11], fig.data[11]
    assert len(grid.x) == CLICK_GRID**2 and grid.showlegend is False
    assert (min(grid.x), max(grid.x)) == pytest.approx(box[0], abs=1e-3)
    assert (min(grid.y), max(grid.y)) == pytest.approx(box[1], abs=1e-3)
    assert tuple(fig.layout.xaxis.range) == pytest.approx(box[0]) and tuple(fig.layout.yaxis.range) == pytest.approx(box[1])
    step = (box[0][1] - box[0][0]) / (CLICK_GRID - 1)
    # On a 400 px map the farthest a click can be from a grid point is half a cell's diagonal:
    # well inside plotly's 20 px hover distance, so the grid point, not nothing, gets selected.
    assert step / (box[0][1] - box[0][0]) * 400 * math.sqrt(2) / 2 < 10
    assert [t.name for t in digits] == [str(d) for d in range(10)]
    assert sorted(int(i) for t in digits for i in t.customdata) == list(range(500))
    for t in digits:  # each point's customdata is its own index, so a click names the test digit
        assert np.all(labels[np.asarray(t.customdata)] == int(t.name))
    assert len(set(t.marker.color for t in digits)) == 10
    assert mark.name == "your digit" and list(mark.text) == ["your drawing"]


# --- β trade-off ------------------------------------------------------------------------------


def test_terms_from_stored_metrics():
    t = latent.terms_from_metrics(4.0, {"test_neg_elbo": 150.0, "test_kl": 3.5, "test_bce": 0.2})
    assert (t.beta, t.reconstruction, t.kl, t.neg_elbo) == (4.0, 146.5, 3.5, 150.0)
    assert latent.terms_from_metrics(1.0, None) is None
    assert latent.terms_from_metrics(1.0, {"test_bce": 0.2}) is None


def test_beta_figure_shows_three_terms_per_beta():
    from core.figures.latent_map import beta_figure

    terms = [latent.ElboTerms(b, r, k) for b, r, k in ((4.0, 150.0, 3.0), (0.25, 130.0, 12.0), (1.0, 135.0, 6.0))]
    fig = beta_figure(terms, current=1.0)
    assert len(fig.data) == 3
    assert list(fig.data[0].x) == ["β = 0.25", "β = 1", "β = 4"]  # sorted by β
    assert list(fig.data[1].y) == [12.0, 6.0, 3.0] and list(fig.data[2].y) == [142.0, 141.0, 153.0]
    assert len(set(fig.data[0].marker.color)) == 2  # the current β stands out


