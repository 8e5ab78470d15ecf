"""Plotly figures. Functions here return figures and never call Streamlit, so they are testable
alone. Images are 2-D float arrays in [0, 1] shown MNIST-style: white ink on black."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]


def _image_trace(img: np.ndarray, name: str) -> go.Heatmap:
    img = np.asarray(img, dtype=np.float32).reshape(np.asarray(img).shape[:2])
    return go.Heatmap(
        z=img, zmin=0.0, zmax=1.0, colorscale=GREY, showscale=False, name=name,
        hovertemplate="row %{y}, col %{x}<br>value %{z:.2f}<extra>" + name + "</extra>",
    )


def image_row(images: list[np.ndarray], titles: list[str], height: int = 260) -> go.Figure:
    """Images side by side, each square, with a title above it (titles may contain <br>)."""
    assert len(images) == len(titles), (len(images), len(titles))
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=titles, horizontal_spacing=0.02)
    for i, (img, title) in enumerate(zip(images, titles, strict=True), start=1):
        fig.add_trace(_image_trace(np.squeeze(img), title.split("<br>")[0]), row=1, col=i)
        fig.update_xaxes(visible=False, row=1, col=i, scaleanchor=f"y{i if i > 1 else ''}", constrain="domain")
        fig.update_yaxes(visible=False, autorange="reversed", row=1, col=i, constrain="domain")
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=60, b=0), plot_bgcolor="white")
    fig.update_annotations(font_size=13)
    return fig


NOISE_AXIS = {"gaussian": "Gaussian noise σ", "salt_and_pepper": "salt-and-pepper rate", "mask": "fraction of 4×4 blocks erased"}
# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]


def psnr_sweep_figure(curves: dict[str, np.ndarray], kind: str, current: float | None = None) -> go.Figure:
    """Mean PSNR (dB) against noise level, one line per curve; a dashed line marks `current`."""
    fig = go.Figure()
    levels = curves["level"]
    for i, (name, values) in enumerate((k, v) for k, v in curves.items() if k != "level"):
        fig.add_trace(go.Scatter(
            x=levels, y=values, mode="lines+markers", name=name,
            line=dict(color=OKABE_ITO[i % len(OKABE_ITO)], dash="dot" if name == "noisy input" else "solid"),
            hovertemplate="%{x:.2f} → %{y:.1f} dB<extra>" + name + "</extra>",
        ))
    if current is not None:
        fig.add_vline(x=current, line_dash="dash", line_color="#888", annotation_text="your setting")
    fig.update_layout(
        xaxis_title=NOISE_AXIS.get(kind, kind), yaxis_title="mean PSNR vs clean (dB)", height=360,
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12), hovermode="x unified",
    )
    return fig
