"""core.figures.plots builds its image grids' layout by hand (make_subplots is ~5x slower): the result must be
what make_subplots gives, checked against make_subplots itself."""

from __future__ import annotations

import numpy as np
import pytest
from plotly.subplots import make_subplots

from core.figures.plots import _subplot_layout, image_grid, image_row


def _axes(layout: dict) -> dict:
    return {k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))}


@pytest.mark.parametrize(("rows", "cols", "h", "v"), [(1, 4, 0.02, 0.0), (2, 8, 0.01, 0.04), (3, 2, 0.1, 0.2)])
def test_subplot_layout_matches_make_subplots(rows, cols, h, v):
    titles = [f"t{i}" for i in range(cols)]
    reference = make_subplots(rows=rows, cols=cols, horizontal_spacing=h, vertical_spacing=v,
                              subplot_titles=titles).to_dict()["layout"]
    ours = _subplot_layout(rows, cols, h, v, titles)
    ref_axes, our_axes = _axes(reference), _axes(ours)
    assert set(ref_axes) == set(our_axes)
    for key, axis in ref_axes.items():
        assert our_axes[key]["anchor"] == axis["anchor"], key
        np.testing.assert_allclose(our_axes[key]["domain"], axis["domain"], atol=1e-12, err_msg=key)
    assert len(ours["annotations"]) == len(reference["annotations"]) == cols
    for a, b in zip(ours["annotations"], reference["annotations"], strict=True):
        assert (a["text"], a["xanchor"], a["yanchor"], a["xref"], a["yref"]) == (b["text"], b["xanchor"], b["yanchor"], b["xref"], b["yref"])
        assert a["x"] == pytest.approx(b["x"], abs=1e-12) and a["y"] == pytest.approx(b["y"], abs=1e-12)
        assert a["font"]["size"] == b["font"]["size"] and a["showarrow"] is b["showarrow"] is False


def test_image_row_puts_each_image_on_its_own_square_axes():
    images = [np.full((28, 28), v, np.float32) for v in (0.0, 0.5, 1.0)]
    figure = image_row(images, ["clean<br>digit", "noisy", "rebuilt"], height=300)
    fig = figure.to_dict()
    assert [t["type"] for t in fig["data"]] == ["heatmap"] * 3
    assert [(t["xaxis"], t["yaxis"]) for t in fig["data"]] == [("x", "y"), ("x2", "y2"), ("x3", "y3")]
    assert [t["name"] for t in fig["data"]] == ["clean", "noisy", "rebuilt"]  # the title's first line
    np.testing.assert_array_equal(np.asarray(figure.data[1].z), images[1])
    layout = fig["layout"]
    assert layout["height"] == 300 and [a["text"] for a in layout["annotations"]] == ["clean<br>digit", "noisy", "rebuilt"]
    for s in ("", "2", "3"):
        assert layout[f"xaxis{s}"]["scaleanchor"] == f"y{s}" and layout[f"yaxis{s}"]["autorange"] == "reversed"


def test_image_grid_names_each_row_on_its_first_axis():
    rows = [[np.zeros((28, 28))] * 5, [np.ones((28, 28, 1))] * 5]
    fig = image_grid(rows, ["input", "rebuilt"], [f"{i}" for i in range(5)]).to_dict()
    layout = fig["layout"]
    assert len(fig["data"]) == 10 and fig["data"][5]["xaxis"] == "x6"
    assert layout["yaxis"]["title"]["text"] == "input" and layout["yaxis6"]["title"]["text"] == "rebuilt"
    assert layout["yaxis2"]["visible"] is False and layout["height"] == 2 * 70 + 40
    assert [a["text"] for a in layout["annotations"]] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("position", ["top", "top right", "bottom right"])
def test_vline_is_what_add_vline_adds(position):
    import plotly.graph_objects as go

    from core.figures.plots import _vline

    reference = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    reference.add_vline(x=0.4, line_color="black", line_dash="dash", annotation_text="t", annotation_position=position)
    shape, label = _vline(0.4, "t", position, color="black", dash="dash")
    ours = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout=dict(shapes=[shape], annotations=[label]))
    assert ours.to_dict()["layout"]["shapes"] == reference.to_dict()["layout"]["shapes"]
    assert ours.to_dict()["layout"]["annotations"] == reference.to_dict()["layout"]["annotations"]


def test_score_histogram_marks_threshold_and_drawings():
    from core.figures.plots import score_histogram

    rng = np.random.default_rng(0)
    fig = score_histogram(rng.random(500), rng.random(200) + 0.5, 0.7, "BCE", marks={"your drawing": 0.9}).to_dict()
    assert [t["type"] for t in fig["data"]] == ["histogram", "histogram"]
    assert [s["x0"] for s in fig["layout"]["shapes"]] == [0.7, 0.9]
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["threshold", "your drawing"]


def test_code_figure_shows_each_models_code_and_a_vaes_sigma():
    from core.figures.plots import code_figure

    ae, mu, sigma = np.linspace(-1, 1, 16), np.array([0.5, -1.5]), np.array([0.1, 0.3])
    fig = code_figure([("AE: code", ae, None), ("VAE: μ ± σ", mu, sigma)])
    bars = fig.data
    assert [t.type for t in bars] == ["bar", "bar"] and [(t.xaxis, t.yaxis) for t in bars] == [("x", "y"), ("x2", "y2")]
    np.testing.assert_allclose(bars[0].y, ae)
    assert list(bars[0].x) == list(range(1, 17)) and bars[0].error_y.array is None
    np.testing.assert_allclose(bars[1].y, mu)
    np.testing.assert_allclose(bars[1].error_y.array, sigma)  # μ with ±σ whiskers
    assert [a.text for a in fig.layout.annotations] == ["AE: code", "VAE: μ ± σ"]


def _vae_epochs():
    return [{"epoch": e, "loss": 200 - 15 * e, "reconstruction_loss": 190 - 17 * e, "kl_loss": 10 + e,
             "val_loss": 198 - 15 * e, "val_reconstruction_loss": 188 - 17 * e, "val_kl_loss": 10.5 + e} for e in (1, 2, 3)]


def test_loss_curves_put_kl_on_its_own_axis_and_cut_off_no_point():
    """A VAE's KL (~14) would be squashed flat on the total's axis (~130): it has a right-hand axis of its own,
    and every point, the first epoch's and the running marker included, lies inside its axis range with room."""
    from core.figures.plots import loss_curves

    fig = loss_curves(_vae_epochs(), {"loss": 150.0, "reconstruction_loss": 135.0, "kl_loss": 14.5}, 3.4)
    layout = fig.layout
    assert layout.yaxis2.overlaying == "y" and layout.yaxis2.side == "right"
    kl = [t for t in fig.data if t.name is None or t.name.startswith("KL")]
    others = [t for t in fig.data if t not in kl]
    assert kl and all(t.yaxis == "y2" for t in fig.data if t.name and t.name.startswith("KL"))
    assert all(t.yaxis in (None, "y") for t in others if t.name)
    for axis, traces in (("y", [t for t in fig.data if t.yaxis in (None, "y")]), ("y2", [t for t in fig.data if t.yaxis == "y2"])):
        lo, hi = (layout.yaxis if axis == "y" else layout.yaxis2).range
        values = [v for t in traces for v in t.y]
        room = 0.05 * (max(values) - min(values))
        assert lo < min(values) - room and max(values) + room < hi, axis
    xlo, xhi = layout.xaxis.range
    xs = [x for t in fig.data for x in t.x]
    assert xlo < min(xs) - 0.2 and max(xs) + 0.2 < xhi  # the first epoch's points are not on the edge
    assert layout.yaxis2.range[1] < 30  # KL spans its own axis, not the total's 0–200


def test_loss_curves_of_a_plain_ae_have_one_axis():
    from core.figures.plots import loss_curves

    fig = loss_curves([{"epoch": 1, "loss": 0.2, "val_loss": 0.21}])  # one epoch: a single point per curve
    assert "yaxis2" not in fig.to_dict()["layout"]
    lo, hi = fig.layout.yaxis.range
    assert lo < 0.2 and 0.21 < hi and fig.layout.xaxis.range[0] < 1 < fig.layout.xaxis.range[1]
