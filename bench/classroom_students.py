"""The class of bench/bench_classroom_protocol.py: each student a Streamlit session on the Draw page
(bench/streamlit_protocol.py) drawing strokes of its own, and the teachers who warm the servers first.

- Drawings: the pad's state value built as views/canvas/canvas.js builds it on pointer-up,
  `{"drawing": {w, h, ink, strokes, seq}}` (ink = base64 of the grey levels of the ink's bounding box
  plus an 8 px margin on the 280×280 bitmap; `seq` counts every send from the clock, as the pad's does),
  from smooth strokes (bench_draw_latency.strokes, different for every student), three to a drawing,
  the pad cleared before every fourth.
- A student opens the page, then sends a stroke every `interval` ± 0.5 s (start to start; the class's
  first strokes spread over one interval) and times each from its BackMsg to the ForwardMsg that says
  the pad's fragment run finished; a stroke counts only if that run delivered the reconstructions strip.
- After the class, every strip's "what the model sees" image is checked against `from_canvas_ink` of
  the drawing that was sent.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_classroom import TICKS, _cpu_seconds, _tree  # noqa: E402
from bench_draw_latency import strokes  # noqa: E402

from bench.streamlit_protocol import ProtocolError, Run, Session  # noqa: E402

ANSWER_TIMEOUT_S = 30.0  # a stroke with no answer by then is an error
DRAIN_TIMEOUT_S = 90.0  # after that, how long to wait for the late run before giving the student up
STROKES_PER_DRAWING = 3  # then the pad is cleared, as in bench_classroom.py
BASELINE_STROKES = 8  # each teacher's uncontended strokes after the warm-up one
PROMPT = "Draw a digit on the canvas"  # the info box an empty pad shows

# The pad, as views/canvas/__init__.py configures canvas.js.
CANVAS_PX, STROKE_PX, MARGIN_PX = 280, 20, 8


# ---------------------------------------------------------------------------------------------------
# Drawings: the pad's state value, built as canvas.js builds it
# ---------------------------------------------------------------------------------------------------

_YX = (np.mgrid[0:CANVAS_PX, 0:CANVAS_PX] + 0.5).astype(np.float32)  # (2, 280, 280) pixel centres


def _coverage(points: np.ndarray) -> np.ndarray:
    """A polyline (N, 2) of (x, y) bitmap pixels → how much of each pixel (280, 280) a round-capped,
    round-joined pen STROKE_PX wide covers, in [0, 1]: 1 within the pen's radius of the path, fading
    linearly over the one pixel at its edge (the canvas's antialiasing, closely enough)."""
    radius = STROKE_PX / 2
    out = np.zeros((CANVAS_PX, CANVAS_PX), np.float32)
    lo = np.clip(np.floor(points.min(axis=0) - radius - 1), 0, CANVAS_PX).astype(int)  # (x, y)
    hi = np.clip(np.ceil(points.max(axis=0) + radius + 2), 0, CANVAS_PX).astype(int)
    if (hi <= lo).any():
        return out
    y, x = _YX[0, lo[1]:hi[1], lo[0]:hi[0]], _YX[1, lo[1]:hi[1], lo[0]:hi[0]]  # (h, w) each
    dist = np.full(y.shape, np.inf, np.float32)
    segments = zip(points[:-1], points[1:], strict=True) if len(points) > 1 else [(points[0], points[0])]
    for (ax, ay), (bx, by) in segments:
        dx, dy = bx - ax, by - ay
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
        dist = np.minimum(dist, np.hypot(x - ax - t * dx, y - ay - t * dy))
    out[lo[1]:hi[1], lo[0]:hi[0]] = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    return out


def pad_value(coverages: list[np.ndarray], seq: int, browser: bool = False) -> dict | None:
    """The pad's `drawing` after these strokes (each a (280, 280) coverage), as canvas.js's publish()
    sends it: None when empty, else {w, h, ink, strokes, seq} with ink = base64 of the (h, w) uint8
    grey levels of the ink's bounding box plus MARGIN_PX, row-major. (The pad also sends `points`, its strokes'
    coordinates, which the Draw page only keeps to repaint them when the student comes back: left out here.)
    `browser`: the pad runs the models itself (its in-browser runtime is ready), so the server runs none."""
    if not coverages:
        return None
    paint = np.zeros((CANVAS_PX, CANVAS_PX), np.float32)
    for c in coverages:  # white painted over the picture: source-over compositing
        paint = paint + c * (1.0 - paint)
    levels = np.rint(paint * 255).astype(np.uint8)  # (280, 280), the bitmap's red channel
    rows, cols = np.flatnonzero(levels.any(axis=1)), np.flatnonzero(levels.any(axis=0))
    if not len(rows):
        return None
    y0, y1 = max(0, rows[0] - MARGIN_PX), min(CANVAS_PX, rows[-1] + 1 + MARGIN_PX)
    x0, x1 = max(0, cols[0] - MARGIN_PX), min(CANVAS_PX, cols[-1] + 1 + MARGIN_PX)
    crop = np.ascontiguousarray(levels[y0:y1, x0:x1])
    return {"w": int(x1 - x0), "h": int(y1 - y0), "ink": base64.b64encode(crop.tobytes()).decode("ascii"),
            "strokes": len(coverages), "seq": seq, "browser": browser}


@dataclass
class Step:
    """One stroke of a student's: the pad's `drawing` after it, and whether the pad is cleared first
    (a new drawing; Clear is its own send, and its own run)."""

    drawing: dict
    clear_first: bool


def lesson(n_strokes: int, seed: int, seq0: int = 0, browser: bool = False) -> list[Step]:
    """A student's `n_strokes` strokes of their own, STROKES_PER_DRAWING to a drawing, the pad cleared
    before each new drawing; `seq` counts every send from `seq0`, as the pad does (from Date.now())."""
    steps, current, seq = [], [], seq0
    for i, stroke in enumerate(strokes(n_strokes, seed)):
        clear = bool(i) and i % STROKES_PER_DRAWING == 0
        if clear:
            current, seq = [], seq + 1  # Clear sends null, and counts
        current.append(_coverage(np.array(stroke, np.float32) * CANVAS_PX))  # fractions of the pad → bitmap px
        seq += 1
        steps.append(Step(pad_value(current, seq, browser), clear))
    return steps

# ---------------------------------------------------------------------------------------------------
# Students
# ---------------------------------------------------------------------------------------------------


@dataclass
class Stroke:
    """A stroke's answer: latency, and the drawing and input image to check after the class."""

    ms: float  # BackMsg sent → script_finished received
    wait_ms: float  # of which BackMsg sent → the run's new_session received (queueing, thread start)
    drawing: dict
    input_panel: dict | None  # the strip's first panel: {title, note, w, h, pixels}; None: the pad's own
    fragment_ids: tuple[str, ...]  # what the server reran: the pad's fragment, not the whole page


class Student:
    """One session on the Draw page drawing its own strokes; records latencies and errors."""

    def __init__(self, number: int, base: str, steps: list[Step], rng: np.random.Generator):
        self.number, self.steps, self.rng = number, steps, rng
        self.session = Session(base)
        self.strokes: list[Stroke] = []
        self.errors: list[str] = []
        self.open_s: float | None = None
        self.gave_up = False

    async def open(self) -> None:
        t0 = time.perf_counter()
        try:
            await self.session.connect()
            run = await self.session.open_page()
        except (ProtocolError, TimeoutError, OSError) as err:
            self.errors.append(f"page load failed: {type(err).__name__}: {err}")
            self.gave_up = True
            return
        self.errors += [f"page load: {p}" for p in run.problems(fragment=False)]
        if not any(PROMPT in body for _, body in run.alerts):
            self.errors.append("page load: the pad's prompt was not shown")
        self.open_s = time.perf_counter() - t0

    async def _answer(self, what: str) -> Run | None:
        """The run answering what was just sent, or None (an error recorded) if none came in time."""
        try:
            run = await self.session.next_run(ANSWER_TIMEOUT_S)
        except TimeoutError:
            self.errors.append(f"{what}: no answer within {ANSWER_TIMEOUT_S:.0f} s")
            try:  # keep the session in step: that answer is still owed
                await self.session.next_run(DRAIN_TIMEOUT_S)
            except TimeoutError:
                self.errors.append(f"{what}: none after {ANSWER_TIMEOUT_S + DRAIN_TIMEOUT_S:.0f} s either; gave up")
                self.gave_up = True
            return None
        self.errors += [f"{what}: {p}" for p in run.problems(fragment=True)]
        return run

    async def _stroke(self, i: int, step: Step) -> None:
        if step.clear_first:
            await self.session.send_pad(None)
            run = await self._answer(f"clear before stroke {i}")
            if run is None:
                return
            if not any(PROMPT in body for _, body in run.alerts):
                self.errors.append(f"clear before stroke {i}: the pad's prompt was not shown")
        t0 = await self.session.send_pad(step.drawing)
        run = await self._answer(f"stroke {i}")
        if run is None:
            return
        strip = run.reconstructions()
        if strip is None:
            self.errors.append(f"stroke {i}: the run finished without the reconstructions strip")
            return
        self.strokes.append(Stroke((run.finished - t0) * 1000, (run.started - t0) * 1000, step.drawing,
                                   None if strip.get("lead") else strip["panels"][0], run.fragment_ids))

    async def draw_each(self, pause: float) -> None:
        """Every prepared stroke in turn, `pause` s after each answer (the teacher, alone on the server)."""
        for i, step in enumerate(self.steps):
            if not await self._try_stroke(i, step):
                return
            await asyncio.sleep(pause)

    async def _try_stroke(self, i: int, step) -> bool:
        """One stroke; a protocol failure is counted as an error. False once this student gave up."""
        try:
            await self._stroke(i, step)
        except ProtocolError as err:
            self.errors.append(f"stroke {i}: {err}")
            self.gave_up = True
        return not self.gave_up

    def finish(self) -> None:
        """Count what went wrong with the session itself (call before closing it)."""
        self.errors += [f"session: {p}" for p in self.session.problems]
        if self.session.closed and not self.gave_up:
            self.errors.append(f"session: {self.session.closed}")

    async def draw_for(self, seconds: float, interval: float, jitter_start: bool = True) -> None:
        """Stroke after stroke, `interval` ± 0.5 s apart start to start (at once if an answer was later),
        until `seconds` have passed; at least one stroke."""
        if self.gave_up:
            return
        if jitter_start:
            await asyncio.sleep(self.rng.uniform(0, interval))  # spread the class's first strokes
        end = time.perf_counter() + seconds
        for i, step in enumerate(self.steps):
            if i and time.perf_counter() >= end:
                return
            started = time.perf_counter()
            if not await self._try_stroke(i, step):
                return
            await asyncio.sleep(max(0.0, interval + self.rng.uniform(-0.5, 0.5) - (time.perf_counter() - started)))
        if time.perf_counter() < end:
            self.errors.append(f"ran out of prepared strokes after {len(self.steps)}")


def check_inputs(students: list[Student]) -> list[str]:
    """Errors for strokes whose "what the model sees" image is not `from_canvas_ink` of the drawing sent
    (run after the class: 5 ms a stroke of the client's CPU would otherwise compete with the server)."""
    from core.lab.preprocess import from_canvas_ink
    from views.canvas import ink_from_drawing

    errors = []
    for s in students:
        for k, stroke in enumerate(s.strokes):
            if stroke.input_panel is None:
                continue  # the pad answered it in the browser: the strip's input panel is the pad's
            want = np.rint(np.clip(from_canvas_ink(ink_from_drawing(stroke.drawing)).image, 0, 1) * 255)  # (28, 28)
            panel = stroke.input_panel
            got = np.frombuffer(base64.b64decode(panel["pixels"]), np.uint8).reshape(panel["h"], panel["w"])
            if got.shape != want.shape or np.abs(got.astype(np.int16) - want).max() > 1:
                errors.append(f"student {s.number}: answered stroke {k} shows an input image that is not its drawing's")
    return errors



# ---------------------------------------------------------------------------------------------------
# Measuring the servers
# ---------------------------------------------------------------------------------------------------


def thread_cpu(root_pids: list[int]) -> tuple[float, dict[tuple[int, int], tuple[str, float]]]:
    """(CPU seconds of the process trees so far, {(pid, tid): (thread name, CPU seconds)} of their live
    threads). A process's total includes the threads that have ended; the live threads' sum does not."""
    pids = [pid for root in root_pids for pid in _tree(root)]
    total, threads = _cpu_seconds(pids), {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                threads[(pid, int(task.name))] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
            except (OSError, IndexError, ValueError):
                continue
    return total, threads


def cpu_by_thread(before: tuple, after: tuple) -> list[tuple[str, float]]:
    """CPU seconds between two `thread_cpu` snapshots: the server's main thread (its asyncio loop: the
    websockets, handing messages out), its other live threads by name (digits folded, so a pool is one
    line), and the threads that ended in between (Streamlit runs each script run in a thread of its own)."""
    (total0, t0), (total1, t1) = before, after
    by_name: dict[str, float] = defaultdict(float)
    for (pid, tid), (name, sec) in t1.items():
        label = "main thread" if pid == tid else "".join("#" if c.isdigit() else c for c in name) + " threads"
        by_name[label] += sec - t0.get((pid, tid), (name, 0.0))[1]
    ended = (total1 - total0) - sum(by_name.values())
    return sorted(by_name.items(), key=lambda kv: -kv[1]) + [("threads that ended (script runs)", ended)]


# ---------------------------------------------------------------------------------------------------
# The class
# ---------------------------------------------------------------------------------------------------


async def classroom(base: str, server_pids: list[int], n: int, seconds: float, interval: float, seed: int,
                    baseline_strokes: int = BASELINE_STROKES, replicas: list[str] | None = None,
                    proxy_pids: list[int] | None = None, browser: bool = False) -> dict:
    """The teachers first, one on each of `replicas` (default: `base`) directly: a warm-up stroke, then
    `baseline_strokes` strokes alone on it. Then `n` students open the page at `base` (the proxy, or
    the one server) at once and draw for `seconds`. `server_pids` (the app servers) and `proxy_pids`
    (nginx): processes whose CPU is measured over the drawing phase. `browser`: every pad answers its
    strokes in the browser (students' drawings say so; the teachers' warm the models on the server).
    Returns what `summarise` reads."""
    # Every drawing is made before anything is timed: a stroke every interval - 0.5 s at most, and spare.
    per_student = int(np.ceil(seconds / max(interval - 0.5, 0.1))) + 3
    seq0 = int(time.time() * 1000)  # the pad starts counting its sends at the clock
    teachers = [Student(-1 - r, url, lesson(1 + baseline_strokes, 10_000 * (seed + 1) + 1000 * r, seq0),
                        np.random.default_rng([seed, 1, r])) for r, url in enumerate(replicas or [base])]
    students = [Student(k, base, lesson(per_student, 10_000 * (seed + 1) + k + 1, seq0 + k, browser),
                        np.random.default_rng([seed, 2, k])) for k in range(n)]

    # Each teacher opens the page and draws before class, so the models load and warm up then on every
    # replica, as on servers started before the lesson: the first stroke is reported on its own, the
    # others are a server's answer time with nobody else on it.
    for teacher in teachers:
        await teacher.open()
        await teacher.draw_each(pause=0.3)
        teacher.finish()
        await teacher.session.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(s.open() for s in students))
    open_s = time.perf_counter() - t0

    proxy = [pid for root in proxy_pids or [] for pid in _tree(root)]
    cpu0, proxy0, client0, t1 = thread_cpu(server_pids), _cpu_seconds(proxy), time.process_time(), time.perf_counter()
    await asyncio.gather(*(s.draw_for(seconds, interval) for s in students))
    wall = time.perf_counter() - t1
    cpu1, proxy1, client1 = thread_cpu(server_pids), _cpu_seconds(proxy), time.process_time()
    load = os.getloadavg()
    for s in students:
        s.finish()
        await s.session.close()
    return {"teachers": teachers, "students": students, "open_s": open_s, "wall": wall, "load": load,
            "server_cpu": cpu1[0] - cpu0[0], "server_threads": cpu_by_thread(cpu0, cpu1),
            "proxy_cpu": proxy1 - proxy0, "client_cpu": client1 - client0}
