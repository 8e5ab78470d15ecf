"""Training one `ModelSpec` on MNIST, with progress reporting and cooperative cancellation.

`train(spec)` is the only place that fits a model. It is deterministic for a given spec (seeded
weights, shuffling, noise and VAE sampling) up to TensorFlow's CPU kernel ordering.

The denoising AE learns from noisy inputs and clean targets. Its noise is `core.lab.noise.gaussian`,
clip(x + noise_factor·N(0, 1), 0, 1), drawn afresh for every batch from one numpy generator seeded
with `spec.seed + 1`; its validation images get one fixed draw (seed `spec.seed + 2`).

A spec with `augment` distorts every training batch first (`core.lab.augment`: rotation, shear, zoom,
shift, stroke width, elastic distortion), drawn the same way from a generator seeded with
`spec.seed + 3`, so each epoch sees new distortions and a spec always gets the same ones. The
distorted image is the input and the target: the model learns to rebuild what it is shown (the
denoiser's noise goes on top of it). Validation images are never distorted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from core.errors import LatentLabError
from core.lab import augment, noise
from core.lab.data import load_mnist, to_float
from core.lab.models import build
from core.lab.spec import ModelSpec


@dataclass(frozen=True)
class Progress:
    """A snapshot for the UI: where training is and the latest running losses."""

    epoch: int  # 1-based epoch being run
    epochs: int
    step: int  # 1-based step within the epoch
    steps: int
    elapsed: float  # seconds since training started
    logs: dict  # running means, e.g. {"loss": 0.11} or {"loss", "reconstruction_loss", "kl_loss"}
    epoch_end: bool = False
    samples: np.ndarray | None = None  # at epoch end: reconstructions (K, 28, 28, 1) of the watched images
    first_step_s: float | None = None  # `elapsed` when the first step ended (known with step hooks)
    epoch_s: float | None = None  # seconds an epoch takes (`EpochClock`), known once the first epoch has ended

    @property
    def done(self) -> int:
        return (self.epoch - 1) * self.steps + self.step

    @property
    def fraction(self) -> float:
        return self.done / (self.epochs * self.steps)

    @property
    def remaining(self) -> float:
        """Seconds left. Once an epoch has ended: epochs (and the fraction of one) left × `epoch_s`, the
        time a whole epoch takes, reshuffling and validation included, so the estimate counts down steadily
        instead of jumping at each epoch's end. During the first epoch: the average time of the steps after
        the first, which includes tracing and XLA compilation and is far slower than any later step
        (counting it would make the estimate several times too long)."""
        left = self.epochs * self.steps - self.done
        if self.epoch_s is not None:
            return self.epoch_s * left / self.steps
        if self.first_step_s is not None and self.done > 1:
            return (self.elapsed - self.first_step_s) / (self.done - 1) * left
        return self.elapsed * left / self.done if self.done > 0 else float("nan")


class EpochClock:
    """How long an epoch takes, for the time-left estimate: the mean of the epochs timed so far.

    Each epoch is timed from the end of the one before (so its reshuffle, steps, validation pass and
    watched reconstructions all count). The first epoch is not like the others: its first step traces and
    compiles the model and its last (a smaller batch) compiles again, so it counts with those two steps
    replaced by its ordinary ones (when the steps were timed). A mean over the epochs, not the latest
    alone, keeps one slow epoch on a busy server from swinging the estimate.
    """

    def __init__(self, start: float = 0.0):
        self.start = start  # when the epoch in progress began (the previous one ended)
        self.step_ends: list[float] = []  # end times of the epoch in progress's steps
        self.durations: list[float] = []  # seconds per completed epoch (the first adjusted as above)

    def step(self, t: float) -> None:
        self.step_ends.append(t)

    def epoch_end(self, t: float) -> None:
        seconds = t - self.start
        if not self.durations and len(self.step_ends) >= 4:
            first, last = self.step_ends[0] - self.start, self.step_ends[-1] - self.step_ends[-2]
            ordinary = (self.step_ends[-2] - self.step_ends[0]) / (len(self.step_ends) - 2)
            seconds -= first + last - 2 * ordinary
        self.durations.append(max(seconds, 0.0))
        self.start, self.step_ends = t, []

    @property
    def epoch_s(self) -> float | None:
        return sum(self.durations) / len(self.durations) if self.durations else None


@dataclass
class TrainResult:
    model: keras.Model
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    cancelled: bool = False


def training_images(spec: ModelSpec) -> np.ndarray:
    """The spec's training set: MNIST train images, filtered by digit and cut to train_size.

    Returns float32 (N, 28, 28, 1) in [0, 1].
    """
    mnist = load_mnist()
    x, y = mnist.x_train, mnist.y_train
    if spec.digits:
        x = x[np.isin(y, spec.digits)]
    if spec.train_size:
        x = x[: spec.train_size]
    if len(x) < spec.batch_size:
        raise LatentLabError(
            f"the training subset has {len(x)} images, fewer than one batch of {spec.batch_size}; "
            "use more images or a smaller batch size"
        )
    return to_float(x)


def _validation_dataset(spec: ModelSpec, x: np.ndarray):
    """Held-out images in the same (input, target) form as training; fixed noise for denoisers."""
    import tensorflow as tf

    if spec.is_vae:
        ds = tf.data.Dataset.from_tensor_slices(x)
    else:
        inputs = noise.gaussian(x, spec.noise_factor, seed=spec.seed + 2) if spec.noise_factor > 0 else x
        ds = tf.data.Dataset.from_tensor_slices((inputs, x))
    return ds.batch(1000)


def _dataset(spec: ModelSpec, x: np.ndarray):
    """A shuffled, batched tf.data pipeline: (input, target) for AEs, input alone for VAEs.

    The denoising AE sees fresh noise on every batch (noisy input, clean target): `noise.gaussian`
    with one generator that runs on through the whole run (batches are mapped in order, so a spec
    always gets the same noise).
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=spec.seed, reshuffle_each_iteration=True)
    ds = ds.batch(spec.batch_size, drop_remainder=False)
    if spec.augment is not None:
        aug_rng = np.random.default_rng(spec.seed + 3)

        def distort(xb):  # (B, 28, 28, 1) → distorted (B, 28, 28, 1), in numpy
            out = tf.numpy_function(lambda b: augment.augment(b, spec.augment, aug_rng), [xb], tf.float32)
            return tf.ensure_shape(out, xb.shape)

        ds = ds.map(distort)
    if spec.is_vae:
        pass
    elif spec.noise_factor > 0:
        rng = np.random.default_rng(spec.seed + 1)

        def add_noise(xb):  # (B, 28, 28, 1) → noisy (B, 28, 28, 1), in numpy
            noisy = tf.numpy_function(lambda b: noise.gaussian(b, spec.noise_factor, seed=rng), [xb], tf.float32)
            return tf.ensure_shape(noisy, xb.shape), xb

        ds = ds.map(add_noise)
    else:
        ds = ds.map(lambda xb: (xb, xb))
    return ds.prefetch(tf.data.AUTOTUNE)


class _EpochProgress(keras.callbacks.Callback):
    """Forwards Keras's epoch events as `Progress`.

    Batch hooks live in the subclass below and are attached only when a UI needs them: any batch
    hook makes Keras fetch the logs after every step, which stalls the pipeline.
    """

    def __init__(self, spec, steps, on_progress, should_stop, watch=None, every_s=0.25):
        super().__init__()
        self.spec, self.steps, self.watch = spec, steps, watch
        self.on_progress, self.should_stop = on_progress, should_stop
        self.every_s = every_s
        self.t0 = time.perf_counter()
        self.epoch = 0
        self.last_sent = 0.0
        self.first_step_s = None  # seconds from start to the end of the first step (compilation included)
        self.clock = EpochClock()  # seconds per epoch, for the time-left estimate
        self.cancelled = False

    def _send(self, step, logs, epoch_end=False):
        if self.on_progress is None:
            return
        now = time.perf_counter()
        if not epoch_end and now - self.last_sent < self.every_s:
            return  # throttle: a UI needs a few updates a second, not one per step
        self.last_sent = now
        logs = {k: float(v) for k, v in (logs or {}).items()}
        samples = None
        if epoch_end and self.watch is not None:
            samples = np.asarray(self.model(self.watch, training=False))  # (K, 28, 28, 1)
        self.on_progress(Progress(self.epoch + 1, self.spec.epochs, step, self.steps, now - self.t0, logs, epoch_end, samples,
                                  self.first_step_s, self.clock.epoch_s))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if epoch == 0:
            self.clock.start = time.perf_counter() - self.t0

    def on_epoch_end(self, epoch, logs=None):
        self.clock.epoch_end(time.perf_counter() - self.t0)
        self._send(self.steps, logs, epoch_end=True)


class _BatchProgress(_EpochProgress):
    """Adds step-level progress and cooperative cancellation (checked after every step)."""

    def on_train_batch_end(self, batch, logs=None):
        self.clock.step(time.perf_counter() - self.t0)
        if self.first_step_s is None:
            self.first_step_s = time.perf_counter() - self.t0
        self._send(batch + 1, logs)
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            self.model.stop_training = True


def train(
    spec: ModelSpec,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    per_step: bool = True,
    validation: np.ndarray | None = None,
    watch: np.ndarray | None = None,
    callbacks: list[keras.callbacks.Callback] | tuple = (),
) -> TrainResult:
    """Fit a fresh model for `spec`. A cancelled run returns `cancelled=True` (never cache it).

    `on_progress` is called a few times a second (per_step=True) or once an epoch (per_step=False,
    which trains faster); `should_stop` is polled after every step. With `validation` images
    (N, 28, 28, 1) the epoch logs gain ``val_*`` losses; with `watch` images (K, 28, 28, 1) each
    epoch-end `Progress` carries their current reconstructions, so a UI can show learning happen.
    Extra Keras `callbacks` run after the progress hook (e.g. a benchmark's per-epoch evaluation);
    their time counts in `TrainResult.seconds`, so a caller that wants it out must subtract it.
    """
    x = training_images(spec)
    steps = -(-len(x) // spec.batch_size)
    model = build(spec, steps_per_epoch=steps)
    hooks = _BatchProgress if (per_step and on_progress) or should_stop else _EpochProgress
    callback = hooks(spec, steps, on_progress, should_stop, watch=None if watch is None else np.asarray(watch, np.float32))
    val = None if validation is None else _validation_dataset(spec, np.asarray(validation, np.float32))
    t0 = time.perf_counter()
    history = model.fit(_dataset(spec, x), epochs=spec.epochs, verbose=0, callbacks=[callback, *callbacks], shuffle=False,
                        validation_data=val)
    seconds = time.perf_counter() - t0
    return TrainResult(model, seconds, {k: [float(v) for v in vs] for k, vs in history.history.items()}, callback.cancelled)
