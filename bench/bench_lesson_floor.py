"""Can the lesson's exact model reach the issue's floor (test BCE ≤ 0.10)? Trains it under a few
learning rates, epoch counts and seeds and prints the MNIST-test BCE of each run.

    python bench/bench_lesson_floor.py                 # the grid below, ~5 min on 2 cores
    python bench/bench_lesson_floor.py --seeds 0 --lrs 0.001 --epochs 10

The architecture (784→64→32→16→32→64→784, relu, sigmoid), the loss (BCE) and the batch size (256) are
the lesson's and never change here; only what the lesson leaves unsaid (Adam's learning rate, the seed)
and, for scale, the number of epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LATENT_LAB_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 2e-3, 4e-3])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()

    from core.lab.evaluate import evaluate
    from core.lab.training import train
    from core.lab.zoo import SHIPPED

    print(f"{'lr':>7} {'epochs':>6} {'seed':>4} {'train s':>8} {'test BCE':>9}")
    for epochs in args.epochs:
        for lr in args.lrs if epochs == min(args.epochs) else args.lrs[:1]:  # longer runs: Adam's default only
            for seed in args.seeds:
                spec = dataclasses.replace(SHIPPED["lesson"], learning_rate=lr, epochs=epochs, seed=seed)
                result = train(spec, per_step=False)
                bce = evaluate(result.model, spec)["test_bce"]
                print(f"{lr:>7.4f} {epochs:>6} {seed:>4} {result.seconds:>8.1f} {bce:>9.4f}", flush=True)


if __name__ == "__main__":
    main()
