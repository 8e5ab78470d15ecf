"""The training queue: the Training lab's jobs run in worker processes, never in the app server.

A job is one `ModelSpec` to train. The queue is Huey (see the README for why Huey): embedded by
default — `SqliteHuey`, one file in the model cache directory, served by a worker process the app
starts and supervises (`core.serving.worker`) — or shared, with ``LATENT_LAB_QUEUE_URL=redis://host:6379/0``:
`RedisHuey`, workers on other machines (``python -m core worker``), the model cache (``LATENT_LAB_CACHE``)
on shared storage. The code is the same for both: the queue and Huey's key-value store hold everything.

Keys in Huey's key-value store (values pickled by Huey):
    ll:board           the job table {"seq", "jobs": {id: record}, "rates"}; changed only under ll:lock
    ll:lock            a short lock (milliseconds per change) that expires, so a killed holder cannot wedge it
    ll:progress:<id>   written by the worker: the latest step, one row of losses per epoch, reconstructions
    ll:beat:<id>       the worker's heartbeat for a running job (time.time(), every HEARTBEAT_S)
    ll:cancel:<id>     set by an app server: the worker stops after the current step
A job goes queued → running → done | cancelled | failed. A running job whose heartbeat is older than
`stale_s` is failed ("the training worker stopped"), so a killed worker never leaves a job running forever
(and never a half-written model: the store writes atomically).

Limits that protect a class, each a `LatentLabError` naming the value and its setting: one queued-or-running
job per browser session, a job's cost (epochs × training images), the number of queued jobs. The size cap of
the user model cache is kept by the worker after each training (`core.serving.worker.evict_lru`).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from core.errors import LatentLabError
from core.lab.spec import ModelSpec
from core.serving.store import default_cache_dir

HUEY_NAME = "latent-lab"
TASK_NAME = "latent_lab.train"
QUEUE_FILE = "training-queue.sqlite"  # in the cache directory (embedded mode)
ACTIVE = ("queued", "running")
HEARTBEAT_S = 2.0
LOCK_TTL_S = 10.0  # a change holds the lock for milliseconds; a lock older than this was left by a dead process
KEEP_FINISHED_S = 3600.0  # finished jobs stay listed (and their progress readable) for an hour
MNIST_TRAIN_IMAGES = 60_000
# Seconds per image-pass (one image through one epoch), per kind: a first guess for the wait shown before
# the queue has timed a job of that kind on this machine; it learns the machine's own rate after each job.
DEFAULT_RATES = {"lesson": 5e-5, "conv_ae": 6e-4, "ae_2d": 6e-4, "denoise": 6e-4, "vae": 2.2e-4}
OVERHEAD_S = 8.0  # per job: data, model build, first-step compilation, evaluation, save


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off")


# QueueConfig field → (environment variable, parser)
SETTINGS = {"url": ("LATENT_LAB_QUEUE_URL", str), "workers": ("LATENT_LAB_WORKERS", int),
            "max_job_cost": ("LATENT_LAB_MAX_JOB_COST", int), "max_queued": ("LATENT_LAB_MAX_QUEUE", int),
            "cache_max_mb": ("LATENT_LAB_CACHE_MAX_MB", float), "stale_s": ("LATENT_LAB_WORKER_STALE_S", float),
            "local_worker": ("LATENT_LAB_LOCAL_WORKER", _flag), "nice": ("LATENT_LAB_WORKER_NICE", int),
            "threads": ("LATENT_LAB_WORKER_THREADS", int)}


def _env(name: str, cast, default):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return cast(value)
    except ValueError as e:
        raise LatentLabError(f"{name}={value!r} is not a valid {cast.__name__.strip('_')}") from e


@dataclass(frozen=True)
class QueueConfig:
    """Where the queue lives and the limits it enforces; `from_env` reads the LATENT_LAB_* settings."""

    cache_dir: Path  # the model cache (LATENT_LAB_CACHE); holds the SQLite queue in embedded mode
    url: str | None = None  # LATENT_LAB_QUEUE_URL, redis://host:port/db; None = embedded SQLite
    workers: int = 1  # LATENT_LAB_WORKERS: trainings at once per worker process
    max_job_cost: int = 600_000  # LATENT_LAB_MAX_JOB_COST: epochs × training images (the lesson's own run)
    max_queued: int = 10  # LATENT_LAB_MAX_QUEUE: jobs waiting, not counting running ones
    cache_max_mb: float = 500.0  # LATENT_LAB_CACHE_MAX_MB: user-trained models kept in the cache
    stale_s: float = 20.0  # LATENT_LAB_WORKER_STALE_S: a running job with an older heartbeat has failed
    local_worker: bool = True  # LATENT_LAB_LOCAL_WORKER: the app starts and supervises a worker here
    nice: int = 10  # LATENT_LAB_WORKER_NICE: the worker's CPU priority, below the app server's
    threads: int = max(1, (os.cpu_count() or 2) - 1)  # LATENT_LAB_WORKER_THREADS: TensorFlow's thread pools

    @classmethod
    def from_env(cls, **overrides) -> QueueConfig:
        defaults = {f.name: f.default for f in fields(cls) if f.name in SETTINGS}
        values = {name: _env(var, cast, defaults[name]) for name, (var, cast) in SETTINGS.items()}
        return cls(**{"cache_dir": default_cache_dir(), **values, **overrides})

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` in another process (a worker) return this config."""
        out = {"LATENT_LAB_CACHE": str(self.cache_dir)}
        for name, (var, _) in SETTINGS.items():
            value = getattr(self, name)
            if value is not None:
                out[var] = str(int(value)) if isinstance(value, bool) else str(value)
        return out

    @property
    def identity(self) -> str:
        """Names this queue: workers on one machine serving the same queue share a lock named by it."""
        return self.url or str((Path(self.cache_dir) / QUEUE_FILE).resolve())


def open_huey(config: QueueConfig):
    """(Huey instance, training task) for `config`: the same in app servers and workers."""
    if config.url:
        from huey import RedisHuey

        if not config.url.startswith(("redis://", "rediss://", "unix://")):
            raise LatentLabError(f"LATENT_LAB_QUEUE_URL={config.url!r} is not a Redis URL (redis://host:port/db)")
        huey = RedisHuey(HUEY_NAME, url=config.url, results=False)
    else:
        from huey import SqliteHuey

        Path(config.cache_dir).mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(HUEY_NAME, filename=str(Path(config.cache_dir) / QUEUE_FILE), results=False, strict_fifo=True)
    return huey, huey.task(name=TASK_NAME)(_train_task)


def _train_task(job_id: str) -> None:
    """The Huey task: runs in a worker process, on the queue that `core.serving.worker` serves."""
    from core.serving import worker

    worker.run_job(job_id)


def job_cost(spec: ModelSpec) -> int:
    """Image-passes the job trains: epochs × training images (after the digit filter and train_size)."""
    if spec.digits:
        from core.lab.data import load_mnist

        available = int(np.isin(load_mnist().y_train, spec.digits).sum())
    else:
        available = MNIST_TRAIN_IMAGES
    return spec.epochs * (min(spec.train_size, available) if spec.train_size else available)


@dataclass(frozen=True)
class JobView:
    """What a page shows of one job, read from the shared store."""

    id: str
    spec: ModelSpec
    state: str  # queued, running, done, cancelled or failed
    position: int | None = None  # 1-based place among the queued jobs (queued jobs only)
    queued: int = 0  # jobs waiting in all
    wait_s: float | None = None  # estimated seconds until it starts (queued jobs only)
    progress: dict | None = None  # the latest `core.lab.training.Progress` as numbers: epoch, step, fraction, remaining…
    epochs: list[dict] = field(default_factory=list)  # one row of losses per finished epoch
    samples: np.ndarray | None = field(default=None, repr=False)  # latest reconstructions of `watch`, (K, 28, 28, 1)
    watch: np.ndarray | None = field(default=None, repr=False)  # the watched test digits, (K, 28, 28, 1) float32
    error: str | None = None
    note: str | None = None  # e.g. "already trained", or the models evicted to keep the cache under its cap
    elapsed: float = 0.0  # seconds since it started running (or 0 while queued)
    cancelling: bool = False

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def _estimate_s(record: dict, rates: dict) -> float:
    spec = ModelSpec.from_dict(record["spec"])
    return OVERHEAD_S + record["cost"] * rates.get(spec.kind, DEFAULT_RATES[spec.kind])


class TrainingQueue:
    """The queue as an app server (a client) or a worker sees it. Safe to share between threads."""

    def __init__(self, config: QueueConfig | None = None) -> None:
        self.config = config or QueueConfig.from_env()
        self.huey, self._enqueue = open_huey(self.config)

    # --- the board: one record per job, changed under a short lock ---

    def _board(self) -> dict:
        return self.huey.get("ll:board", peek=True) or {"seq": 0, "jobs": {}, "rates": {}}

    @contextlib.contextmanager
    def _locked(self):
        """Read the board under ll:lock and write it back on the way out. The lock's value carries its
        expiry: a process killed inside its few milliseconds of holding it delays others by LOCK_TTL_S."""
        token, deadline = uuid.uuid4().hex, time.monotonic() + 3 * LOCK_TTL_S
        while not self.huey.put_if_empty("ll:lock", (token, time.time() + LOCK_TTL_S)):
            held = self.huey.get("ll:lock", peek=True)
            if held is not None and held[1] < time.time():
                taken = self.huey.get("ll:lock")  # pop the expired lock; if another process replaced it, give it back
                if taken is not None and taken[0] != held[0]:
                    self.huey.put_if_empty("ll:lock", taken)
                continue
            if time.monotonic() > deadline:
                raise LatentLabError("the training queue is busy right now; try again in a moment")
            time.sleep(0.005)
        try:
            board = self._board()
            yield board
            self.huey.put("ll:board", board)
        finally:
            taken = self.huey.get("ll:lock")
            if taken is not None and taken[0] != token:  # ours expired and someone else holds it now
                self.huey.put_if_empty("ll:lock", taken)

    def _reap(self, board: dict, now: float) -> bool:
        """Fail running jobs whose worker stopped beating; True if any changed."""
        changed = False
        for rec in board["jobs"].values():
            if rec["state"] == "running":
                beat = max(self.huey.get(f"ll:beat:{rec['id']}", peek=True) or 0.0, rec["started"])
                if now - beat > self.config.stale_s:
                    rec.update(state="failed", finished=now,
                               error=f"the training worker stopped (no heartbeat for {now - beat:.0f} s); nothing was saved")
                    changed = True
        return changed

    def _prune(self, board: dict, now: float) -> None:
        for job_id, rec in list(board["jobs"].items()):
            if rec["state"] not in ACTIVE and now - rec["finished"] > KEEP_FINISHED_S:
                del board["jobs"][job_id]
                self.huey.delete(f"ll:progress:{job_id}")

    def _fresh_board(self) -> dict:
        """The board with stale running jobs failed (written back only if one was)."""
        board, now = self._board(), time.time()
        if any(r["state"] == "running" for r in board["jobs"].values()) and self._reap(board, now):
            with self._locked() as board:
                self._reap(board, now)
        return board

    # --- what an app server does ---

    def submit(self, spec: ModelSpec, session: str) -> str:
        """Queue `spec` for `session` (one browser session); returns the job id. The same spec queued or
        running already is the same job (this session joins it); a spec already trained is done at once."""
        cost = job_cost(spec)
        if cost > self.config.max_job_cost:
            raise LatentLabError(
                f"this run would train {cost:,} image-passes ({spec.epochs} epochs × {cost // spec.epochs:,} training "
                f"images), over this server's limit of {self.config.max_job_cost:,} (LATENT_LAB_MAX_JOB_COST); "
                "choose fewer epochs or fewer training images")
        from core.serving.store import ModelStore

        trained = ModelStore(cache_dir=self.config.cache_dir, allow_training=False).available(spec)
        now = time.time()
        with self._locked() as board:
            self._reap(board, now)
            self._prune(board, now)
            jobs = board["jobs"]
            same = next((r for r in jobs.values() if r["key"] == spec.key and r["state"] in ACTIVE), None)
            mine = next((r for r in jobs.values() if session in r["sessions"] and r["state"] in ACTIVE), None)
            if mine is not None and mine is not same:
                raise LatentLabError(
                    f"you already have a training job {mine['state']} ({ModelSpec.from_dict(mine['spec']).label}): "
                    "one queued-or-running job per browser session; wait for it to finish or cancel it first")
            if same is not None:
                if session not in same["sessions"]:
                    same["sessions"].append(session)
                return same["id"]
            board["seq"] += 1
            rec = {"id": f"{spec.key}-{board['seq']}", "key": spec.key, "spec": spec.to_dict(), "seq": board["seq"],
                   "cost": cost, "sessions": [session], "state": "queued", "submitted": now, "started": None,
                   "finished": None, "error": None, "note": None, "worker": None, "cancelling": False}
            if trained:
                rec.update(state="done", started=now, finished=now, note="already trained: nothing to queue")
            else:
                waiting = sum(r["state"] == "queued" for r in jobs.values())
                if waiting >= self.config.max_queued:
                    raise LatentLabError(
                        f"the training queue is full ({waiting} jobs waiting; this server's limit is "
                        f"{self.config.max_queued}, LATENT_LAB_MAX_QUEUE); try again when one has finished")
                self._enqueue(rec["id"])  # under the lock: a record is queued iff its task is
            jobs[rec["id"]] = rec
            return rec["id"]

    def cancel(self, job_id: str, session: str) -> bool:
        """`session` stops watching the job; the job is cancelled when nobody else watches it (a queued
        one at once, a running one after its current training step). False if it goes on for others."""
        with self._locked() as board:
            rec = board["jobs"].get(job_id)
            if rec is None or rec["state"] not in ACTIVE:
                return True
            if session in rec["sessions"]:
                rec["sessions"].remove(session)
            if rec["sessions"]:
                return False
            if rec["state"] == "queued":
                rec.update(state="cancelled", finished=time.time())  # the worker skips it when it comes up
            else:
                rec["cancelling"] = True
                self.huey.put(f"ll:cancel:{job_id}", True)
            return True

    def job(self, job_id: str) -> JobView | None:
        """The job as a page shows it, or None if this queue no longer knows it."""
        board = self._fresh_board()
        rec = board["jobs"].get(job_id)
        if rec is None:
            return None
        now, spec = time.time(), ModelSpec.from_dict(rec["spec"])
        queued = sorted((r for r in board["jobs"].values() if r["state"] == "queued"), key=lambda r: r["seq"])
        position = wait = None
        if rec["state"] == "queued":
            position = 1 + [r["id"] for r in queued].index(job_id)
            wait = self._wait_s(board, queued[: position - 1], now)
        shown = self.huey.get(f"ll:progress:{job_id}", peek=True) or {}
        as_float = lambda a: None if a is None else a.astype(np.float32) / 255.0  # noqa: E731 - stored as uint8
        end = rec["finished"] or now
        return JobView(job_id, spec, rec["state"], position, len(queued), wait, shown.get("progress"), shown.get("epochs", []),
                       as_float(shown.get("samples")), as_float(shown.get("watch")), rec["error"], rec["note"],
                       end - rec["started"] if rec["started"] else 0.0, rec["cancelling"])

    def jobs(self) -> list[JobView]:
        """Every job the queue lists (active ones first, in queue order), for an overview."""
        board = self._fresh_board()
        order = sorted(board["jobs"].values(), key=lambda r: (r["state"] not in ACTIVE, r["state"] != "running", r["seq"]))
        return [self.job(r["id"]) for r in order]

    def _wait_s(self, board: dict, ahead: list[dict], now: float) -> float:
        """Seconds until a job with `ahead` queued before it starts: each of the `workers` slots frees when its
        running job ends (its own estimate of time left), then takes the next job ahead (estimated by cost)."""
        rates = board["rates"]
        slots = []
        for rec in board["jobs"].values():
            if rec["state"] == "running":
                p = (self.huey.get(f"ll:progress:{rec['id']}", peek=True) or {}).get("progress")
                known = p is not None and not math.isnan(p["remaining"])  # NaN until the first step has run
                left = p["remaining"] if known else _estimate_s(rec, rates) - (now - rec["started"])
                slots.append(max(left, 0.0))
        slots = sorted(slots + [0.0] * max(0, self.config.workers - len(slots)))[: max(self.config.workers, 1)]
        for rec in ahead:
            slots[0] += _estimate_s(rec, rates)
            slots.sort()
        return slots[0]

    # --- what a worker does (core.serving.worker) ---

    def claim(self, job_id: str, worker_id: str) -> ModelSpec | None:
        """queued → running for `worker_id`; None if the job was cancelled (or is unknown) meanwhile."""
        with self._locked() as board:
            rec = board["jobs"].get(job_id)
            if rec is None or rec["state"] != "queued":
                return None
            rec.update(state="running", started=time.time(), worker=worker_id)
            self.huey.put(f"ll:beat:{job_id}", time.time())
            return ModelSpec.from_dict(rec["spec"])

    def heartbeat(self, job_id: str) -> None:
        self.huey.put(f"ll:beat:{job_id}", time.time())

    def cancel_requested(self, job_id: str) -> bool:
        return self.huey.get(f"ll:cancel:{job_id}", peek=True) is not None

    def publish(self, job_id: str, shown: dict) -> None:
        """The worker's latest progress for pages: {"progress", "epochs", "samples", "watch"} (images as uint8)."""
        self.huey.put(f"ll:progress:{job_id}", shown)

    def finish(self, job_id: str, worker_id: str, state: str, error: str | None = None, note: str | None = None) -> None:
        """The worker's last word on its job; also learns this machine's seconds per image-pass."""
        now = time.time()
        with self._locked() as board:
            rec = board["jobs"].get(job_id)
            if rec is not None and rec["worker"] == worker_id:
                rec.update(state=state, finished=now, error=error, note=note, cancelling=False)
                if state == "done":
                    kind = rec["spec"]["kind"]
                    seen = max(now - rec["started"] - OVERHEAD_S, 0.0) / rec["cost"]
                    board["rates"][kind] = 0.5 * seen + 0.5 * board["rates"].get(kind, DEFAULT_RATES[kind])
        for key in (f"ll:beat:{job_id}", f"ll:cancel:{job_id}"):
            self.huey.delete(key)

    def fail_running(self, worker_id: str, reason: str) -> None:
        """Fail every job `worker_id` is running (it is about to stop)."""
        with self._locked() as board:
            for rec in board["jobs"].values():
                if rec["state"] == "running" and rec["worker"] == worker_id:
                    rec.update(state="failed", finished=time.time(), error=reason)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_app_queue: TrainingQueue | None = None
_app_queue_lock = threading.Lock()


def app_queue() -> TrainingQueue:
    """This app server's queue (from the LATENT_LAB_* settings), created on first use; starts and supervises
    the local worker process unless LATENT_LAB_LOCAL_WORKER=0 (workers elsewhere serve the queue)."""
    global _app_queue
    with _app_queue_lock:
        if _app_queue is None:
            queue = TrainingQueue()
            if queue.config.local_worker:
                from core.serving.worker import supervise

                supervise(queue.config)
            _app_queue = queue
        return _app_queue
