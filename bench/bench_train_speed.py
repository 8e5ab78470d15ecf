"""Training speed against a peer (issue 8, item 4): the keras.io VAE recipe vs this project's VAE-2D.

    python bench/bench_train_speed.py                      # recipe 30 epochs, then ours (the real figure)
    python bench/bench_train_speed.py --recipe-epochs 2    # a short trial: target = recipe after 2 epochs
    python bench/bench_train_speed.py --skip-recipe --target 153.7   # ours alone against a known target

Both sides train in this one process, one after the other, on the same CPU threads:

- the recipe: `keras_vae_recipe.py`, a faithful re-implementation of keras.io's "Variational
  AutoEncoder" (conv VAE, latent 2, batch 128, Adam defaults, 70,000 continuous MNIST digits,
  Keras 3 defaults, so no XLA on a CPU);
- ours: `core.lab.training.train` on a VAE-2D `ModelSpec` (kind "vae", latent 2); by default the shipped
  `vae_2d` spec as it is (30 epochs, batch 128, Adam 1e-3 with cosine decay, XLA, 60,000 training
  images only), with flags to try other epochs, batch sizes, learning rates and schedules.

After every epoch each side's test −ELBO is measured on the 10,000 MNIST test images, in nats per
image: Σ_pixels BCE(x, x̂(z)) + KL(q(z|x) ‖ N(0, I)), averaged over images, with z = μ + σ·ε and
one ε per image drawn once from a fixed seed, the *same* ε for both sides (so the only difference
is the model). It is computed here in numpy (float64, probabilities clipped to [1e-7, 1 − 1e-7]
like Keras's BCE), independently of either side's loss code. `--eval-z mean` decodes z = μ instead.

Timing: the training wall clock of a side starts just before its model is built (so it includes
data preparation, graph tracing and compilation) and runs to the end of each epoch; the time spent
on the per-epoch evaluation is measured and excluded. The target is the recipe's own −ELBO after
its final epoch; "time to target" is the training time at the end of the first epoch whose −ELBO
is at or below it (so it is resolved to whole epochs). Exit status 1 if ours does not reach the
target within 0.25× the recipe's time (the goal).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_SHARED = ROOT.parent / "shared" / "data"
if "LATENT_LAB_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["LATENT_LAB_DATA"] = str(_SHARED)

GOAL_RATIO = 0.25  # ours must reach the recipe's final −ELBO in ≤ 0.25× the recipe's time
EVAL_SEED = 2024  # ε for the test −ELBO: fixed, and shared by both sides
EVAL_BATCH = 1000  # direct model calls on 1000 images at a time (never `predict`: ~45 ms overhead)
BCE_EPS = 1e-7  # keras.config.epsilon(): Keras clips probabilities to [ε, 1 − ε] inside its BCE



# ---------------------------------------------------------------------------------------------
# Test −ELBO, the same function for both sides
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestSet:
    x: np.ndarray  # float32 (N, 28, 28, 1) in [0, 1]
    epsilon: np.ndarray  # float32 (N, 2): the one reparameterisation draw per image
    use_mean: bool  # decode z = μ instead of z = μ + σ·ε


def neg_elbo(encode: Callable, decode: Callable, test: TestSet) -> tuple[float, float]:
    """Mean test −ELBO and mean KL in nats per image.

    encode: x (B, 28, 28, 1) → (z_mean, z_log_var), each (B, 2); decode: z (B, 2) → x̂ (B, 28, 28, 1).
    """
    rec_sum = kl_sum = 0.0
    for i in range(0, len(test.x), EVAL_BATCH):
        x = test.x[i : i + EVAL_BATCH].astype(np.float64)
        z_mean, z_log_var = (np.asarray(t, np.float64) for t in encode(test.x[i : i + EVAL_BATCH]))
        z = z_mean if test.use_mean else z_mean + np.exp(0.5 * z_log_var) * test.epsilon[i : i + EVAL_BATCH]
        p = np.clip(np.asarray(decode(z.astype(np.float32)), np.float64), BCE_EPS, 1 - BCE_EPS)
        rec_sum += float(-(x * np.log(p) + (1 - x) * np.log1p(-p)).sum())  # Σ over images and pixels
        kl_sum += float(0.5 * (z_mean**2 + np.exp(z_log_var) - z_log_var - 1).sum())
    n = len(test.x)
    return (rec_sum + kl_sum) / n, kl_sum / n


# ---------------------------------------------------------------------------------------------
# A per-epoch clock that keeps evaluation out of the training time
# ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    side: str
    settings: dict
    epochs: list[int] = field(default_factory=list)
    train_s: list[float] = field(default_factory=list)  # training time at the end of each epoch
    neg_elbo: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    eval_s: float = 0.0  # total time spent evaluating (excluded from train_s)

    def time_to(self, target: float) -> tuple[float, int] | None:
        """(training seconds, epoch) at the first epoch end with −ELBO ≤ target, or None."""
        for s, e, v in zip(self.train_s, self.epochs, self.neg_elbo, strict=True):
            if v <= target:
                return s, e
        return None

    def epoch_seconds(self) -> float:
        """Median seconds of one epoch after the first (the first carries tracing/compilation)."""
        d = np.diff(self.train_s)
        return float(np.median(d)) if len(d) else float(self.train_s[0])


def _clock(run: Run, t0: float, evaluate: Callable[[object], tuple[float, float]], stop_at: float | None = None):
    """A Keras callback that fills `run` at every epoch end; with `stop_at`, training stops at the
    first epoch whose −ELBO ≤ stop_at (for trials: the time to target is known by then)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            t_end = time.perf_counter()
            run.epochs.append(epoch + 1)
            run.train_s.append(t_end - t0 - run.eval_s)
            value, kl = evaluate(self.model)
            run.neg_elbo.append(value)
            run.kl.append(kl)
            run.eval_s += time.perf_counter() - t_end
            print(f"  {run.side:<6} epoch {epoch + 1:>3}  train {run.train_s[-1]:7.1f} s  "
                  f"test −ELBO {value:7.2f}  (KL {kl:5.2f})", flush=True)
            if stop_at is not None and value <= stop_at:
                self.model.stop_training = True

    return EpochClock()


# ---------------------------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------------------------


def run_recipe(epochs: int, test: TestSet, seed: int) -> Run:
    import keras
    import keras_vae_recipe as recipe

    from core.lab.data import load_mnist

    run = Run("recipe", {"epochs": epochs, "batch_size": recipe.BATCH_SIZE, "optimizer": "Adam() defaults",
                         "jit_compile": "auto (off on CPU)", "train_images": 70000})

    def evaluate(model):
        return neg_elbo(lambda x: recipe.encode_gaussian(model, x), lambda z: model.decoder(z, training=False), test)

    keras.utils.set_random_seed(seed)  # the recipe seeds only its sampler; seed the weights too
    t0 = time.perf_counter()
    mnist = load_mnist()
    digits = recipe.recipe_digits(mnist.x_train, mnist.x_test)  # (70000, 28, 28, 1)
    recipe.train_recipe(digits, epochs, callbacks=[_clock(run, t0, evaluate)])
    return run


def run_ours(settings: dict, test: TestSet, seed: int, stop_at: float | None = None) -> Run:
    from core.lab.spec import ModelSpec
    from core.lab.training import train

    spec = ModelSpec("vae", latent_dim=2, seed=seed, **settings)
    run = Run("ours", {**settings, "train_images": 60000, "spec_key": spec.key})

    def evaluate(model):
        return neg_elbo(lambda x: model.encoder(x, training=False), lambda z: model.decoder(z, training=False), test)

    t0 = time.perf_counter()
    train(spec, per_step=False, callbacks=[_clock(run, t0, evaluate, stop_at)])
    return run


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def report(runs: list[Run], target: float, target_source: str) -> bool:
    """Print the table; True when ours meets the goal."""
    print(f"\ntarget: test −ELBO ≤ {target:.2f} nats ({target_source})")
    print(f"{'side':<8}{'epochs':>7}{'s/epoch':>9}{'to target':>12}{'at epoch':>10}{'final −ELBO':>13}"
          f"{'train s':>9}{'eval s (excl.)':>16}")
    reached = {}
    for r in runs:
        hit = r.time_to(target)
        reached[r.side] = hit
        to_target = f"{hit[0]:.1f} s" if hit else "not reached"
        at_epoch = str(hit[1]) if hit else "-"
        print(f"{r.side:<8}{r.epochs[-1]:>7}{r.epoch_seconds():>9.1f}{to_target:>12}{at_epoch:>10}"
              f"{r.neg_elbo[-1]:>13.2f}{r.train_s[-1]:>9.1f}{r.eval_s:>16.1f}")
    ours, peer = reached.get("ours"), reached.get("recipe")
    if ours and peer:
        ratio = ours[0] / peer[0]
        met = ratio <= GOAL_RATIO
        print(f"ratio ours/recipe (time to target): {ratio:.3f}  (goal ≤ {GOAL_RATIO}: {'met' if met else 'NOT met'})")
        return met
    if ours and not peer:
        print(f"ours reached the target in {ours[0]:.1f} s (no recipe run here, so no ratio)")
        return True
    print("ours did not reach the target: goal NOT met")
    return False


def main() -> None:
    from core.lab.zoo import spec_named

    # Ours by default: the shipped VAE-2D's own recipe, untouched (the flags try other settings).
    shipped = spec_named("vae_2d")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe-epochs", type=int, default=30, help="recipe epochs (the recipe's own: 30)")
    parser.add_argument("--skip-recipe", action="store_true", help="train ours only, against --target")
    parser.add_argument("--target", type=float, help="test −ELBO target (nats); default: the recipe's final value")
    parser.add_argument("--epochs", type=int, default=shipped.epochs, help="ours: epochs")
    parser.add_argument("--batch-size", type=int, default=shipped.batch_size, help="ours: batch size")
    parser.add_argument("--learning-rate", type=float, default=shipped.learning_rate, help="ours: peak LR")
    parser.add_argument("--schedule", default=shipped.schedule, help="ours: constant | cosine")
    parser.add_argument("--eval-z", choices=("sample", "mean"), default="sample",
                        help="z for the test −ELBO: one seeded sample per image (default) or the posterior mean")
    parser.add_argument("--stop-at-target", action="store_true",
                        help="stop ours at the first epoch that reaches the target (trials; final −ELBO is then that epoch's)")
    parser.add_argument("--seed", type=int, default=0, help="weights seed for both sides")
    parser.add_argument("--json", type=Path, help="also write every per-epoch figure here")
    args = parser.parse_args()
    if args.recipe_epochs < 1:
        parser.error(f"--recipe-epochs must be ≥ 1, got {args.recipe_epochs}")
    if args.skip_recipe and args.target is None:
        parser.error("--skip-recipe needs --target (the recipe's −ELBO to reach, e.g. 153.7)")

    import tensorflow as tf

    from core.errors import LatentLabError
    from core.lab.data import load_mnist, to_float

    print(f"# training speed: keras.io VAE recipe vs ours — {platform.node()}, {os.cpu_count()} CPUs, "
          f"TensorFlow {tf.__version__}, {time.strftime('%Y-%m-%d %H:%M')}")
    print("# times exclude the per-epoch test evaluation; −ELBO in nats/image on 10,000 MNIST test images, "
          f"z = {'μ' if args.eval_z == 'mean' else 'μ + σ·ε, one shared seeded ε per image'}")
    try:
        x_test = to_float(load_mnist().x_test)  # (10000, 28, 28, 1)
        eps = np.random.default_rng(EVAL_SEED).standard_normal((len(x_test), 2)).astype(np.float32)
        test = TestSet(x_test, eps, args.eval_z == "mean")
        ours_settings = {"epochs": args.epochs, "batch_size": args.batch_size,
                         "learning_rate": args.learning_rate, "schedule": args.schedule}
        runs = []
        if not args.skip_recipe:
            print(f"recipe: {args.recipe_epochs} epochs", flush=True)
            runs.append(run_recipe(args.recipe_epochs, test, args.seed))
        print(f"ours: {ours_settings}", flush=True)
        target = args.target if args.target is not None else (runs[0].neg_elbo[-1] if runs else None)
        runs.append(run_ours(ours_settings, test, args.seed, target if args.stop_at_target else None))
    except LatentLabError as e:
        sys.exit(f"error: {e}")
    if args.target is not None:
        target, source = args.target, "given with --target"
    else:
        target, source = runs[0].neg_elbo[-1], f"the recipe's own after its epoch {runs[0].epochs[-1]}"
    met = report(runs, target, source)
    if args.json:
        args.json.write_text(json.dumps({"target": target, "runs": [asdict(r) for r in runs]}, indent=1))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
