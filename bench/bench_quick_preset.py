"""Benchmark: the Training lab's quick preset, end to end (issue 7: ≤ 30 s, recognisable digits).

    python bench/bench_quick_preset.py                # the first preset in core.lab.presets.PRESETS
    python bench/bench_quick_preset.py --preset "The lesson's model, as in the lesson (≈30 s)"
    python bench/bench_quick_preset.py --latent-dim 8 --epochs 5    # try a variant when tuning the preset

Does what the Train page's Start button and the training worker do: the preset's spec submitted to a
`core.serving.queue.TrainingQueue` over a fresh empty cache (so nothing is reused), and the job run by
`core.serving.worker.run_job` (here in this process, on a thread). The wall time runs from `submit()`
until the job is done: data
preparation, model build, training with per-step progress, validation losses and watched
reconstructions each epoch, the test-set evaluation, and the atomic save. TensorFlow is imported
(and the MNIST files read once) before the clock starts, as on a running server.

Then it prints the test metrics from the saved record and a check that the digits are
*recognisable*: a 1-nearest-neighbour classifier over 10 000 MNIST training digits labels 2 000
test digits and their reconstructions; the share of reconstructions that keep their true label
(next to the share for the originals) says how much of each digit's identity survives.

Prints the machine, the date and the load average (other work on the machine inflates the figures).
Exits with status 1 if the wall time is over the target.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LATENT_LAB_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TARGET_S = 30.0
KNN_REFERENCE = 10_000  # training digits the 1-NN classifier compares against
KNN_QUERIES = 2_000  # test digits (and their reconstructions) it labels


def nearest_neighbour_labels(reference: np.ndarray, labels: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """1-NN labels by Euclidean distance in pixel space. reference (R, 784), queries (Q, 784) → (Q,)."""
    r2 = np.einsum("ij,ij->i", reference, reference)  # (R,)
    out = []
    for i in range(0, len(queries), 500):  # (500, R) distance blocks keep memory small
        q = queries[i : i + 500]
        d2 = r2[None, :] - 2 * q @ reference.T  # |q|² is the same for every reference, so left out
        out.append(labels[np.argmin(d2, axis=1)])
    return np.concatenate(out)


def recognisability(model) -> tuple[float, float]:
    """(1-NN accuracy on test digits, on their reconstructions), both in [0, 1]."""
    from core.lab import inference
    from core.lab.data import load_mnist, to_float

    mnist = load_mnist()
    ref = to_float(mnist.x_train[:KNN_REFERENCE]).reshape(KNN_REFERENCE, -1)
    x = to_float(mnist.x_test[:KNN_QUERIES])
    y = mnist.y_test[:KNN_QUERIES]
    x_hat = inference.reconstruct(model, x)
    ref_y = mnist.y_train[:KNN_REFERENCE]
    acc = lambda q: float(np.mean(nearest_neighbour_labels(ref, ref_y, q.reshape(len(q), -1)) == y))  # noqa: E731
    return acc(x), acc(x_hat)


def main() -> int:
    from core.lab.presets import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=next(iter(PRESETS)), choices=list(PRESETS), help="which preset (default: the quick one)")
    parser.add_argument("--latent-dim", type=int, help="override the preset's code size (for tuning)")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs (for tuning)")
    parser.add_argument("--train-size", type=int, help="override the preset's training-set size (for tuning)")
    parser.add_argument("--compare", nargs="*", default=["vae_2d", "vae_16"], help="shipped models whose recognisability to print alongside")
    args = parser.parse_args()
    overrides = {k: v for k, v in (("latent_dim", args.latent_dim), ("epochs", args.epochs), ("train_size", args.train_size)) if v is not None}
    spec = dataclasses.replace(PRESETS[args.preset], **overrides)

    import threading

    import keras  # noqa: F401 - imported before the clock, as on a running server

    from core.lab.data import load_mnist
    from core.serving.queue import QueueConfig, TrainingQueue
    from core.serving.store import ModelStore
    from core.serving.worker import run_job

    load_mnist()
    with tempfile.TemporaryDirectory(prefix="bench-quick-") as tmp:
        queue = TrainingQueue(QueueConfig(cache_dir=Path(tmp) / "cache"))
        store = ModelStore(cache_dir=Path(tmp) / "cache", assets_dir=Path(tmp) / "no-assets")
        t0 = time.perf_counter()
        job_id = queue.submit(spec, session="bench")
        threading.Thread(target=run_job, args=(job_id, queue), daemon=True).start()
        first_progress = None
        while (job := queue.job(job_id)).active:
            if first_progress is None and job.progress is not None:
                first_progress = time.perf_counter() - t0
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        if job.state != "done":
            print(f"training ended {job.state}: {job.error}", file=sys.stderr)
            return 2
        record = store.record(spec)
        acc_x, acc_rec = recognisability(store.get(spec))

    load = os.getloadavg()
    print(f"# quick preset end to end — {platform.node()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"# preset {args.preset!r}{' with ' + str(overrides) if overrides else ''}: {spec.label}, {spec.epochs} epochs, batch {spec.batch_size}, key {spec.key}")
    print(f"wall time start → saved: {wall:5.1f} s   (first progress after {first_progress or float('nan'):.1f} s; "
          f"model.fit {record['train_seconds']:.1f} s; target ≤ {TARGET_S:.0f} s)")
    m = record["metrics"]
    print("test metrics: " + ", ".join(f"{k} {v:g}" for k, v in m.items()))
    last = job.epochs[-1]
    print("last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch"))
    print(f"recognisable: 1-NN labels {acc_rec:.1%} of {KNN_QUERIES} reconstructed test digits correctly "
          f"({acc_x:.1%} of the originals)")
    for name in args.compare:  # the same check on fully trained shipped models, for scale
        from core.lab.zoo import spec_named

        print(f"  for scale, shipped {name}: 1-NN labels {recognisability(ModelStore(allow_training=False).get(spec_named(name)))[1]:.1%}")
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
