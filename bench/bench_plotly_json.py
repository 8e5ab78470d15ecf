"""Benchmark: plotly figure → JSON, with plotly's two JSON engines ("json": the standard library, and
"orjson", which plotly uses when that package is installed), for figures like the app's:

- a row of four 28×28 image heatmaps (the Denoise page's clean / noisy / plain / denoised panels);
- a grid of 2 × 10 image heatmaps (the Training lab's reconstructions);
- a 10 000-point latent map: ten Scattergl traces of 1 000 codes each (the Latent and Upload pages).

Each figure is serialised the way `st.plotly_chart` does it, `plotly.io.to_json(fig, validate=False)`,
with `engine=` set explicitly; `fig.to_json()` (which validates) is timed as well. Both engines'
outputs are checked to decode to the same figure. The figures are built here with plotly alone, in
the same shape as core's figure functions (float32 heatmaps with a grey colour scale, per-digit
Scattergl traces), so the benchmark does not depend on the app's module layout.

    python bench/bench_plotly_json.py                 # needs orjson importable for the comparison
    python bench/bench_plotly_json.py --repeat 200

Without orjson installed only the "json" engine is timed (install it into a scratch directory and
put that on PYTHONPATH to compare without touching the project's environment).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import time

import numpy as np
import plotly
import plotly.graph_objects as go
import plotly.io as pio

GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]
DIGIT_COLOURS = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
                 "#999999", "#882255"]


def _heatmaps(images: list[np.ndarray], rows: int, cols: int, titles: list[str]) -> go.Figure:
    traces, layout = [], {"annotations": [], "height": 260 * rows, "plot_bgcolor": "white"}
    w, h = (1 - 0.02 * (cols - 1)) / cols, (1 - 0.04 * (rows - 1)) / rows
    for k, img in enumerate(images, start=1):
        r, c = divmod(k - 1, cols)
        s = "" if k == 1 else str(k)
        x0, y0 = c * (w + 0.02), (rows - 1 - r) * (h + 0.04)
        traces.append(go.Heatmap(z=img, zmin=0.0, zmax=1.0, colorscale=GREY, showscale=False, name=titles[k - 1],
                                 xaxis=f"x{s}", yaxis=f"y{s}",
                                 hovertemplate="row %{y}, col %{x}<br>value %{z:.2f}<extra></extra>"))
        layout[f"xaxis{s}"] = dict(anchor=f"y{s}", domain=[x0, x0 + w], visible=False, scaleanchor=f"y{s}")
        layout[f"yaxis{s}"] = dict(anchor=f"x{s}", domain=[y0, y0 + h], visible=False, autorange="reversed")
        layout["annotations"].append(dict(text=titles[k - 1], x=x0 + w / 2, y=y0 + h, xref="paper", yref="paper",
                                          showarrow=False))
    return go.Figure(data=traces, layout=layout)


def image_row(rng: np.random.Generator) -> go.Figure:
    images = [rng.random((28, 28), dtype=np.float32) for _ in range(4)]
    return _heatmaps(images, 1, 4, ["clean", "noisy<br>PSNR 14.2 dB · SSIM 0.31", "plain AE<br>PSNR 18.0 dB",
                                    "denoising AE<br>PSNR 20.5 dB · SSIM 0.82"])


def image_grid(rng: np.random.Generator) -> go.Figure:
    images = [rng.random((28, 28), dtype=np.float32) for _ in range(20)]
    return _heatmaps(images, 2, 10, [f"digit {i % 10}" for i in range(20)])


def latent_map(rng: np.random.Generator, n: int = 10_000) -> go.Figure:
    z = rng.normal(size=(n, 2)).astype(np.float32)
    labels = np.arange(n) % 10
    fig = go.Figure()
    for d in range(10):
        zd = z[labels == d]
        fig.add_trace(go.Scattergl(x=zd[:, 0], y=zd[:, 1], mode="markers", name=str(d),
                                   marker=dict(size=3, color=DIGIT_COLOURS[d], opacity=0.45),
                                   hovertemplate=f"digit {d}<br>z₁ %{{x:.2f}}, z₂ %{{y:.2f}}<extra></extra>"))
    fig.update_layout(xaxis_title="z₁ (VAE latent mean)", yaxis_title="z₂", height=520, plot_bgcolor="white")
    return fig


def _time_ms(calls: dict[str, object], repeat: int) -> dict[str, tuple[float, float, float]]:
    """Each call's (min, median, 95th percentile) over `repeat` timed calls, in ms, the calls taking
    turns round by round so that a busy moment on the machine falls on all of them alike."""
    for fn in calls.values():  # warm-up
        fn(), fn()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1000)
    out = {}
    for name, values in samples.items():
        values.sort()
        out[name] = (values[0], statistics.median(values), values[min(len(values) - 1, int(0.95 * len(values)))])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=100, help="timed calls per figure and engine")
    args = parser.parse_args()

    engines = ["json"] + (["orjson"] if importlib.util.find_spec("orjson") else [])
    versions = f"plotly {plotly.__version__}"
    if "orjson" in engines:
        import orjson

        versions += f", orjson {orjson.__version__}"
    print(f"{datetime.date.today()} · {platform.processor() or platform.machine()} · {os.cpu_count()} CPUs · "
          f"Python {platform.python_version()} · {versions}")
    if "orjson" not in engines:
        print("orjson is not importable: timing the 'json' engine only")

    rng = np.random.default_rng(0)
    figures = {"image row (4 heatmaps 28×28)": image_row(rng), "image grid (20 heatmaps)": image_grid(rng),
               "latent map (10 000-point scattergl)": latent_map(rng)}
    print(f"\n{'figure':<38}{'call':<30}{'engine':<8}{'min ms':>8}{'median ms':>10}{'p95 ms':>8}{'bytes':>9}")
    for name, fig in figures.items():
        outputs = {e: pio.to_json(fig, validate=False, engine=e) for e in engines}
        calls = {}
        for e in engines:
            calls["pio.to_json(validate=False)", e] = lambda f=fig, e=e: pio.to_json(f, validate=False, engine=e)
            calls["fig.to_json()", e] = lambda f=fig, e=e: f.to_json(engine=e)
        for (call, e), (low, med, p95) in sorted(_time_ms(calls, args.repeat).items()):
            print(f"{name:<38}{call:<30}{e:<8}{low:>8.2f}{med:>10.2f}{p95:>8.2f}{len(outputs[e]):>9}")
        if len(outputs) == 2:  # the same figure either way; only the escaping and float spelling differ
            a, b = (json.loads(outputs[e]) for e in engines)
            assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), f"{name}: engines disagree"


if __name__ == "__main__":
    main()
