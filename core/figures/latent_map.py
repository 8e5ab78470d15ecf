"""Plotly figures for the latent-space explorer. They return figures and never call Streamlit.

Digits are coloured with `core.figures.plots.DIGIT_COLOURS` (Okabe–Ito's eight colour-blind-safe colours
plus Paul Tol's wine and grey), the same colours the Upload page's latent map uses.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.plots import DIGIT_COLOURS, OKABE_ITO
from core.figures.tiles import png_data_uri
from core.lab import latent

CLICK_GRID = 40  # invisible click targets per axis: ~10 px apart on a ~400 px map, so every click is within
# plotly's 20 px hover distance of one (a denser grid makes each click slower: plotly restyles every point)
MARK_COLOUR = "#F0E442"  # Okabe–Ito yellow with a black outline: visible on every digit colour


def explorer_figure(z: np.ndarray, labels: np.ndarray, box: tuple[tuple[float, float], tuple[float, float]],
                    marks: dict[str, tuple[float, float]] | None = None, axis_note: str = "",
                    click_grid: int = CLICK_GRID, height: int = 400) -> go.Figure:
    """A clickable 2-D latent map.

    z (N, 2) and labels (N,): the test set's codes, one WebGL trace per digit (legend click hides
    or shows a digit), each point's test index in customdata. Under them, a click_grid² grid of
    invisible but selectable points spans `box` ((z₁ lo, hi), (z₂ lo, hi)), so a click on empty
    space still selects something: the nearest grid point, which the page decodes. The selected
    point is drawn by plotly itself (`selected` styles), so a click needs no new figure. Every click
    redraws the WebGL canvas (the whole figure), so the figure is kept no taller than it needs to be.
    `marks` (name → (z₁, z₂)): the user's own images, as stars.
    """
    z, labels = np.asarray(z, np.float32), np.asarray(labels)
    assert z.ndim == 2 and z.shape[1] == 2 and len(z) == len(labels), (z.shape, labels.shape)
    (x_lo, x_hi), (y_lo, y_hi) = box
    grid = latent.click_grid(box, click_grid)  # (click_grid², 2)
    fig = go.Figure(go.Scattergl(
        x=grid[:, 0], y=grid[:, 1], mode="markers", name="click grid", showlegend=False,
        marker=dict(size=8, color="rgba(0,0,0,0)"),  # invisible, yet hover and click still find it
        selected=dict(marker=dict(color="#000000", size=16)),  # …until it is the clicked point
        hovertemplate="z₁ %{x:.2f}, z₂ %{y:.2f}<br>click to decode<extra></extra>",
    ))
    index = np.arange(len(z))
    for d in range(10):
        mask = labels == d
        fig.add_trace(go.Scattergl(
            x=np.round(z[mask, 0], 4), y=np.round(z[mask, 1], 4), customdata=index[mask], mode="markers", name=str(d),
            marker=dict(size=4, color=DIGIT_COLOURS[d], opacity=0.55),
            selected=dict(marker=dict(color="#000000", size=12)),
            unselected=dict(marker=dict(opacity=0.55)),  # keep the map as it was when one point is picked
            hovertemplate=f"test digit #%{{customdata}} (a {d})<br>z₁ %{{x:.2f}}, z₂ %{{y:.2f}}<extra></extra>",
        ))
    if marks:
        names = list(marks)
        pts = np.array([marks[n] for n in names], np.float32).reshape(-1, 2)
        fig.add_trace(go.Scatter(
            x=pts[:, 0], y=pts[:, 1], mode="markers", name="your digit", text=names,
            marker=dict(size=20, symbol="star", color=MARK_COLOUR, line=dict(color="black", width=2)),
            unselected=dict(marker=dict(opacity=1.0)),
            hovertemplate="%{text}<br>z₁ %{x:.2f}, z₂ %{y:.2f}<extra></extra>",
        ))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white", hovermode="closest",
        legend=dict(title="digit", itemsizing="constant"),  # on the right: the plot keeps the height
        xaxis=dict(title=f"z₁{axis_note}", range=[x_lo, x_hi], gridcolor="#eee", zerolinecolor="#ccc"),
        yaxis=dict(title="z₂", range=[y_lo, y_hi], gridcolor="#eee", zerolinecolor="#ccc"),
        uirevision="latent-map",  # zoom and hidden digits survive a rerun that changes the figure
    )
    return fig


def tiles_figure(image: np.ndarray, x_ticks: tuple[np.ndarray, list[str]] | None = None,
                 y_ticks: tuple[np.ndarray, list[str]] | None = None, x_title: str = "", y_title: str = "",
                 height: int = 520, scale: int = 2) -> go.Figure:
    """A large tiled image (from `core.figures.tiles.tile`) sent as one PNG, with optional axis ticks at
    tile centres (pixel positions, labels): a 20×20 grid is ~30 kB instead of a 360 000-cell heatmap."""
    image = np.asarray(image, np.float32)
    h, w = image.shape
    source = png_data_uri(image, scale)
    xt, yt = x_ticks or ([], []), y_ticks or ([], [])
    axis = dict(showgrid=False, zeroline=False, ticks="")
    # The layout as one dict: update_xaxes / update_yaxes validate property by property, which is slow.
    return go.Figure(
        go.Image(source=source, dx=1 / scale, dy=1 / scale, hoverinfo="skip"),  # pixel units of `image`
        layout=dict(
            height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
            xaxis=axis | dict(title=dict(text=x_title), tickvals=[float(v) for v in xt[0]], ticktext=list(xt[1]),
                              range=[0, w], showticklabels=bool(x_ticks)),
            yaxis=axis | dict(title=dict(text=y_title), tickvals=[float(v) for v in yt[0]], ticktext=list(yt[1]),
                              range=[h, 0], showticklabels=bool(y_ticks), scaleanchor="x", constrain="domain"),
        ),
    )


def beta_figure(terms: list, current: float | None = None) -> go.Figure:
    """Mean test reconstruction and KL (nats/image) per β, side by side; `current` β in a strong colour.

    `terms`: `core.lab.latent.ElboTerms`, one per VAE."""
    terms = sorted(terms, key=lambda t: t.beta)
    labels = [f"β = {t.beta:g}" for t in terms]
    colours = [OKABE_ITO[5] if t.beta == current else "#a6c8e0" for t in terms]
    fig = make_subplots(rows=1, cols=3, subplot_titles=["reconstruction −log p(x|z)", "KL(q(z|x) ‖ N(0, I))",
                                                        "−ELBO = reconstruction + KL"], horizontal_spacing=0.08)
    for col, values in enumerate(([t.reconstruction for t in terms], [t.kl for t in terms],
                                  [t.neg_elbo for t in terms]), start=1):
        fig.add_trace(go.Bar(x=labels, y=values, marker_color=colours, text=[f"{v:.1f}" for v in values],
                             textposition="outside", showlegend=False,
                             hovertemplate="%{x}: %{y:.2f} nats<extra></extra>"), row=1, col=col)
        fig.update_yaxes(range=[0, max(values) * 1.18], row=1, col=col)
    fig.update_yaxes(title_text="nats per test image", row=1, col=1)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white")
    fig.update_annotations(font_size=13)
    return fig
