"""Benchmark: ONNX Runtime against the numpy forward packs and compiled Keras, for the Draw page's models.

    python bench/bench_onnx.py [--runs 500]

1. Import time, each in a fresh interpreter (median of 3): `onnxruntime`, and for comparison `keras`
   (which imports TensorFlow).
2. Session load time per model: `load_onnx` (both parts, metadata checked), first load and median.
3. One digit's reconstruction (what a stroke on the Draw page costs), p50 / p95 over `--runs` calls
   cycling through 64 MNIST test digits, after a warm-up: ONNX Runtime with 1 and 2 intra-op threads,
   the numpy forward pack (`core.serving.forward`, while it exists), and the Keras model as one
   compiled `tf.function` graph. TensorFlow is imported last, so its thread pools do not disturb the
   other figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_SHARED = ROOT.parent / "shared" / "data"
if "LATENT_LAB_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["LATENT_LAB_DATA"] = str(_SHARED)

from core.lab.data import load_mnist, to_float  # noqa: E402
from core.lab.zoo import FAST_PATH, SHIPPED  # noqa: E402
from core.serving import onnx_runtime  # noqa: E402
from core.serving.onnx_runtime import load_onnx  # noqa: E402

ASSETS = ROOT / "assets" / "models"


def _import_seconds(module: str, repeats: int = 3) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}).stdout) for _ in range(repeats)]
    return statistics.median(runs)


def _latency_ms(fns: dict, digits: np.ndarray, runs: int, block: int = 25) -> dict[str, tuple[float, float]]:
    """p50, p95 in ms of each fn(one digit (1, 28, 28, 1)); the fns take turns in blocks of `block`
    calls, so a change in machine load or clock speed during the run is shared between them."""
    for fn in fns.values():  # warm-up: first-call allocations, graph tracing
        for i in range(20):
            fn(digits[i % len(digits)][None])
    times: dict[str, list[float]] = {label: [] for label in fns}
    for start in range(0, runs, block):
        for label, fn in fns.items():
            for i in range(start, min(start + block, runs)):
                x = digits[i % len(digits)][None]
                t = time.perf_counter()
                fn(x)
                times[label].append((time.perf_counter() - t) * 1000)
    return {label: (float(np.percentile(t, 50)), float(np.percentile(t, 95))) for label, t in times.items()}


def _sha(name: str) -> str:
    return json.loads((ASSETS / f"{SHIPPED[name].key}.json").read_text())["sha256"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help="calls per latency figure")
    args = parser.parse_args()
    digits = to_float(load_mnist().x_test[:64])

    print("import time (fresh interpreter, median of 3)")
    for module in ("onnxruntime", "keras"):
        print(f"  {module:<12} {_import_seconds(module):6.2f} s", flush=True)

    print("\nsession load: load_onnx (encode + decode sessions, metadata checked; the process's first also sets up ONNX Runtime)")
    for name in FAST_PATH:
        key, sha = SHIPPED[name].key, _sha(name)
        loads = []
        for _ in range(5):
            t = time.perf_counter()
            assert load_onnx(key, sha, ASSETS) is not None, f"{name}: no current ONNX files (python -m core export)"
            loads.append((time.perf_counter() - t) * 1000)
        print(f"  {name:<8} first {loads[0]:6.1f} ms   median of 5 {statistics.median(loads):6.1f} ms", flush=True)

    try:
        from core.serving.forward import ForwardPass
    except ImportError:  # the packs are gone
        ForwardPass = None
    rows: dict[str, dict[str, tuple[float, float] | None]] = {}
    for name in FAST_PATH:
        fns = {}
        for threads in (1, 2):
            onnx_runtime.INTRA_OP_THREADS = threads
            fns[f"onnx {threads} thr"] = load_onnx(SHIPPED[name].key, _sha(name), ASSETS).reconstruct
        onnx_runtime.INTRA_OP_THREADS = 1
        pack = ASSETS / f"{SHIPPED[name].key}.forward.npz"
        if ForwardPass is not None and pack.exists():
            fns["numpy pack"] = ForwardPass.load(pack, expect_sha256=_sha(name))
        rows[name] = _latency_ms(fns, digits, args.runs)
        rows[name].setdefault("numpy pack", None)

    import tensorflow as tf  # last: its thread pools must not run beside the figures above

    from core.serving.store import load_entry

    for name in FAST_PATH:
        model = load_entry(ASSETS, SHIPPED[name])
        graph = tf.function(lambda x, m=model: m(x, training=False),
                            input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)])
        rows[name] |= _latency_ms({"keras graph": lambda x, g=graph: g(x).numpy()}, digits, args.runs)

    engines = list(next(iter(rows.values())))
    print(f"\none digit, reconstruct: p50 / p95 in ms over {args.runs} calls")
    print(f"  {'model':<8}" + "".join(f"{e:>20}" for e in engines))
    for name, by_engine in rows.items():
        cells = [f"{v[0]:.3f} / {v[1]:.3f}" if v else "n/a" for v in by_engine.values()]
        print(f"  {name:<8}" + "".join(f"{c:>20}" for c in cells))


if __name__ == "__main__":
    main()
