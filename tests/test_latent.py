"""core.lab.latent and core.figures.latent_map: grid, quantile, interpolation, prior-tail and posterior
maths against independent references; the maps (plotly and the hover map's payloads) and figures."""

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


def test_one_latent_map_draws_the_stars_last_as_webgl_above_the_points():
    """plotly draws every WebGL trace above every SVG one: the ★ must be a WebGL trace, added last."""
    from core.figures.latent_map import latent_map

    rng = np.random.default_rng(3)
    z, labels = rng.normal(size=(500, 2)), rng.integers(0, 10, 500)
    fig = latent_map(z, labels, {"your drawing": (0.1, 0.2)})
    digits, stars = fig.data[:10], fig.data[10:]
    assert [t.name for t in digits] == [str(d) for d in range(10)] and len(set(t.marker.color for t in digits)) == 10
    assert [t.type for t in fig.data] == ["scattergl"] * 11  # no SVG trace to sink under the WebGL points
    assert len(stars) == 1 and stars[0].marker.symbol == "star" and list(stars[0].text) == ["★"]
    assert stars[0].name == "★ your drawing"
    # Cluster labels: each digit's numeral at the median of its codes.
    labels_at = {a.text: (a.x, a.y) for a in fig.layout.annotations}
    for d in range(10):
        assert labels_at[f"<b>{d}</b>"] == pytest.approx(tuple(np.median(z[labels == d], axis=0)), abs=1e-5)


def test_several_marks_are_numbered_and_named_in_the_legend():
    from core.figures.latent_map import latent_map
    from core.figures.plots import reference_histogram

    rng = np.random.default_rng(4)
    marks = {"a.png": (0.0, 0.0), "b.png": (0.1, 0.1), "c.png": (0.1, 0.1)}  # two land on the same spot
    fig = latent_map(rng.normal(size=(100, 2)), rng.integers(0, 10, 100), marks)
    stars = fig.data[10:]
    assert [list(t.text) for t in stars] == [["★1"], ["★2"], ["★3"]]
    assert [t.name for t in stars] == ["★1 a.png", "★2 b.png", "★3 c.png"]
    hist = reference_histogram(rng.random(300), {"a.png": 0.2, "b.png": 0.5}, "BCE")
    assert [a.text for a in hist.layout.annotations] == ["★1", "★2"]  # short labels on the plot…
    assert [t.name for t in hist.data[1:]] == ["★1 a.png", "★2 b.png"]  # …names in the legend
    single = reference_histogram(rng.random(300), {"your drawing": 0.2}, "BCE")
    assert [a.text for a in single.layout.annotations] == ["★"]


def test_explorer_map_sends_codes_grid_and_marks_once():
    import base64
    import json

    from core.figures.latent_map import cluster_centres, explorer_map

    rng = np.random.default_rng(5)
    z, labels = rng.normal(size=(300, 2)).astype(np.float32), rng.integers(0, 10, 300)
    box = latent.extent(z)
    images = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)
    payload = explorer_map(z, labels, box, images, {"your drawing": (0.5, -0.5)}, axis_note=" (code)")
    assert json.loads(json.dumps(payload)) == payload  # JSON-ready
    assert payload["n"] == 4 and payload["count"] == 300 and payload["box"] == pytest.approx([*box[0], *box[1]])
    assert_allclose(np.frombuffer(base64.b64decode(payload["points"]), np.float32).reshape(-1, 2), z)
    assert np.array_equal(np.frombuffer(base64.b64decode(payload["labels"]), np.uint8), labels)
    assert np.array_equal(np.frombuffer(base64.b64decode(payload["grid"]), np.uint8).reshape(16, 28, 28), images)
    assert payload["centres"] == [list(c) for c in cluster_centres(z, labels)]
    assert payload["marks"] == [{"label": "★", "name": "your drawing", "z": [0.5, -0.5]}]
    assert payload["x_title"] == "z₁ (code)"
    # The browser finds a grid cell by arithmetic on `box` and `n`: the grid must be click_grid's order.
    grid = latent.click_grid(box, 4)
    (x0, x1), (y0, y1) = box
    for k in (0, 5, 15):
        ix, iy = round((grid[k, 0] - x0) / (x1 - x0) * 3), round((grid[k, 1] - y0) / (y1 - y0) * 3)
        assert iy * 4 + ix == k
    other = explorer_map(z, labels, box, images, {"your drawing": (0.6, -0.5)})
    assert other["id"] != payload["id"]  # a new mark is a new map for the browser


def test_explorer_overlay_draws_each_posterior_as_1_and_2_sigma_rings():
    from core.figures.latent_map import explorer_overlay

    mu, sigma = np.array([0.5, -1.0]), np.array([0.2, 0.05])
    samples = latent.sample_posterior(mu, 2 * np.log(sigma), 4, seed=0)
    overlay = explorer_overlay((0.5, -1.0), [("test digit #3", mu, sigma)], samples)
    assert overlay["pin"] == [0.5, -1.0]
    (ellipse,) = overlay["ellipses"]
    assert ellipse["mu"] == [0.5, -1.0] and [r["k"] for r in ellipse["rings"]] == [1.0, 2.0]
    for ring in ellipse["rings"]:
        pts = np.array(ring["points"])
        assert_allclose(np.sum(((pts - mu) / sigma) ** 2, axis=1), ring["k"] ** 2, rtol=2e-3)
    assert_allclose(overlay["samples"], samples, atol=1e-4)
    assert explorer_overlay(None) == {"pin": None, "ellipses": [], "samples": []}


# --- the posterior q(z|x) ------------------------------------------------------------------------


def test_posterior_samples_have_the_posteriors_mean_and_spread():
    mu, log_var = np.array([1.5, -0.5, 0.0]), np.log(np.array([0.04, 1.0, 2.25]))  # σ = 0.2, 1, 1.5
    z = latent.sample_posterior(mu, log_var, latent.MAX_SAMPLES, seed=1)
    many = np.concatenate([latent.sample_posterior(mu, log_var, latent.MAX_SAMPLES, seed=s) for s in range(200)])
    assert z.shape == (latent.MAX_SAMPLES, 3) and z.dtype == np.float32
    assert_allclose(many.mean(axis=0), mu, atol=0.02)  # 51 200 draws: the standard error is ≤ 0.007
    assert_allclose(many.std(axis=0), [0.2, 1.0, 1.5], rtol=0.02)
    assert_allclose(np.corrcoef(many.T)[0, 1], 0.0, atol=0.02)  # diagonal: independent dimensions
    assert np.array_equal(latent.sample_posterior(mu, log_var, 8, seed=7), latent.sample_posterior(mu, log_var, 8, seed=7))
    assert not np.array_equal(latent.sample_posterior(mu, log_var, 8, seed=7), latent.sample_posterior(mu, log_var, 8, seed=8))
    # z = μ + σ ⊙ ε with ε from numpy's generator for that seed, drawn independently here.
    epsilon = np.random.default_rng(3).standard_normal((5, 3))
    assert_allclose(latent.sample_posterior(mu, log_var, 5, seed=3), mu + np.sqrt(np.exp(log_var)) * epsilon, rtol=1e-6)
    with pytest.raises(LatentLabError, match="number of samples"):
        latent.sample_posterior(mu, log_var, 0, seed=0)


@pytest.mark.parametrize("k", [1.0, 2.0, 0.5])
def test_ellipse_points_lie_on_the_k_sigma_ellipse(k):
    mu, sigma = np.array([-0.3, 2.0]), np.array([0.7, 0.1])
    pts = latent.ellipse_points(mu, sigma, k, m=48)
    assert pts.shape == (49, 2)
    assert_allclose(pts[0], pts[-1], atol=1e-6)  # a closed curve
    assert_allclose(np.sum(((pts - mu) / sigma) ** 2, axis=1), k * k, rtol=1e-5)
    assert_allclose(pts.max(axis=0) - pts.min(axis=0), 2 * k * sigma, rtol=1e-3)  # semi-axes k·σᵢ
    # The share of draws inside: 1 − exp(−k²/2), against Monte Carlo.
    z = np.random.default_rng(0).standard_normal((200_000, 2))
    assert latent.ellipse_mass(k) == pytest.approx(np.mean(np.sum(z**2, axis=1) <= k * k), abs=0.005)


def test_sigma_is_the_square_root_of_the_variance():
    assert_allclose(latent.sigma_of(np.log([0.25, 4.0])), [0.5, 2.0])


@pytest.mark.parametrize(("p", "text"), [(0.666, "66.6 %"), (1.0, "100.0 %"), (0.0012, "0.1 %"), (0.0009, "< 0.1 %"),
                                         (1e-9, "< 0.1 %"), (0.0, "0.0 %")])
def test_shares_never_read_zero_when_they_are_not(p, text):
    assert latent.share_text(p) == text


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


