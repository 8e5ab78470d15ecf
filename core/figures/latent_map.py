"""Latent maps and the latent explorer's figures. They return figures (or, for the Latent page's hover
map, the JSON it draws) and never call Streamlit.

One map, two renderers: `latent_map` is the plotly figure (the Upload page), `explorer_map` +
`explorer_overlay` what views/hover draws on a canvas (the Latent page, where the pointer decodes at
once). Both colour digits with `core.figures.plots.DIGIT_COLOURS` (Okabe–Ito's eight colour-blind-safe
colours plus Paul Tol's wine and grey), label clusters at `cluster_centres` and draw the user's ★ on top.
"""

from __future__ import annotations

import base64
import hashlib
import json

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.plots import DIGIT_COLOURS, OKABE_ITO, mark_label
from core.figures.tiles import png_data_uri
from core.lab import latent

HOVER_GRID = 40  # decodes per axis precomputed for a map: 1600 images, ~10 px apart on a ~400 px map
MARK_COLOUR = "#F0E442"  # Okabe–Ito yellow with a black outline: visible on every digit colour
SAMPLE_COLOUR = "#D55E00"  # Okabe–Ito vermilion: draws z = μ + σ ⊙ ε from a posterior


def cluster_centres(z: np.ndarray, labels: np.ndarray) -> list[tuple[int, float, float]]:
    """(digit, z₁, z₂) at the median of each digit's codes, where its numeral labels the cluster (the
    median, not the mean: a few far-flung codes do not drag the label out of its cluster)."""
    z, labels = np.asarray(z, np.float32), np.asarray(labels)
    return [(d, *(float(v) for v in np.median(z[labels == d], axis=0))) for d in range(10) if np.any(labels == d)]


def latent_map(z: np.ndarray, labels: np.ndarray, marks: dict[str, tuple[float, float]] | None = None,
               axis_title: str = "z₁ (VAE latent mean)", height: int = 520) -> go.Figure:
    """A 2-D latent space as a plotly figure: the codes z (N, 2) of reference images coloured by their
    digit label (N,), one WebGL trace per digit (a legend click hides one), each digit's numeral at its
    cluster's median, and each of `marks` (name → (z₁, z₂), e.g. the user's uploads) as a large star,
    numbered ★1, ★2, … with its name in the legend when there are several.

    The stars are a WebGL trace added last: plotly draws every WebGL trace above every SVG one, so a star
    drawn as SVG would vanish under a dense cluster."""
    z, labels = np.asarray(z, dtype=np.float32), np.asarray(labels)
    assert z.ndim == 2 and z.shape[1] == 2 and len(z) == len(labels), (z.shape, labels.shape)
    traces = [go.Scattergl(
        x=z[labels == d, 0], y=z[labels == d, 1], mode="markers", name=str(d), legendgroup="digits",
        legendgrouptitle=dict(text="digit") if d == 0 else None,
        marker=dict(size=3, color=DIGIT_COLOURS[d], opacity=0.45),
        hovertemplate=f"digit {d}<br>z₁ %{{x:.2f}}, z₂ %{{y:.2f}}<extra></extra>",
    ) for d in range(10)]
    for i, (name, (z1, z2)) in enumerate((marks or {}).items()):
        label = mark_label(i, len(marks))
        traces.append(go.Scattergl(
            x=[z1], y=[z2], mode="markers+text", name=f"{label} {name}", text=[label], legendgroup="marks",
            textposition="top center", textfont=dict(size=13, color="black"),
            marker=dict(size=18, symbol="star", color=MARK_COLOUR, line=dict(color="black", width=2)),
            hovertemplate=f"{label} {name}<br>z₁ %{{x:.2f}}, z₂ %{{y:.2f}}<extra></extra>",
        ))
    centres = [dict(x=cx, y=cy, text=f"<b>{d}</b>", showarrow=False, font=dict(size=18, color="white"),
                    bgcolor=DIGIT_COLOURS[d], opacity=0.9) for d, cx, cy in cluster_centres(z, labels)]
    return go.Figure(data=traces, layout=dict(
        height=height, plot_bgcolor="white", margin=dict(l=10, r=10, t=30, b=10), annotations=centres,
        legend=dict(itemsizing="constant", groupclick="toggleitem"),
        xaxis=dict(title=dict(text=axis_title), gridcolor="#eee", zerolinecolor="#ccc"),
        yaxis=dict(title=dict(text="z₂"), scaleanchor="x", gridcolor="#eee", zerolinecolor="#ccc"),
    ))


def _b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def explorer_map(z: np.ndarray, labels: np.ndarray, box: tuple[tuple[float, float], tuple[float, float]],
                 grid_images: np.ndarray, marks: dict[str, tuple[float, float]] | None = None,
                 axis_note: str = "") -> dict:
    """The Latent page's hover map (views/hover draws it on a canvas): what does not change between
    clicks, sent once per map. JSON-ready, arrays as base64:

    - points: z (N, 2) float32 and labels (N,) uint8: the test set's codes, drawn in `DIGIT_COLOURS`;
    - centres: each digit's numeral at its cluster's median (`cluster_centres`);
    - grid: the decodes (n², 28, 28) uint8 of an n×n grid spanning `box` (`core.lab.latent.click_grid`
      order: z₁ fastest, lowest z₂ first): the pointer shows the nearest one, with no server round trip;
    - marks: the user's images (name → (z₁, z₂)), drawn as stars above everything else.
    """
    z, labels, grid_images = np.asarray(z, np.float32), np.asarray(labels), np.asarray(grid_images)
    assert z.ndim == 2 and z.shape[1] == 2 and len(z) == len(labels), (z.shape, labels.shape)
    n = int(round(np.sqrt(len(grid_images))))
    assert grid_images.shape == (n * n, 28, 28) and grid_images.dtype == np.uint8, (grid_images.shape, grid_images.dtype)
    (x_lo, x_hi), (y_lo, y_hi) = box
    marks = marks or {}
    payload = {
        "box": [float(x_lo), float(x_hi), float(y_lo), float(y_hi)], "n": n, "count": len(z),
        "points": _b64(z, np.float32), "labels": _b64(labels, np.uint8), "colours": DIGIT_COLOURS,
        "centres": [[d, cx, cy] for d, cx, cy in cluster_centres(z, labels)],
        "grid": _b64(grid_images, np.uint8),
        "marks": [{"label": mark_label(i, len(marks)), "name": name, "z": [float(v) for v in zm]}
                  for i, (name, zm) in enumerate(marks.items())],
        "x_title": f"z₁{axis_note}", "y_title": "z₂", "mark_colour": MARK_COLOUR, "sample_colour": SAMPLE_COLOUR,
    }
    # A fingerprint of what is drawn, so the browser decodes a map's arrays once, not on every rerun.
    payload["id"] = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return payload


def explorer_overlay(pin: tuple[float, float] | None, posteriors: list[tuple[str, np.ndarray, np.ndarray]] = (),
                     samples: np.ndarray | None = None) -> dict:
    """What a click changes on the hover map: the pinned point, each posterior q(z|x) = N(μ, diag σ²)
    (label, μ (2,), σ (2,)) as its 1σ and 2σ ellipses (`core.lab.latent.ellipse_points`), and draws z
    (S, 2) from one of them. JSON-ready."""
    ellipses = [{"label": label, "mu": [float(v) for v in np.reshape(mu, 2)],
                 "rings": [{"k": k, "points": np.round(latent.ellipse_points(mu, sigma, k), 4).tolist()}
                           for k in latent.SIGMA_LEVELS]}
                for label, mu, sigma in posteriors]
    return {"pin": None if pin is None else [float(pin[0]), float(pin[1])], "ellipses": ellipses,
            "samples": [] if samples is None else np.round(np.asarray(samples, np.float64), 4).reshape(-1, 2).tolist()}


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
