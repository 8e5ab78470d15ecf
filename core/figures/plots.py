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


CONFUSION_CELLS = (("TN", "true negative"), ("FP", "false positive")), (("FN", "false negative"), ("TP", "true positive"))


def confusion_figure(tp: int, fp: int, tn: int, fn: int, height: int = 240) -> go.Figure:
    """2×2 confusion matrix: rows = truth, columns = decision; each cell names itself (TP, FP, TN, FN:
    'positive' = flagged as anomalous) above its count."""
    z = [[tn, fp], [fn, tp]]
    text = [[f"<b>{short}</b> ({long})<br>{v}" for (short, long), v in zip(names, row, strict=True)]
            for names, row in zip(CONFUSION_CELLS, z, strict=True)]
    return go.Figure(go.Heatmap(
        z=z, x=["flagged normal", "flagged anomalous"], y=["truly normal", "truly anomalous"],
        text=text, texttemplate="%{text}", textfont=dict(size=15), colorscale="Blues", showscale=False,
        hovertemplate="%{y}, %{x}: %{z}<extra></extra>",
    ), layout=dict(height=height, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(autorange="reversed")))


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


def _padded(values: list[float], pad: float = 0.08) -> list[float]:
    """An axis range that holds every value with `pad` of the span (or of the value) to spare on each side,
    so no marker sits on, or past, the plot's edge."""
    lo, hi = min(values), max(values)
    margin = pad * (hi - lo) if hi > lo else pad * max(abs(hi), 1e-3)
    return [lo - margin, hi + margin]


def loss_curves(epochs: list[dict], running: dict | None = None, step_fraction: float | None = None) -> go.Figure:
    """Per-epoch training and validation losses (solid / dashed, one colour per term); the running
    mean of the epoch in progress as hollow markers at its fractional epoch.

    A VAE's KL term (~14 nats) is an order of magnitude below its total (~130), so it gets its own y axis
    on the right; both axes and the epoch axis are ranged to hold every point with room to spare."""
    fig = go.Figure()
    terms = [k for k in ("loss", "reconstruction_loss", "kl_loss") if any(k in e for e in epochs) or (running and k in running)]
    names = {"loss": "total", "reconstruction_loss": "reconstruction", "kl_loss": "KL"}
    xs_all, ys = [0.0], {"y": [], "y2": []}
    for i, term in enumerate(terms):
        colour = OKABE_ITO[(i + 5) % len(OKABE_ITO)]
        axis = "y2" if term == "kl_loss" else "y"
        side = " · right axis" if axis == "y2" else ""
        for prefix, dash, label in (("", "solid", "train"), ("val_", "dash", "validation")):
            xs = [e["epoch"] for e in epochs if prefix + term in e]
            if xs:
                values = [e[prefix + term] for e in epochs if prefix + term in e]
                xs_all += xs
                ys[axis] += values
                fig.add_trace(go.Scatter(x=xs, y=values, yaxis=axis, mode="lines+markers",
                                         name=f"{names[term]} ({label}){side}", line=dict(color=colour, dash=dash)))
        if running and term in running and step_fraction is not None:
            xs_all.append(step_fraction)
            ys[axis].append(running[term])
            fig.add_trace(go.Scatter(x=[step_fraction], y=[running[term]], yaxis=axis, mode="markers", showlegend=False,
                                     marker=dict(color=colour, symbol="circle-open", size=10),
                                     hovertemplate="this epoch so far: %{y:.4f}<extra></extra>"))
    layout = dict(height=340, margin=dict(l=10, r=10, t=60, b=10), legend=dict(orientation="h", y=1.02, yanchor="bottom"),
                  xaxis=dict(title=dict(text="epoch"), range=[0, max(xs_all) + 0.3]),
                  yaxis=dict(title=dict(text="loss")))
    if ys["y"]:
        layout["yaxis"]["range"] = _padded(ys["y"])
    if ys["y2"]:
        layout["yaxis2"] = dict(title=dict(text="KL (nats)"), overlaying="y", side="right", showgrid=False,
                                range=_padded(ys["y2"]))
    fig.update_layout(**layout)
    return fig


# Ten digit colours that stay apart under the common colour-vision deficiencies: Okabe–Ito's eight
# plus two from Paul Tol's palette (wine, grey). Each digit's cluster also carries its numeral. The latent
# maps themselves are `core.figures.latent_map`'s.
DIGIT_COLOURS = OKABE_ITO + ["#882255", "#999999"]


def mark_label(i: int, count: int) -> str:
    """How the i-th (0-based) of `count` user images is marked on a map and a histogram: "★" alone,
    "★1", "★2", … when there are several, so each file has a mark of its own."""
    return "★" if count == 1 else f"★{i + 1}"


def reference_histogram(reference: np.ndarray, marks: dict[str, float], x_title: str,
                        reference_name: str = "MNIST test digits") -> go.Figure:
    """The distribution of a score over reference images (density-normalised histogram), with
    each of `marks` (name → score) as a dashed vertical line labelled with its mark (`mark_label`), the
    legend saying which name each mark stands for."""
    reference = np.asarray(reference, dtype=np.float64)
    values = list(marks.values())
    lo = float(min([reference.min(), *values]))
    hi = float(max([np.percentile(reference, 99.9), *values]))
    trace = go.Histogram(
        x=reference, name=f"{reference_name} ({len(reference)})", histnorm="probability density",
        xbins=dict(start=lo, end=hi, size=(hi - lo) / 80 or 1.0), marker=dict(color=OKABE_ITO[5]), opacity=0.7,
    )
    # Each mark: a dashed line labelled with its short mark (★, or ★1, ★2, … for several), and a legend
    # entry naming it, so several files' names never pile up on the plot.
    lines = [_vline(value, mark_label(i, len(marks)), "top right" if i % 2 == 0 else "bottom right",
                    color=OKABE_ITO[6], dash="dash") for i, value in enumerate(values)]
    legend = [go.Scatter(x=[None], y=[None], mode="lines", name=f"{mark_label(i, len(marks))} {name}",
                         line=dict(color=OKABE_ITO[6], dash="dash")) for i, name in enumerate(marks)]
    return go.Figure([trace, *legend], layout=_with_vlines(dict(
        xaxis=dict(title=dict(text=x_title)), yaxis=dict(title=dict(text="density")), height=300, showlegend=True,
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25, yanchor="top"),
    ), lines))


def code_figure(codes: list[tuple[str, np.ndarray, np.ndarray | None]], row_height: int = 110) -> go.Figure:
    """Each model's code as a small bar chart, one row per model: (title, code (D,), σ (D,) or None).
    A VAE's row shows μ with ±σ error bars (its code is a cloud q(z|x) = N(μ, diag σ²), not a point)."""
    layout = _subplot_layout(len(codes), 1, 0.0, 0.55 / max(len(codes), 1), [t for t, _, _ in codes], title_size=13)
    traces = []
    for i, (name, code, sigma) in enumerate(codes, start=1):
        s = "" if i == 1 else str(i)
        code = np.asarray(code, np.float32).reshape(-1)
        error = None if sigma is None else dict(type="data", array=np.asarray(sigma, np.float32).reshape(-1), visible=True,
                                                 color="#555", thickness=1.2)
        traces.append(go.Bar(
            x=np.arange(1, len(code) + 1), y=code, error_y=error, xaxis=f"x{s}", yaxis=f"y{s}", name=name, showlegend=False,
            marker_color=OKABE_ITO[5] if sigma is None else OKABE_ITO[6],
            hovertemplate=("z%{x}: μ = %{y:.2f}" if sigma is not None else "code %{x}: %{y:.2f}") + f"<extra>{name}</extra>",
        ))
        layout[f"xaxis{s}"] |= dict(tickmode="auto", nticks=min(len(code), 17), showgrid=False,
                                   range=[0.4, len(code) + 0.6])
        layout[f"yaxis{s}"] |= dict(zeroline=True, zerolinecolor="#999", gridcolor="#eee", nticks=3)
    layout |= dict(height=row_height * len(codes) + 30, margin=dict(l=10, r=10, t=28, b=10), plot_bgcolor="white",
                   bargap=0.15)
    return go.Figure(data=traces, layout=layout)
