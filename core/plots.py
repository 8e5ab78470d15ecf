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
