"""core.lab.training: the denoiser's training noise is `core.lab.noise.gaussian`, drawn per batch from
one seeded stream."""

import numpy as np

from core.lab import noise
from core.lab.spec import ModelSpec
from core.lab.training import _dataset, _validation_dataset


def test_denoiser_trains_on_noise_gaussian_fresh_per_batch():
    spec = ModelSpec("denoise", latent_dim=4, noise_factor=0.5, batch_size=16, seed=3)
    x = np.random.default_rng(0).random((48, 28, 28, 1)).astype(np.float32)
    stream = np.random.default_rng(spec.seed + 1)  # the stream the pipeline draws from, batch after batch
    batches = list(_dataset(spec, x).as_numpy_iterator())
    assert len(batches) == 3
    for noisy, clean in batches:
        np.testing.assert_array_equal(noisy, noise.gaussian(clean, spec.noise_factor, seed=stream))
    assert not np.array_equal(batches[0][0] - batches[0][1], batches[1][0] - batches[1][1])  # fresh noise
    again = list(_dataset(spec, x).as_numpy_iterator())  # the same spec gets the same noise
    np.testing.assert_array_equal(again[2][0], batches[2][0])


def test_denoiser_validation_noise_is_one_fixed_draw():
    spec = ModelSpec("denoise", latent_dim=4, noise_factor=0.5, seed=3)
    x = np.random.default_rng(1).random((10, 28, 28, 1)).astype(np.float32)
    (noisy, clean), = _validation_dataset(spec, x).as_numpy_iterator()
    np.testing.assert_array_equal(noisy, noise.gaussian(x, 0.5, seed=spec.seed + 2))
    np.testing.assert_array_equal(clean, x)


def _timeline(epochs=5, steps=157):
    """A synthetic run shaped like the quick preset measured on a 2-core server: epoch 1's first step traces
    and compiles (5 s, the shuffle buffer filling too), its last, smaller batch compiles again (2.4 s) and its
    first validation pass compiles (1.4 s); later epochs refill the shuffle buffer (0.8 s), run 12 ms steps and
    a 0.15 s validation pass, epoch 3 a fifth slower (a busy moment). Yields (epoch, step, t, epoch_end)."""
    t = 0.0
    for e in range(1, epochs + 1):
        slow = 1.2 if e == 3 else 1.0
        for s in range(1, steps + 1):
            if e == 1:
                t += 5.0 if s == 1 else 2.4 if s == steps else 0.012
            else:
                t += (0.8 if s == 1 else 0.0) + 0.012 * slow
            yield e, s, t, False
        t += 1.4 if e == 1 else 0.15 * slow
        yield e, steps, t, True


def test_time_left_is_steady_after_the_first_epoch():
    """The page's "about N s left": after the first epoch every estimate is within 30 % of the time that was
    actually left (or 1.5 s near the end) and never jumps up, though epoch 1 is slowed by compilation."""
    from core.lab.training import EpochClock, Progress

    timeline = list(_timeline())
    end = timeline[-1][2]
    clock, shown, old = EpochClock(), [], None
    for epoch, step, t, epoch_end in timeline:
        clock.epoch_end(t) if epoch_end else clock.step(t)
        p = Progress(epoch, 5, step, 157, t, {}, epoch_end, first_step_s=5.0, epoch_s=clock.epoch_s)
        if epoch_end and epoch == 1:
            old = Progress(1, 5, 157, 157, t, {}, True, first_step_s=5.0).remaining  # steps only, no epoch clock
        if clock.epoch_s is not None:
            shown.append((p.remaining, end - t))
    for estimate, actual in shown:
        assert abs(estimate - actual) <= max(0.3 * actual, 1.5), (estimate, actual)
    assert all(later <= earlier * 1.3 for (earlier, _), (later, _) in zip(shown, shown[1:], strict=False))  # no jumps up
    first_actual = shown[0][1]
    assert old > 1.5 * first_actual  # the per-step average alone: compilation makes it about twice too long


def test_epoch_clock_without_step_timings_uses_whole_epochs():
    from core.lab.training import EpochClock

    clock = EpochClock()
    assert clock.epoch_s is None
    clock.epoch_end(4.0)
    clock.epoch_end(6.0)
    assert clock.epoch_s == 3.0  # (4 + 2) / 2: nothing to adjust the first epoch with
