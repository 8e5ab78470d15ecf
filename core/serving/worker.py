"""Training workers: the processes that run the queue's jobs (`core.serving.queue`), and the app's supervisor.

    python -m core worker        # serve the queue named by LATENT_LAB_QUEUE_URL / LATENT_LAB_CACHE

A worker runs Huey's consumer over the queue, at lower CPU priority (`os.nice`) and with TensorFlow's
thread pools sized to leave the app server a core. One worker per queue per machine: a file lock named by
the queue lets a second one wait until the first stops, so two app servers on one machine train one job at
a time between them. An app server starts its local worker once (`supervise`) and starts it again if it
dies; a worker started by an app server stops when that server is gone.

Each job: claim it (queued → running), beat a heartbeat every few seconds, train through the model store
(which writes the model atomically, so a worker killed mid-training leaves no partial files), publish
progress after each step, stop after the current step when cancelled, keep the user cache under its size
cap, and write the outcome.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from hashlib import sha256
from pathlib import Path

import numpy as np

from core.errors import LatentLabError
from core.serving.queue import HEARTBEAT_S, QueueConfig, TrainingQueue, worker_id

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
WATCH_COUNT = 8  # test digits whose reconstructions are shown after each epoch
VALIDATION_COUNT = 2000  # held-out test images for the validation curves: cheap, and smooth enough
CANCEL_POLL_S = 0.3  # how often the training loop reads the cancel flag (it asks after every step)

_queue: TrainingQueue | None = None  # the queue this worker process serves (set by run_worker)


# --- one job ---------------------------------------------------------------------------------------


def _watch_and_validation() -> tuple[np.ndarray, np.ndarray]:
    """The first WATCH_COUNT test digits (one of each class) and a validation set, float32 (N, 28, 28, 1)."""
    from core.lab.data import first_of_each_digit, load_mnist, to_float

    mnist = load_mnist()
    firsts = first_of_each_digit(mnist.y_test)[:WATCH_COUNT]
    return to_float(mnist.x_test[firsts]), to_float(mnist.x_test[-VALIDATION_COUNT:])


def _uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8, 4× smaller in the shared store; pages divide by 255."""
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def run_job(job_id: str, queue: TrainingQueue | None = None) -> None:
    """Train one queued job (the body of the Huey task); every outcome is written to the board."""
    from core.serving.store import ModelStore

    queue, me = queue or _queue or TrainingQueue(), worker_id()
    spec = queue.claim(job_id, me)
    if spec is None:
        log.info("job %s was cancelled before it started", job_id)
        return
    beating = threading.Event()

    def beat() -> None:
        while not beating.wait(HEARTBEAT_S):
            queue.heartbeat(job_id)

    threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True).start()
    state, error, note = "failed", None, None
    try:
        watch, validation = _watch_and_validation()
        shown = {"progress": None, "epochs": [], "samples": None, "watch": _uint8(watch)}
        queue.publish(job_id, shown)

        def on_progress(p) -> None:  # p: core.lab.training.Progress
            shown["progress"] = {"epoch": p.epoch, "epochs": p.epochs, "step": p.step, "steps": p.steps, "elapsed": p.elapsed,
                                 "logs": p.logs, "epoch_end": p.epoch_end, "fraction": p.fraction, "remaining": p.remaining}
            if p.epoch_end:
                shown["epochs"] = [*shown["epochs"], {"epoch": p.epoch, **p.logs}]
                if p.samples is not None:
                    shown["samples"] = _uint8(p.samples)
            queue.publish(job_id, shown)

        asked = {"at": 0.0, "stop": False}

        def should_stop() -> bool:  # polled after every step; the store is read a few times a second
            if time.monotonic() - asked["at"] > CANCEL_POLL_S:
                asked.update(at=time.monotonic(), stop=queue.cancel_requested(job_id))
            return asked["stop"]

        store = ModelStore(cache_dir=queue.config.cache_dir, evaluate_after_training=True)
        log.info("training %s (key %s), job %s", spec.label, spec.key, job_id)
        model = store.get(spec, on_progress=on_progress, should_stop=should_stop, validation=validation, watch=watch)
        if model is None:
            state = "cancelled"
        else:
            state = "done"
            evicted = evict_lru(queue.config.cache_dir, int(queue.config.cache_max_mb * 2**20), keep={spec.key})
            if evicted:
                note = (f"to keep trained models under {queue.config.cache_max_mb:g} MB (LATENT_LAB_CACHE_MAX_MB), "
                        f"the least recently used were removed: {', '.join(evicted)}")
    except LatentLabError as e:
        error = str(e)
    except Exception as e:  # noqa: BLE001 - a job must end with a reason, whatever happened
        log.exception("job %s failed", job_id)
        error = f"training failed: {type(e).__name__}: {e}"
    finally:
        beating.set()
    log.info("job %s %s%s", job_id, state, f": {error}" if error else "")
    queue.finish(job_id, me, state, error, note)


# --- the user cache's size cap ---------------------------------------------------------------------


def evict_lru(cache_dir: Path, cap_bytes: int, keep: set[str] = frozenset()) -> list[str]:
    """Delete the least recently used user-trained models in `cache_dir` until its models fit in `cap_bytes`;
    returns their labels. Never deletes shipped models' keys or `keep`. Last use: the weights' access time
    (set on every load, `core.serving.store.mark_used`) or the record's write, whichever is later."""
    import filelock

    from core.lab.spec import ModelSpec
    from core.lab.zoo import all_shipped

    protected = {s.key for s in all_shipped().values()} | set(keep)
    entries, total = [], 0
    for meta in Path(cache_dir).glob("*.json"):
        key = meta.stem
        files = [p for p in Path(cache_dir).glob(f"{key}.*") if p.suffix != ".lock"]  # .keras, .json, packs
        try:
            size = sum(p.stat().st_size for p in files)
            weights = meta.with_suffix(".keras")
            used = max(meta.stat().st_mtime, weights.stat().st_atime if weights.exists() else 0.0)
        except OSError:  # deleted meanwhile
            continue
        total += size
        if key not in protected:
            entries.append((used, key, files, size))
    evicted = []
    for _, key, files, size in sorted(entries):
        if total <= cap_bytes:
            break
        try:  # not while another process trains or writes this key
            with filelock.FileLock(str(Path(cache_dir) / f"{key}.lock"), timeout=0):
                try:
                    label = ModelSpec.from_dict(json.loads((Path(cache_dir) / f"{key}.json").read_text())["spec"]).label
                except (OSError, ValueError, KeyError, TypeError):
                    label = key
                for p in sorted(files, key=lambda p: p.suffix != ".json"):  # the record first: readers see "absent"
                    p.unlink(missing_ok=True)
        except filelock.Timeout:
            continue
        total -= size
        evicted.append(f"{label} ({key[:6]})")
        log.info("evicted %s (%d bytes) to keep the cache under %d bytes", key, size, cap_bytes)
    return evicted


# --- the worker process ----------------------------------------------------------------------------


def _lock_path(config: QueueConfig) -> Path:
    """One worker per queue per machine: a lock file in this machine's temp directory, named by the queue."""
    return Path(tempfile.gettempdir()) / f"latent-lab-worker-{sha256(config.identity.encode()).hexdigest()[:16]}.lock"


def _stop_when_orphaned(parent_pid: int) -> None:
    """A worker started by an app server stops when that server is gone (its parent changes)."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        log.info("the app server (pid %d) is gone; stopping", parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _leave_the_server_a_core(config: QueueConfig) -> None:
    """Lower this process's CPU priority, and size TensorFlow's thread pools (before any op runs)."""
    if config.nice > 0:
        os.nice(config.nice)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(config.threads)
    tf.config.threading.set_inter_op_parallelism_threads(config.threads)


def run_worker(config: QueueConfig | None = None, parent_pid: int | None = None) -> None:
    """Serve the queue until SIGTERM / SIGINT (or the parent app server is gone); never returns.

    Jobs this worker is running when it stops are failed with a reason. Exits with os._exit: Huey's worker
    threads may be inside TensorFlow, and their job has already been written off."""
    import filelock

    global _queue
    logging.basicConfig(level=logging.INFO, format="%(asctime)s training-worker[%(process)d] %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)
    config = config or QueueConfig.from_env()
    if parent_pid:
        _stop_when_orphaned(parent_pid)
    _leave_the_server_a_core(config)
    lock = filelock.FileLock(str(_lock_path(config)))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("another worker serves %s on this machine; waiting for it to stop", config.identity)
        lock.acquire()
    _queue = TrainingQueue(config)
    consumer = _queue.huey.create_consumer(workers=config.workers, worker_type="thread", periodic=False,
                                           initial_delay=0.1, backoff=1.15, max_delay=0.5, health_check_interval=5)
    log.info("serving %s: %d at a time, nice %d, %d TensorFlow threads", config.identity, config.workers, config.nice, config.threads)
    try:
        consumer.run()
    finally:
        _queue.fail_running(worker_id(), "the training worker was stopped; nothing was saved")
        logging.shutdown()
        os._exit(0)


# --- the app server's supervisor -------------------------------------------------------------------


class Supervisor:
    """Starts `python -m core worker` for this app server, and again whenever it exits."""

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="training-worker-supervisor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        threads = str(self.config.threads)
        env = {**os.environ, **self.config.to_env(), "OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads,
               "TF_NUM_INTEROP_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        while not self._stopped.is_set():
            started = time.monotonic()
            self.process = subprocess.Popen([sys.executable, "-m", "core", "worker", "--parent-pid", str(os.getpid())],
                                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
            self.starts += 1
            code = self.process.wait()
            if self._stopped.is_set():
                return
            log.warning("the training worker (pid %d) exited with status %s; starting another", self.process.pid, code)
            self._stopped.wait(1.0 if time.monotonic() - started > 30 else 5.0)  # do not spin on a worker that cannot start

    def stop(self) -> None:
        self._stopped.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


_supervisors: dict[str, Supervisor] = {}
_supervisors_lock = threading.Lock()


def supervise(config: QueueConfig) -> Supervisor:
    """This process's supervisor of a local worker for `config`'s queue (started on the first call)."""
    with _supervisors_lock:
        if config.identity not in _supervisors:
            _supervisors[config.identity] = Supervisor(config)
        return _supervisors[config.identity]
