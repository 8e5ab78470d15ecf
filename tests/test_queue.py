"""The training queue (core.serving.queue) and its workers (core.serving.worker).

Fast tests drive the queue with no worker running (or run a job in this process); the slow ones start
real worker processes: cancel while running, a worker killed with SIGKILL mid-job, and two "app servers"
(two processes, each supervising its own local worker) sharing one queue and one model cache. The fast
tests run on both brokers: the embedded SQLite file and Redis (when Debian's redis-server is installed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab.spec import ModelSpec
from core.serving.queue import QueueConfig, TrainingQueue, job_cost
from core.serving.store import read_record, sha256_file
from core.serving.worker import evict_lru, run_job

ROOT = Path(__file__).resolve().parent.parent
TINY = ModelSpec("ae_2d", latent_dim=2, epochs=1, train_size=256)
SMALL = ModelSpec("lesson", latent_dim=8, epochs=1, batch_size=128, train_size=512)
LONG = ModelSpec("conv_ae", latent_dim=8, epochs=30, batch_size=32, train_size=20_000)  # minutes: to cancel or kill


def _spec(i: int) -> ModelSpec:
    return ModelSpec("lesson", latent_dim=4, epochs=1, train_size=1000 + i)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A throw-away redis-server on a free port (Debian's package), or a skip (a failure on CI)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (apt-get install redis-server); CI must test the Redis queue")
        pytest.skip("redis-server is not installed")
    from tests.browser_support import free_port

    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["sqlite", "redis"])
def config(request, tmp_path) -> QueueConfig:
    url = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        import redis

        redis.Redis.from_url(url).flushdb()
    return QueueConfig(cache_dir=tmp_path / "cache", url=url, max_queued=3, stale_s=3.0)


@pytest.fixture
def queue(config) -> TrainingQueue:
    return TrainingQueue(config)


# --- order, positions, one job per spec ------------------------------------------------------------


def test_fifo_positions_and_waits(queue):
    ids = [queue.submit(_spec(i), session=f"s{i}") for i in range(3)]
    views = [queue.job(i) for i in ids]
    assert [v.state for v in views] == ["queued"] * 3
    assert [v.position for v in views] == [1, 2, 3] and {v.queued for v in views} == {3}
    waits = [v.wait_s for v in views]
    assert waits[0] == 0.0 and waits[0] < waits[1] < waits[2]  # one worker: each waits for those ahead
    assert [j.id for j in queue.jobs()] == ids
    # The first leaves the queue: everyone moves up.
    assert queue.cancel(ids[0], "s0") is True
    assert queue.job(ids[0]).state == "cancelled"
    assert [queue.job(i).position for i in ids[1:]] == [1, 2]


def test_the_same_spec_twice_is_one_job(queue):
    a = queue.submit(SMALL, session="alice")
    assert queue.submit(SMALL, session="bob") == a
    assert queue.submit(SMALL, session="alice") == a  # pressing Start again is not a second job either
    assert len(queue.jobs()) == 1
    assert queue.cancel(a, "alice") is False  # bob still watches: it goes on
    assert queue.job(a).state == "queued"
    assert queue.cancel(a, "bob") is True
    assert queue.job(a).state == "cancelled"
    assert queue.submit(SMALL, session="bob") != a  # after a cancel, a fresh job


def test_an_already_trained_spec_is_done_at_once(queue, config):
    _fake_entry(config.cache_dir, SMALL, size=100)
    job = queue.job(queue.submit(SMALL, session="s"))
    assert job.state == "done" and "already trained" in job.note


# --- limits ----------------------------------------------------------------------------------------


def test_one_queued_or_running_job_per_session(queue):
    queue.submit(_spec(0), session="s")
    with pytest.raises(LatentLabError, match="one queued-or-running job per browser session"):
        queue.submit(_spec(1), session="s")
    queue.cancel(queue.jobs()[0].id, "s")
    queue.submit(_spec(1), session="s")  # once the first is gone, the next is fine


def test_job_cost_cap_names_the_numbers():
    assert job_cost(ModelSpec("vae", epochs=5, train_size=20_000)) == 100_000
    assert job_cost(ModelSpec("vae", epochs=2)) == 120_000  # all 60,000 training images
    from core.lab.data import load_mnist

    sevens = int((load_mnist().y_train == 7).sum())
    assert job_cost(ModelSpec("vae", epochs=3, digits=(7,))) == 3 * sevens
    assert job_cost(ModelSpec("vae", epochs=3, digits=(7,), train_size=100_000)) == 3 * sevens


def test_job_cost_limit(queue):
    with pytest.raises(LatentLabError, match=r"1,800,000 image-passes \(30 epochs × 60,000 training images\).*"
                                             r"limit of 600,000 \(LATENT_LAB_MAX_JOB_COST\)"):
        queue.submit(ModelSpec("vae", epochs=30), session="s")
    assert queue.jobs() == []


def test_queue_length_limit(queue):
    for i in range(3):
        queue.submit(_spec(i), session=f"s{i}")
    with pytest.raises(LatentLabError, match=r"queue is full \(3 jobs waiting; this server's limit is 3, LATENT_LAB_MAX_QUEUE\)"):
        queue.submit(_spec(9), session="s9")
    assert queue.submit(_spec(0), session="s9") == queue.jobs()[0].id  # joining a queued job is always fine


def test_config_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENT_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("LATENT_LAB_MAX_QUEUE", "4")
    monkeypatch.setenv("LATENT_LAB_LOCAL_WORKER", "0")
    config = QueueConfig.from_env()
    assert (config.cache_dir, config.max_queued, config.local_worker, config.url) == (tmp_path, 4, False, None)
    for var, value in config.to_env().items():
        monkeypatch.setenv(var, value)
    assert QueueConfig.from_env() == config  # what a supervised worker reads back
    monkeypatch.setenv("LATENT_LAB_WORKERS", "two")
    with pytest.raises(LatentLabError, match="LATENT_LAB_WORKERS='two' is not a valid int"):
        QueueConfig.from_env()


# --- cancel, dead workers, the cache cap ------------------------------------------------------------


SUBMIT_AND_EXIT = textwrap.dedent("""
    import json, sys
    from core.lab.spec import ModelSpec
    from core.serving.queue import QueueConfig, TrainingQueue
    queue = TrainingQueue(QueueConfig.from_env())
    print(json.dumps([queue.submit(ModelSpec.from_dict(json.loads(a)), session=f"s{i}") for i, a in enumerate(sys.argv[1:])]))
""")


def test_queued_jobs_outlive_the_app_server(config):
    """An app server queues two jobs and exits (a restart, a crash); the next one finds them queued, in
    order, with the per-session limit still in force: the queue lives in the SQLite file or in Redis."""
    specs = [json.dumps(_spec(i).to_dict()) for i in range(2)]
    out = subprocess.run([sys.executable, "-c", SUBMIT_AND_EXIT, *specs], cwd=ROOT, env={**os.environ, **config.to_env()},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ids = json.loads(out.stdout.strip().splitlines()[-1])
    restarted = TrainingQueue(config)
    assert [restarted.job(i).state for i in ids] == ["queued", "queued"]
    assert [restarted.job(i).position for i in ids] == [1, 2]
    assert [j.spec for j in restarted.jobs()] == [_spec(0), _spec(1)]
    with pytest.raises(LatentLabError, match="already"):
        restarted.submit(_spec(7), session="s0")  # that session's job is still waiting


def test_cancel_while_queued_is_skipped_by_the_worker(queue, config):
    job_id = queue.submit(SMALL, session="s")
    queue.cancel(job_id, "s")
    run_job(job_id, queue)  # what the worker does when the job comes up
    assert queue.job(job_id).state == "cancelled"
    assert not list(config.cache_dir.glob("*.keras"))


def test_a_running_job_without_heartbeat_fails(queue):
    job_id = queue.submit(SMALL, session="s")
    assert queue.claim(job_id, "elsewhere:1") == SMALL  # a worker took it, then went silent
    assert queue.job(job_id).state == "running"
    time.sleep(3.5)  # config.stale_s = 3
    job = queue.job(job_id)
    assert job.state == "failed" and job.error.startswith("the training worker stopped (no heartbeat for")
    assert queue.submit(SMALL, session="s") != job_id  # the session may start again


def _fake_entry(directory: Path, spec: ModelSpec, size: int, used: float | None = None) -> None:
    """A store entry with `size` bytes of weights (valid record and hash), last used at `used`."""
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{spec.key}.keras"
    weights.write_bytes(b"\0" * size)
    record = {"key": spec.key, "spec": spec.to_dict(), "sha256": sha256_file(weights)}
    (directory / f"{spec.key}.json").write_text(json.dumps(record))
    if used is not None:
        for p in (weights, directory / f"{spec.key}.json"):
            os.utime(p, (used, used))


def test_cache_cap_evicts_least_recently_used_user_models_only(tmp_path):
    from core.lab.zoo import all_shipped

    shipped = next(iter(all_shipped().values()))
    now = time.time()
    _fake_entry(tmp_path, shipped, 4000, used=now - 900)  # oldest of all, but shipped: never evicted
    for i, age in enumerate((500, 100, 300, 50)):
        _fake_entry(tmp_path, _spec(i), 1000, used=now - age)
    (tmp_path / f"{_spec(0).key}.lock").touch()
    size = lambda spec: sum(p.stat().st_size for p in tmp_path.glob(f"{spec.key}.*"))  # noqa: E731 - record + weights
    total = size(shipped) + sum(size(_spec(i)) for i in range(4))
    evicted = evict_lru(tmp_path, cap_bytes=total - size(_spec(0)) - size(_spec(2)), keep={_spec(3).key})
    assert [e.split(" (")[0] for e in evicted] == [_spec(0).label, _spec(2).label]  # oldest first, until under the cap
    assert not (tmp_path / f"{_spec(0).key}.keras").exists() and not (tmp_path / f"{_spec(0).key}.json").exists()
    assert read_record(tmp_path, _spec(1)) is not None and read_record(tmp_path, shipped) is not None
    assert evict_lru(tmp_path, cap_bytes=0, keep={_spec(3).key}) == [f"{_spec(1).label} ({_spec(1).key[:6]})"]


def test_time_left_leaves_out_the_first_steps_compilation():
    """What the page shows as "about N s left": 10 epochs × 100 steps; the first step took 8 s (tracing, XLA),
    the next 99 took 1 s in all: 900 steps remain at ~10 ms each, so ~9 s, not the ~81 s a plain average gives."""
    from core.lab.training import Progress

    p = Progress(epoch=1, epochs=10, step=100, steps=100, elapsed=9.0, logs={}, first_step_s=8.0)
    assert p.fraction == pytest.approx(0.1)
    assert p.remaining == pytest.approx(1.0 / 99 * 900)
    assert Progress(1, 10, 100, 100, 9.0, {}).remaining == pytest.approx(81.0)  # without step hooks


# --- real training ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_reports_progress_and_saves(tmp_path):
    """The job body (here in this process): progress, epochs, watched reconstructions, the saved record."""
    queue = TrainingQueue(QueueConfig(cache_dir=tmp_path / "cache"))
    spec = ModelSpec("vae", latent_dim=2, epochs=2, batch_size=128, train_size=1024)
    job_id = queue.submit(spec, session="s")
    run_job(job_id, queue)
    job = queue.job(job_id)
    assert job.state == "done", job.error
    assert [e["epoch"] for e in job.epochs] == [1, 2]
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_kl_loss"} <= set(job.epochs[-1])
    assert job.samples.shape == job.watch.shape == (8, 28, 28, 1) and job.samples.dtype == np.float32
    assert job.progress["fraction"] == 1.0 and job.progress["epoch"] == 2
    record = read_record(tmp_path / "cache", spec)
    assert record["metrics"]["test_neg_elbo"] > 0 and record["history"]["loss"]


def test_a_bad_spec_fails_with_a_message(queue):
    job_id = queue.submit(ModelSpec("lesson", epochs=1, batch_size=512, digits=(3,), train_size=100), session="s")
    run_job(job_id, queue)
    job = queue.job(job_id)
    assert job.state == "failed" and "fewer than one batch" in job.error


def _start_worker(config: QueueConfig, log: Path) -> subprocess.Popen:
    env = {**os.environ, **config.to_env()}
    return subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def _wait(queue: TrainingQueue, job_id: str, until, timeout: float = 180):
    t0 = time.time()
    while time.time() - t0 < timeout:
        job = queue.job(job_id)
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"timed out; last seen {job}")


def _leftovers(cache: Path, spec: ModelSpec) -> list[str]:
    """Any file of `spec`'s entry, finished or half-written (the store writes `.<name>.*` temp files)."""
    return sorted(p.name for p in cache.iterdir() if spec.key in p.name and p.suffix != ".lock")


@pytest.mark.slow
def test_cancel_a_running_job_in_a_worker(tmp_path):
    config = QueueConfig(cache_dir=tmp_path / "cache")
    queue = TrainingQueue(config)
    worker = _start_worker(config, tmp_path / "worker.log")
    try:
        job_id = queue.submit(LONG, session="s")
        _wait(queue, job_id, lambda j: j.progress is not None and j.progress["step"] >= 3)
        assert queue.cancel(job_id, "s") is True
        assert queue.job(job_id).cancelling
        job = _wait(queue, job_id, lambda j: not j.active, timeout=60)
        assert job.state == "cancelled" and job.progress["epoch"] == 1  # stopped inside the first of 30 epochs
        assert _leftovers(config.cache_dir, LONG) == []
        # The worker goes on with the next job.
        small = queue.submit(SMALL, session="s")
        assert _wait(queue, small, lambda j: not j.active).state == "done"
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_no_model_and_a_failed_job(tmp_path):
    config = QueueConfig(cache_dir=tmp_path / "cache", stale_s=4.0)
    queue = TrainingQueue(config)
    worker = _start_worker(config, tmp_path / "worker.log")
    try:
        job_id = queue.submit(LONG, session="s")
        waiting = queue.submit(SMALL, session="t")  # queued behind it: must survive the crash
        _wait(queue, job_id, lambda j: j.progress is not None and j.progress["step"] >= 3)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        job = _wait(queue, job_id, lambda j: not j.active, timeout=30)
        assert job.state == "failed" and "the training worker stopped" in job.error
        assert _leftovers(config.cache_dir, LONG) == []  # nothing half-written
        assert queue.job(waiting).state == "queued"
        worker = _start_worker(config, tmp_path / "worker2.log")  # what the app's supervisor does
        assert _wait(queue, waiting, lambda j: not j.active).state == "done"
    finally:
        worker.kill()
        worker.wait(timeout=10)


APP_SERVER = textwrap.dedent('''
    """One "app server": supervises its local worker, submits, waits, then checks what the other trained."""
    import json, sys, time
    from core.lab.spec import ModelSpec
    from core.serving.queue import app_queue
    from core.serving.store import ModelStore

    name, mine, shared, theirs = sys.argv[1], *(ModelSpec.from_dict(json.loads(a)) for a in sys.argv[2:5])
    queue = app_queue()  # starts this server's supervised worker
    ids = {"shared": queue.submit(shared, name + "-1"), "mine": queue.submit(mine, name + "-2")}
    while any(queue.job(i).active for i in ids.values()):
        time.sleep(0.2)
    states = {k: queue.job(i).state for k, i in ids.items()}
    store = ModelStore(allow_training=False)
    while theirs.key not in {r["key"] for r in store.entries()}:  # trained from the other server
        time.sleep(0.2)
    model = store.get(theirs)
    print(json.dumps({"ids": ids, "states": states, "theirs_outputs": list(model.outputs[0].shape[1:])}))
''')


@pytest.mark.slow
def test_two_app_servers_share_one_queue_and_cache(tmp_path):
    cache = tmp_path / "cache"
    specs = {"a": _spec(1), "b": _spec(2), "shared": ModelSpec("lesson", latent_dim=4, epochs=2, train_size=2000)}
    env = {**os.environ, "LATENT_LAB_CACHE": str(cache)}
    run = lambda name, mine, theirs: subprocess.Popen(  # noqa: E731
        [sys.executable, "-c", APP_SERVER, name, *(json.dumps(s.to_dict()) for s in (specs[mine], specs["shared"], specs[theirs]))],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=(tmp_path / f"{name}.log").open("w"), text=True)
    servers = [run("A", "a", "b"), run("B", "b", "a")]
    try:
        out = [json.loads(p.communicate(timeout=300)[0]) for p in servers]
    finally:
        for p in servers:
            p.kill()
    logs = "".join((tmp_path / f"{n}.log").read_text() for n in "AB")
    assert [o["states"] for o in out] == [{"shared": "done", "mine": "done"}] * 2, logs
    assert out[0]["ids"]["shared"] == out[1]["ids"]["shared"]  # the same spec from both servers: one job
    assert logs.count(f"(key {specs['shared'].key})") == 1  # ... trained once
    assert out[0]["theirs_outputs"] == out[1]["theirs_outputs"] == [28, 28, 1]  # each used the other's model
    assert logs.count("serving ") >= 1 and "another worker serves" in logs  # one worker at a time on this machine


@pytest.mark.slow
def test_a_redis_worker_trains_a_job(tmp_path, redis_url):
    """The same worker code against Redis: a job submitted here is trained by a `python -m core worker`."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    config = QueueConfig(cache_dir=tmp_path / "cache", url=redis_url)
    queue = TrainingQueue(config)
    worker = _start_worker(config, tmp_path / "worker.log")
    try:
        job_id = queue.submit(TINY, session="s")
        job = _wait(queue, job_id, lambda j: not j.active)
        assert job.state == "done", job.error
        assert read_record(config.cache_dir, TINY) is not None
    finally:
        worker.terminate()
        worker.wait(timeout=30)
