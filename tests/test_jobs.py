"""Background training jobs: progress, sharing one run between users, cancelling cleanly."""

import time

import pytest

from core.lab.spec import ModelSpec
from core.serving.jobs import JobBoard
from core.serving.store import ModelStore, read_record

pytestmark = pytest.mark.slow


def _wait(job, timeout=180):
    t0 = time.time()
    while job.active and time.time() - t0 < timeout:
        time.sleep(0.1)
    assert not job.active, "job did not finish in time"


@pytest.fixture
def board(tmp_path):
    return JobBoard(ModelStore(cache_dir=tmp_path / "cache", assets_dir=tmp_path / "assets", evaluate_after_training=True))


def test_job_reports_progress_and_saves(board, tmp_path):
    spec = ModelSpec("vae", latent_dim=2, epochs=2, batch_size=128, train_size=1024)
    job = board.start(spec)
    _wait(job)
    snap = job.snapshot()
    assert snap["state"] == "done", snap["error"]
    assert [e["epoch"] for e in snap["epochs"]] == [1, 2]
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_kl_loss"} <= set(snap["epochs"][-1])
    assert snap["samples"].shape == snap["watch"].shape == (8, 28, 28, 1)
    record = read_record(tmp_path / "cache", spec)
    assert record["metrics"]["test_neg_elbo"] > 0 and record["history"]["loss"]
    assert board.store.entries()[0]["key"] == spec.key


def test_two_users_share_one_training(board, monkeypatch):
    import core.lab.training

    calls = []
    real = core.lab.training.train
    monkeypatch.setattr(core.lab.training, "train", lambda spec, **kw: calls.append(1) or real(spec, **kw))
    spec = ModelSpec("lesson", epochs=1, batch_size=128, train_size=512)
    a, b = board.start(spec), board.start(spec)
    assert a is b
    _wait(a)
    assert a.state == "done" and calls == [1]
    assert board.start(spec) is a  # a finished job is reused, not retrained


def test_cancel_stops_between_steps_and_saves_nothing(board, tmp_path):
    spec = ModelSpec("conv_ae", latent_dim=8, epochs=30, batch_size=32, train_size=20000)
    job = board.start(spec)
    t0 = time.time()
    while (job.progress is None or job.progress.step < 3) and time.time() - t0 < 120:
        time.sleep(0.05)
    job.cancel()
    _wait(job, timeout=60)
    assert job.state == "cancelled"
    assert job.progress.epoch == 1  # stopped inside the first of 30 epochs
    assert read_record(tmp_path / "cache", spec) is None
    assert not list((tmp_path / "cache").glob("*.keras"))
    # Starting again after a cancel begins a fresh job.
    again = board.start(spec)
    assert again is not job
    again.cancel()
    _wait(again, timeout=60)


def test_bad_spec_fails_with_a_message(board):
    spec = ModelSpec("lesson", epochs=1, batch_size=512, digits=(3,), train_size=100)
    job = board.start(spec)
    _wait(job)
    assert job.state == "failed" and "fewer than one batch" in job.error


def test_time_left_leaves_out_the_first_steps_compilation():
    """10 epochs × 100 steps; the first step took 8 s (tracing, XLA), the next 99 took 1 s in all:
    900 steps remain at ~10 ms each, so ~9 s, not the ~81 s a plain average of 10 s over 100 steps gives."""
    from core.lab.training import Progress

    p = Progress(epoch=1, epochs=10, step=100, steps=100, elapsed=9.0, logs={}, first_step_s=8.0)
    assert p.fraction == pytest.approx(0.1)
    assert p.remaining == pytest.approx(1.0 / 99 * 900)
    # Without step hooks (first_step_s unknown) the plain average is all there is.
    assert Progress(1, 10, 100, 100, 9.0, {}).remaining == pytest.approx(81.0)
    assert Progress(1, 10, 1, 100, 8.0, {}, first_step_s=8.0).remaining == pytest.approx(8.0 * 999)
