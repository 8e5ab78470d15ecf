"""Plotly figures. Functions here return figures and never call Streamlit, so they are testable
alone. Images are 2-D float arrays in [0, 1] shown MNIST-style: white ink on black."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]


def _image_trace(img: np.ndarray, name: str, xaxis: str = "x", yaxis: str = "y") -> go.Heatmap:
    img = np.asarray(img, dtype=np.float32).reshape(np.asarray(img).shape[:2])
    return go.Heatmap(
        z=img, zmin=0.0, zmax=1.0, colorscale=GREY, showscale=False, name=name, xaxis=xaxis, yaxis=yaxis,
        hovertemplate="row %{y}, col %{x}<br>value %{z:.2f}<extra>" + name + "</extra>",
    )


def _subplot_layout(rows: int, cols: int, h_spacing: float, v_spacing: float,
                    titles: list[str] | None = None, title_size: int = 16) -> dict:
    """The layout `make_subplots(rows, cols, …)` would make: axis pair k (1-based, row-major: "x", "x2",
    …) anchored to each other over its cell's domain, row 1 at the top, and `titles` above the first
    cells as paper annotations. Built as plain dicts: make_subplots and its per-cell update_xaxes calls
    validate every property one by one, which is slow on every rerun; tests/test_plots.py checks the
    domains and titles against make_subplots itself."""
    w = (1.0 - h_spacing * (cols - 1)) / cols
    h = (1.0 - v_spacing * (rows - 1)) / rows
    layout: dict = {"annotations": []}
    for r in range(rows):
        y0 = (rows - 1 - r) * (h + v_spacing)  # row 0 is the top row
        for c in range(cols):
            k = r * cols + c + 1
            s = "" if k == 1 else str(k)
            x0 = c * (w + h_spacing)
            layout[f"xaxis{s}"] = {"anchor": f"y{s}", "domain": [x0, x0 + w]}
            layout[f"yaxis{s}"] = {"anchor": f"x{s}", "domain": [y0, y0 + h]}
            if titles and k <= len(titles) and titles[k - 1]:
                layout["annotations"].append(dict(
                    text=titles[k - 1], x=x0 + w / 2, y=y0 + h, xref="paper", yref="paper", xanchor="center",
                    yanchor="bottom", showarrow=False, font=dict(size=title_size)))
    return layout


def image_row(images: list[np.ndarray], titles: list[str], height: int = 260) -> go.Figure:
    """Images side by side, each square, with a title above it (titles may contain <br>)."""
    assert len(images) == len(titles), (len(images), len(titles))
    layout = _subplot_layout(1, len(images), 0.02, 0.0, titles, title_size=13)
    traces = []
    for i, (img, title) in enumerate(zip(images, titles, strict=True), start=1):
        s = "" if i == 1 else str(i)
        traces.append(_image_trace(np.squeeze(img), title.split("<br>")[0], f"x{s}", f"y{s}"))
        layout[f"xaxis{s}"] |= dict(visible=False, scaleanchor=f"y{s}", constrain="domain")
        layout[f"yaxis{s}"] |= dict(visible=False, autorange="reversed", constrain="domain")
    layout |= dict(height=height, margin=dict(l=0, r=0, t=60, b=0), plot_bgcolor="white")
    return go.Figure(data=traces, layout=layout)


NOISE_AXIS = {"gaussian": "Gaussian noise σ", "salt_and_pepper": "salt-and-pepper rate", "mask": "fraction of 4×4 blocks erased"}
# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]


# Where add_vline puts a line's label (annotation_position → the annotation's y and anchors), so that
# figures can be built in one constructor call: add_vline / add_trace / update_layout each run plotly's
# property-by-property update machinery, on every rerun.
_VLINE_LABEL = {
    "top": dict(y=1, xanchor="center", yanchor="bottom"),
    "top right": dict(y=1, xanchor="left", yanchor="top"),
    "bottom right": dict(y=0, xanchor="left", yanchor="bottom"),
}


def _vline(x: float, text: str, position: str = "top right", **line) -> tuple[dict, dict]:
    """A vertical line over the whole plot height at `x`, and its label: what `fig.add_vline(x=x,
    annotation_text=text, annotation_position=position, line_…=…)` adds, as (shape, annotation) dicts."""
    shape = dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=line)
    return shape, dict(text=text, x=x, xref="x", yref="y domain", showarrow=False) | _VLINE_LABEL[position]


def _with_vlines(layout: dict, lines: list[tuple[dict, dict]]) -> dict:
    return layout | dict(shapes=[s for s, _ in lines], annotations=[a for _, a in lines])


def psnr_sweep_figure(curves: dict[str, np.ndarray], kind: str, current: float | None = None) -> go.Figure:
    """Mean PSNR (dB) against noise level, one line per curve; a dashed line marks `current`."""
    levels = curves["level"]
    traces = [
        go.Scatter(
            x=levels, y=values, mode="lines+markers", name=name,
            line=dict(color=OKABE_ITO[i % len(OKABE_ITO)], dash="dot" if name == "noisy input" else "solid"),
            hovertemplate="%{x:.2f} → %{y:.1f} dB<extra>" + name + "</extra>",
        )
        for i, (name, values) in enumerate((k, v) for k, v in curves.items() if k != "level")
    ]
    lines = [] if current is None else [_vline(current, "your setting", dash="dash", color="#888")]
    return go.Figure(data=traces, layout=_with_vlines(dict(
        xaxis=dict(title=dict(text=NOISE_AXIS.get(kind, kind))), yaxis=dict(title=dict(text="mean PSNR vs clean (dB)")),
        height=360, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12), hovermode="x unified",
    ), lines))


def score_histogram(
    normal: np.ndarray, anomalous: np.ndarray, threshold: float, x_title: str,
    normal_name: str = "normal", anomalous_name: str = "anomalous", marks: dict[str, float] | None = None,
) -> go.Figure:
    """Overlaid, density-normalised histograms of normal vs anomalous scores; the threshold as a
    solid line; each of `marks` (e.g. the user's drawing) as a dashed line with its name."""
    lo = float(min(np.min(normal), np.min(anomalous)))
    hi = float(max(np.percentile(normal, 99.9), np.percentile(anomalous, 99.9)))
    bins = dict(start=lo, end=hi, size=(hi - lo) / 60 or 1.0)
    traces = [go.Histogram(x=values, name=f"{name} ({len(values)})", xbins=bins, histnorm="probability density",
                           opacity=0.6, marker=dict(color=colour))
              for values, name, colour in ((normal, normal_name, OKABE_ITO[5]), (anomalous, anomalous_name, OKABE_ITO[6]))]
    lines = [_vline(threshold, "threshold", "top", color="black", width=2)]
    lines += [_vline(value, name, "bottom right", color=OKABE_ITO[3], dash="dash") for name, value in (marks or {}).items()]
    return go.Figure(data=traces, layout=_with_vlines(dict(
        barmode="overlay", xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text="density")), height=340,
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15),
    ), lines))


def roc_figure(fpr: np.ndarray, tpr: np.ndarray, auroc: float, point: tuple[float, float] | None = None) -> go.Figure:
    """ROC curve with its area in the legend and the current threshold's operating point."""
    traces = [go.Scatter(x=fpr, y=tpr, mode="lines", name=f"ROC (AUROC {auroc:.3f})", line=dict(color=OKABE_ITO[5])),
              go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(color="#aaa", dash="dot"))]
    if point is not None:
        traces.append(go.Scatter(x=[point[0]], y=[point[1]], mode="markers", name="threshold",
                                 marker=dict(size=11, color=OKABE_ITO[6], symbol="x")))
    return go.Figure(data=traces, layout=dict(
        xaxis=dict(title=dict(text="false-positive rate (normal flagged)"), range=[0, 1]),
        yaxis=dict(title=dict(text="true-positive rate (anomalies caught)"), range=[0, 1.02]),
        height=340, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15),
    ))


def confusion_figure(tp: int, fp: int, tn: int, fn: int) -> go.Figure:
    """2×2 confusion matrix: rows = truth, columns = decision."""
    z = [[tn, fp], [fn, tp]]
    return go.Figure(go.Heatmap(
        z=z, x=["flagged normal", "flagged anomalous"], y=["truly normal", "truly anomalous"],
        text=[[str(v) for v in row] for row in z], texttemplate="%{text}", colorscale="Blues", showscale=False,
    ), layout=dict(height=240, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(autorange="reversed")))


def image_grid(rows: list[list[np.ndarray]], row_titles: list[str], col_titles: list[str] | None = None,
               cell: int = 70) -> go.Figure:
    """A grid of 28×28 images (e.g. inputs above their reconstructions)."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    layout = _subplot_layout(n_rows, n_cols, 0.01, 0.04, col_titles, title_size=11)
    traces = []
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            s = "" if r * n_cols + c == 0 else str(r * n_cols + c + 1)
            traces.append(_image_trace(np.squeeze(img), row_titles[r], f"x{s}", f"y{s}"))
    for key in [k for k in layout if k.startswith(("xaxis", "yaxis"))]:
        layout[key] |= dict(visible=False, constrain="domain") | ({"autorange": "reversed"} if key[0] == "y" else {})
    for r, name in enumerate(row_titles):  # each row's name on its first cell's y axis
        s = "" if r == 0 else str(r * n_cols + 1)
        layout[f"yaxis{s}"] |= dict(visible=True, showticklabels=False, showgrid=False, zeroline=False, title=dict(text=name))
    layout |= dict(height=cell * n_rows + 40, margin=dict(l=40, r=0, t=30, b=0), plot_bgcolor="white")
    return go.Figure(data=traces, layout=layout)


def loss_curves(epochs: list[dict], running: dict | None = None, step_fraction: float | None = None) -> go.Figure:
    """Per-epoch training and validation losses (solid / dashed, one colour per term); the running
    mean of the epoch in progress as hollow markers at its fractional epoch."""
    fig = go.Figure()
    terms = [k for k in ("loss", "reconstruction_loss", "kl_loss") if any(k in e for e in epochs) or (running and k in running)]
    names = {"loss": "total", "reconstruction_loss": "reconstruction", "kl_loss": "KL"}
    for i, term in enumerate(terms):
        colour = OKABE_ITO[(i + 5) % len(OKABE_ITO)]
        for prefix, dash, label in (("", "solid", "train"), ("val_", "dash", "validation")):
            xs = [e["epoch"] for e in epochs if prefix + term in e]
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=[e[prefix + term] for e in epochs if prefix + term in e],
                                         mode="lines+markers", name=f"{names[term]} ({label})",
                                         line=dict(color=colour, dash=dash)))
        if running and term in running and step_fraction is not None:
            fig.add_trace(go.Scatter(x=[step_fraction], y=[running[term]], mode="markers", showlegend=False,
                                     marker=dict(color=colour, symbol="circle-open", size=10),
                                     hovertemplate="this epoch so far: %{y:.4f}<extra></extra>"))
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss", height=320, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=1.2), xaxis=dict(rangemode="tozero"))
    return fig


# Ten digit colours that stay apart under the common colour-vision deficiencies: Okabe–Ito's eight
# plus two from Paul Tol's palette (wine, grey). Each digit's cluster also carries its numeral.
DIGIT_COLOURS = OKABE_ITO + ["#882255", "#999999"]


def latent_map(z: np.ndarray, labels: np.ndarray, marks: dict[str, tuple[float, float]] | None = None,
               height: int = 520) -> go.Figure:
    """A 2-D latent space: the codes z (N, 2) of reference images coloured by their digit label
    (N,), each digit's numeral at its cluster's median, and each of `marks` (name → (z₁, z₂), e.g.
    the user's uploads) as a large star with its name."""
    z, labels = np.asarray(z, dtype=np.float32), np.asarray(labels)
    assert z.ndim == 2 and z.shape[1] == 2 and len(z) == len(labels), (z.shape, labels.shape)
    fig = go.Figure()
    for d in range(10):
        zd = z[labels == d]
        fig.add_trace(go.Scattergl(
            x=zd[:, 0], y=zd[:, 1], mode="markers", name=str(d),
            marker=dict(size=3, color=DIGIT_COLOURS[d], opacity=0.45),
            hovertemplate=f"digit {d}<br>z₁ %{{x:.2f}}, z₂ %{{y:.2f}}<extra></extra>",
        ))
        if len(zd):
            cx, cy = np.median(zd, axis=0)
            fig.add_annotation(x=float(cx), y=float(cy), text=f"<b>{d}</b>", showarrow=False,
                               font=dict(size=18, color="white"), bgcolor=DIGIT_COLOURS[d], opacity=0.9)
    if marks:
        names = list(marks)
        pts = np.array([marks[n] for n in names], dtype=np.float32).reshape(-1, 2)
        fig.add_trace(go.Scatter(
            x=pts[:, 0], y=pts[:, 1], mode="markers+text", name="your images", text=names,
            textposition="top center", textfont=dict(size=12, color="black"),
            marker=dict(size=18, symbol="star", color="#F0E442", line=dict(color="black", width=2)),
            hovertemplate="%{text}<br>z₁ %{x:.2f}, z₂ %{y:.2f}<extra></extra>",
        ))
    fig.update_layout(
        xaxis_title="z₁ (VAE latent mean)", yaxis_title="z₂", height=height, plot_bgcolor="white",
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(title="digit", itemsizing="constant"),
        yaxis=dict(scaleanchor="x", gridcolor="#eee", zerolinecolor="#ccc"), xaxis=dict(gridcolor="#eee", zerolinecolor="#ccc"),
    )
    return fig


def reference_histogram(reference: np.ndarray, marks: dict[str, float], x_title: str,
                        reference_name: str = "MNIST test digits") -> go.Figure:
    """The distribution of a score over reference images (density-normalised histogram), with
    each of `marks` (name → score) as a dashed vertical line labelled with its name."""
    reference = np.asarray(reference, dtype=np.float64)
    values = list(marks.values())
    lo = float(min([reference.min(), *values]))
    hi = float(max([np.percentile(reference, 99.9), *values]))
    trace = go.Histogram(
        x=reference, name=f"{reference_name} ({len(reference)})", histnorm="probability density",
        xbins=dict(start=lo, end=hi, size=(hi - lo) / 80 or 1.0), marker=dict(color=OKABE_ITO[5]), opacity=0.7,
    )
    lines = [_vline(value, name, "top right" if i % 2 == 0 else "bottom right", color=OKABE_ITO[6], dash="dash")
             for i, (name, value) in enumerate(marks.items())]
    return go.Figure(trace, layout=_with_vlines(dict(
        xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text="density")), height=300, showlegend=True,
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15),
    ), lines))
