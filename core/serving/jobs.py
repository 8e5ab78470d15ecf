"""Background training jobs for the Training lab: one thread per spec, shared by every session.

A `Job` runs `ModelStore.get(spec)` on a daemon thread, so the page that started it stays responsive
and other users are not blocked. Two users who start the same spec get the same job (and the store's
locks make a second server process wait for, then load, the first one's result). Progress is kept on
the job — the latest step, one row of losses per epoch, and the watched images' reconstructions — for
any page to poll. Cancelling sets a flag that the training loop checks after every step; a cancelled
model is never written.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from core.errors import LatentLabError
from core.lab.spec import ModelSpec
from core.lab.training import Progress

STATES = ("running", "done", "cancelled", "failed")
WATCH_COUNT = 8  # test digits whose reconstructions are shown after each epoch
VALIDATION_COUNT = 2000  # held-out test images for the validation curves: cheap, and smooth enough


@dataclass
class Job:
    spec: ModelSpec
    state: str = "running"
    progress: Progress | None = None
    epochs: list[dict] = field(default_factory=list)  # one row of logs per finished epoch
    samples: np.ndarray | None = None  # latest reconstructions of `watch`, (K, 28, 28, 1)
    watch: np.ndarray | None = None  # the watched test digits, (K, 28, 28, 1)
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def active(self) -> bool:
        return self.state == "running"

    def snapshot(self) -> dict:
        """A consistent copy of the fields a page renders (the training thread keeps writing)."""
        with self._lock:
            return {"state": self.state, "progress": self.progress, "epochs": list(self.epochs),
                    "samples": self.samples, "watch": self.watch, "error": self.error,
                    "elapsed": (self.finished or time.time()) - self.started}

    def _on_progress(self, p: Progress) -> None:
        with self._lock:
            self.progress = p
            if p.epoch_end:
                self.epochs.append({"epoch": p.epoch, **p.logs})
                if p.samples is not None:
                    self.samples = p.samples


class JobBoard:
    """All training jobs of one server process, keyed by spec."""

    def __init__(self, store):
        self.store = store
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, spec: ModelSpec) -> Job:
        """Start training `spec`, or return the job already running (or finished) for it.

        A cancelled or failed job is replaced by a fresh one.
        """
        with self._lock:
            job = self._jobs.get(spec.key)
            if job is not None and job.state in ("running", "done"):
                return job
            if self.store.available(spec):
                job = Job(spec, state="done", finished=time.time())
                self._jobs[spec.key] = job
                return job
            job = Job(spec)
            self._jobs[spec.key] = job
        job.watch, validation = _watch_and_validation()
        threading.Thread(target=self._run, args=(job, validation), name=f"train-{spec.key}", daemon=True).start()
        return job

    def get(self, spec: ModelSpec) -> Job | None:
        return self._jobs.get(spec.key)

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def _run(self, job: Job, validation: np.ndarray) -> None:
        try:
            model = self.store.get(job.spec, on_progress=job._on_progress, should_stop=job._cancel.is_set,
                                   validation=validation, watch=job.watch)
            state = "cancelled" if model is None else "done"
            error = None
        except LatentLabError as e:
            state, error = "failed", str(e)
        except Exception as e:  # noqa: BLE001 - a training thread must never die silently
            state, error = "failed", f"training failed: {type(e).__name__}: {e}"
        with job._lock:
            job.state, job.error, job.finished = state, error, time.time()


def _watch_and_validation() -> tuple[np.ndarray, np.ndarray]:
    """The first WATCH_COUNT test digits (one of each class where possible) and a validation set."""
    from core.lab.data import load_mnist, to_float

    mnist = load_mnist()
    firsts = [int(np.flatnonzero(mnist.y_test == d)[0]) for d in range(WATCH_COUNT)]
    return to_float(mnist.x_test[firsts]), to_float(mnist.x_test[-VALIDATION_COUNT:])
