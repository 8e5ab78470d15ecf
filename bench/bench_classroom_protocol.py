"""Benchmark: a classroom on one server, measured at the server's door. `--students` (30) Streamlit
sessions open the Draw page at once, then each draws a stroke every ~2 s for `--seconds` (60).
Targets (issue 8.5): p95 latency ≤ 1 s, zero errors, server memory ≤ 3 GB.

    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py
    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py --students 10 --seconds 30

Why not browsers: bench_classroom.py drives 30 real Chromium pages, and on a 2-core machine the
browsers took 128 of the 153 core-seconds, so it measured the browsers starving the server. Here
each student is one websocket at `/_stcore/stream` speaking Streamlit's own protocol (protobuf
`BackMsg` up, `ForwardMsg` down) from one light asyncio process, so nearly all the CPU is the
server's and the figures say what the server can do.

Each student does what the browser does, message for message (checked against the frames a real
Chromium sent on this page; see the notes at `ClientState`):
- opens the page: a `rerun_script` naming `page_name="draw"` (st.navigation resolves it), waits for
  the run to finish and learns the page's script hash, the pad's widget id and the fragment that
  holds it, all from the ForwardMsgs (nothing about the page is hard-coded but the pad's component
  name and the strip's "what the model sees" title);
- on each stroke sends what views/canvas/canvas.js sends on pointer-up: a fragment `rerun_script`
  carrying every widget's state, the pad's as JSON `{"drawing": {w, h, ink, strokes, seq}}` (ink =
  base64 of the grey levels of the ink's bounding box plus an 8 px margin on the 280×280 bitmap),
  and the hashes of the messages it caches, as the browser's ForwardMsg cache does;
- draws smooth strokes (bench_draw_latency.strokes, different for every student), three to a
  drawing, clearing the pad before every fourth, a stroke every 2 s ± 0.5 s (start to start, first
  strokes spread over one interval), exactly as bench_classroom.py does.

Latency: from sending a stroke's BackMsg to the ForwardMsg that says its fragment run finished.
A stroke counts only if that run delivered the reconstructions strip; after the class, the strip's
"what the model sees" image of every stroke is checked against `from_canvas_ink` of the drawing that
was sent. Errors: an exception element or an error box in a run, a run that did not finish
successfully, a wrong or missing strip, a page not found, a session event, a cached-message miss,
a closed websocket, no answer within 30 s, and a "Traceback" in the server's log.

Also printed: the server's peak resident memory (all its processes, sampled every 0.2 s), its CPU
seconds over the drawing phase split by thread, the client's own CPU seconds, the load average, and
an uncontended baseline (one session's strokes before the class) so queueing can be told from work.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import os
import platform
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_classroom import TICKS, MemorySampler, _cpu_seconds, _tree  # noqa: E402
from bench_draw_latency import strokes  # noqa: E402
from harness import start_server  # noqa: E402

from tests.browser_support import free_port, stop_server  # noqa: E402

TARGET_P95_MS = 1000.0
TARGET_RSS_GB = 3.0
ANSWER_TIMEOUT_S = 30.0  # a stroke with no answer by then is an error
DRAIN_TIMEOUT_S = 90.0  # after that, how long to wait for the late run before giving the student up
OPEN_TIMEOUT_S = 240.0  # 30 sessions arriving together queue behind each other's first runs
STROKES_PER_DRAWING = 3  # then the pad is cleared, as in bench_classroom.py
BASELINE_STROKES = 8  # the teacher's uncontended strokes after the warm-up one

# What the Draw page is made of, as the client recognises it in the deltas.
PAD_COMPONENT = "latent_lab.draw_pad"
STRIP_COMPONENT = "latent_lab.image_strip"
INPUT_TITLE = "what the model sees"  # first panel of the reconstructions strip (bench_draw_latency's MEASURE_JS)
PROMPT = "Draw a digit on the canvas"  # the info box an empty pad shows
PAGE = "draw"  # the Draw page's url_path in app.py

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


def pad_value(coverages: list[np.ndarray], seq: int) -> dict | None:
    """The pad's `drawing` after these strokes (each a (280, 280) coverage), as canvas.js's publish()
    sends it: None when empty, else {w, h, ink, strokes, seq} with ink = base64 of the (h, w) uint8
    grey levels of the ink's bounding box plus MARGIN_PX, row-major."""
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
            "strokes": len(coverages), "seq": seq}


@dataclass
class Step:
    """One stroke of a student's: the pad's `drawing` after it, and whether the pad is cleared first
    (a new drawing; Clear is its own send, and its own run)."""

    drawing: dict
    clear_first: bool


def lesson(n_strokes: int, seed: int) -> list[Step]:
    """A student's `n_strokes` strokes of their own, STROKES_PER_DRAWING to a drawing, the pad cleared
    before each new drawing; `seq` counts every send, as the pad does."""
    steps, current, seq = [], [], 0
    for i, stroke in enumerate(strokes(n_strokes, seed)):
        clear = bool(i) and i % STROKES_PER_DRAWING == 0
        if clear:
            current, seq = [], seq + 1  # Clear sends null, and counts
        current.append(_coverage(np.array(stroke, np.float32) * CANVAS_PX))  # fractions of the pad → bitmap px
        seq += 1
        steps.append(Step(pad_value(current, seq), clear))
    return steps


# ---------------------------------------------------------------------------------------------------
# One Streamlit session over the websocket
# ---------------------------------------------------------------------------------------------------


class ProtocolError(RuntimeError):
    """The session broke: the websocket closed, or the server sent what the browser could not use."""


@dataclass
class Run:
    """What one script run (full or fragment) sent, from its new_session to its script_finished."""

    run_id: str
    fragment_ids: tuple[str, ...]
    started: float  # perf_counter() when its new_session arrived
    finished: float = 0.0
    status: str = ""  # ForwardMsg.ScriptFinishedStatus name
    strips: list[dict] = field(default_factory=list)  # each image strip's data: {height, panels: [...]}
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (format name, body)
    exceptions: list[str] = field(default_factory=list)
    pad_seen: bool = False

    def reconstructions(self) -> dict | None:
        """The strip whose first panel is the model's input, with at least three reconstructions after it."""
        for strip in self.strips:
            panels = strip.get("panels") or []
            if (len(panels) >= 4 and panels[0].get("title") == INPUT_TITLE
                    and all(str(p.get("note", "")).startswith("error ") for p in panels[1:])):
                return strip
        return None

    def problems(self, fragment: bool) -> list[str]:
        """Everything in this run a student would see as an error."""
        want = "FINISHED_FRAGMENT_RUN_SUCCESSFULLY" if fragment else "FINISHED_SUCCESSFULLY"
        out = [f"run ended {self.status}"] if self.status != want else []
        out += [f"exception shown: {m[:120]}" for m in self.exceptions]
        out += [f"error box shown: {body[:120]}" for fmt, body in self.alerts if fmt == "ERROR"]
        return out


class Session:
    """A Streamlit session as the browser's frontend holds it: one websocket, the widget states it
    would send back, its ForwardMsg cache, and the runs the server reports (queued as they finish)."""

    def __init__(self, base: str):
        self.base = base
        self.ws_url = base.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.ws = None
        self.runs: asyncio.Queue[Run | None] = asyncio.Queue()  # None: the websocket closed
        self.problems: list[str] = []  # session-level: events, cache misses, a closed socket
        self.closed: str | None = None
        self.page_hash = ""
        self.page_url_paths: dict[str, str] = {}  # page_script_hash → url_pathname, from `navigation`
        self.pad_id = ""
        self.pad_fragment = ""
        self.max_cache_age = 2
        # Widget states the browser would send: id → (WidgetState, fragment id of its element).
        self._widgets: dict[str, tuple[object, str]] = {}
        self._seen_this_run: set[str] = set()
        # The browser's ForwardMsg cache: hash → [encoded msg, run count at last use, fragment id].
        self._cache: dict[str, list] = {}
        self._run_count = 0
        self._run: Run | None = None
        self._reader: asyncio.Task | None = None

    # --- connection -----------------------------------------------------------------------------

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        # As the browser connects: subprotocol "streamlit", same-origin Origin header, no compression
        # (the server's enableWebsocketCompression is off by default), no client pings.
        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], origin=self.base, compression=None,
                                max_size=None, proxy=None, open_timeout=OPEN_TIMEOUT_S, ping_interval=None)
        self._reader = asyncio.create_task(self._read(), name="ws-reader")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 (closing: nothing left to report)
                pass

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self._receive(self._through_cache(msg, raw))
        except ConnectionClosed as err:
            self.closed = f"websocket closed ({err.rcvd.code if err.rcvd else 'no close frame'})"
        except Exception as err:  # noqa: BLE001 (any failure here is the session's error, reported once)
            self.closed = f"{type(err).__name__}: {err}"
        else:
            self.closed = "websocket closed by the server"
        self.runs.put_nowait(None)  # wakes a student waiting for a run

    # --- the frontend's ForwardMsg cache (ForwardMessageCache in Streamlit's frontend) -------------

    def _through_cache(self, msg, raw: bytes):
        """Cache cacheable messages, touch the ones seen again, and swap a `ref_hash` for the cached message."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        kind = msg.WhichOneof("type")
        if kind != "ref_hash" and msg.metadata.cacheable and msg.hash:
            entry = self._cache.get(msg.hash)
            if entry:
                entry[1] = self._run_count
            else:
                fragment = msg.delta.fragment_id if kind == "delta" else ""
                self._cache[msg.hash] = [raw, self._run_count, fragment]
        if kind != "ref_hash":
            return msg
        entry = self._cache.get(msg.ref_hash)
        if entry is None:
            self.problems.append(f"cached message miss for hash {msg.ref_hash}")
            return msg
        entry[1] = self._run_count
        cached = ForwardMsg()
        cached.ParseFromString(entry[0])
        cached.metadata.CopyFrom(msg.metadata)  # where it goes this time (delta_path) comes with the reference
        return cached

    def _age_cache(self, fragment_ids: tuple[str, ...]) -> None:
        """After a run: forget messages unused for more than max_cached_message_age runs; a fragment run
        ages only the messages of its own fragments."""
        self._run_count += 1
        for key, (_, used, fragment) in list(self._cache.items()):
            if fragment_ids and (not fragment or fragment not in fragment_ids):
                continue
            if self._run_count - used > self.max_cache_age:
                del self._cache[key]

    # --- what the server sends --------------------------------------------------------------------

    def _receive(self, msg) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        kind = msg.WhichOneof("type")
        if kind == "new_session":
            if msg.new_session.HasField("config"):
                self.max_cache_age = msg.new_session.config.max_cached_message_age or self.max_cache_age
            run = msg.metadata.run
            self._run = Run(run.script_run_id, tuple(run.fragment_ids), time.perf_counter())
            self._seen_this_run = set()
        elif kind == "navigation":
            self.page_url_paths = {p.page_script_hash: p.url_pathname for p in msg.navigation.app_pages}
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "delta":
            self._delta(msg.delta)
        elif kind == "script_finished":
            status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            run, self._run = self._run, None
            if run is None:
                self.problems.append(f"script_finished ({status}) without a run")
                return
            if msg.metadata.HasField("run") and msg.metadata.run.script_run_id not in ("", run.run_id):
                self.problems.append(f"script_finished for run {msg.metadata.run.script_run_id}, expected {run.run_id}")
            run.status, run.finished = status, time.perf_counter()
            if status != "FINISHED_EARLY_FOR_RERUN":
                self._forget_inactive_widgets(run)
                self._age_cache(run.fragment_ids)
            self.runs.put_nowait(run)
        elif kind == "page_not_found":
            self.problems.append(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "session_event":
            event = msg.session_event
            detail = event.script_compilation_exception.message if event.HasField("script_compilation_exception") else ""
            self.problems.append(f"session event {event.WhichOneof('type')} {detail}".rstrip())

    def _delta(self, delta) -> None:
        if self._run is None:
            self.problems.append("a delta outside any run")
            return
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        if kind == "exception":
            self._run.exceptions.append(f"{proto.type}: {proto.message}")
        elif kind == "alert":
            from streamlit.proto.Alert_pb2 import Alert

            self._run.alerts.append((Alert.Format.Name(proto.format), proto.body))
        elif kind == "bidi_component":
            if proto.component_name == PAD_COMPONENT:
                self.pad_id, self.pad_fragment, self._run.pad_seen = proto.id, delta.fragment_id, True
                self._seen_this_run.add(proto.id)
                if proto.id in self._widgets:
                    self._widgets[proto.id] = (self._widgets[proto.id][0], delta.fragment_id)
            elif proto.component_name == STRIP_COMPONENT and proto.json:
                self._run.strips.append(json.loads(proto.json))
        else:
            self._track_widget(kind, proto, delta.fragment_id)

    # --- widget states, as the frontend's WidgetStateManager keeps them ----------------------------

    def _track_widget(self, kind: str, proto, fragment_id: str) -> None:
        """Record the value the browser would hold for a widget it is shown: its default when first
        seen (or when the server sets it), otherwise the value it already holds. The Draw page's own
        widgets are covered; a widget type not listed is left out, so the server uses its default,
        which is also what the browser would send for a widget nobody touched."""
        from streamlit.proto.NumberInput_pb2 import NumberInput
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        wid = getattr(proto, "id", "")
        if not wid:
            return
        self._seen_this_run.add(wid)
        if wid in self._widgets and not getattr(proto, "set_value", False):
            self._widgets[wid] = (self._widgets[wid][0], fragment_id)
            return
        state = WidgetState(id=wid)
        if kind == "number_input":
            value = proto.value if proto.set_value else proto.default
            if proto.data_type == NumberInput.INT:
                state.int_value = int(value)
            else:
                state.double_value = value
        elif kind == "checkbox":
            state.bool_value = proto.value if proto.set_value else proto.default
        elif kind == "multiselect":
            chosen = list(proto.raw_values) if proto.set_value else [proto.options[i] for i in proto.default]
            state.string_array_value.SetInParent()  # none chosen is still a value: an empty array
            state.string_array_value.data.extend(chosen)
        else:
            return
        self._widgets[wid] = (state, fragment_id)

    def _forget_inactive_widgets(self, run: Run) -> None:
        """Drop the states of widgets the run no longer showed (a fragment run: only within its fragments)."""
        for wid, (_, fragment) in list(self._widgets.items()):
            if wid in self._seen_this_run:
                continue
            if not run.fragment_ids or fragment in run.fragment_ids:
                del self._widgets[wid]

    # --- what the browser sends -------------------------------------------------------------------

    def _client_state(self, **fields):
        """A ClientState as the frontend fills it. Checked against the frames Chromium sent on this page:
        the first names the page by `page_name` only (its url_path; st.navigation maps it to a script),
        with empty widget states; later ones carry `page_script_hash`, every widget's state,
        `fragment_id` when a widget inside a fragment changed, and the hashes the cache holds. Both
        carry the browser's context (time zone, locale, URL, colour scheme)."""
        from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo

        state = ClientState(**fields)
        state.context_info.CopyFrom(ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US",
                                                url=f"{self.base}/{PAGE}", is_embedded=False,
                                                color_scheme="light"))
        return state

    async def _send(self, state) -> float:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if self.closed:
            raise ProtocolError(self.closed)
        msg = BackMsg()
        msg.rerun_script.CopyFrom(state)
        data = msg.SerializeToString()
        t0 = time.perf_counter()
        await self.ws.send(data)
        return t0

    async def open_page(self, timeout: float = OPEN_TIMEOUT_S) -> Run:
        """Load the Draw page as a browser tab does; returns its first (full) run."""
        state = self._client_state(page_name=PAGE)
        state.widget_states.SetInParent()  # the browser sends an empty WidgetStates, not none
        await self._send(state)
        run = await self.next_run(timeout)
        if self.page_url_paths.get(self.page_hash) != PAGE:
            raise ProtocolError(f"the server ran page {self.page_url_paths.get(self.page_hash)!r}, not {PAGE!r}")
        if not run.pad_seen:
            raise ProtocolError("the Draw page showed no drawing pad")
        return run

    async def send_pad(self, drawing: dict | None) -> float:
        """Send the pad's new value as the component's setStateValue does; returns when it was sent."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        if not self.pad_id:
            raise ProtocolError("no drawing pad on the page yet")
        value = json.dumps({"drawing": drawing}, separators=(",", ":"))  # JSON.stringify's compact form
        self._widgets[self.pad_id] = (WidgetState(id=self.pad_id, json_value=value), self.pad_fragment)
        state = self._client_state(page_script_hash=self.page_hash, fragment_id=self.pad_fragment)
        state.widget_states.widgets.extend(w for w, _ in self._widgets.values())
        state.cached_message_hashes.extend(self._cache)
        return await self._send(state)

    async def next_run(self, timeout: float) -> Run:
        """The next run to finish; ProtocolError if the socket closed first, TimeoutError after `timeout`."""
        run = await asyncio.wait_for(self.runs.get(), timeout)
        if run is None:  # the reader's end-of-stream mark: leave it for whoever asks next
            self.runs.put_nowait(None)
            raise ProtocolError(self.closed or "websocket closed")
        return run


# ---------------------------------------------------------------------------------------------------
# Students
# ---------------------------------------------------------------------------------------------------


@dataclass
class Stroke:
    """A stroke's answer: latency, and the drawing and input image to check after the class."""

    ms: float  # BackMsg sent → script_finished received
    wait_ms: float  # of which BackMsg sent → the run's new_session received (queueing, thread start)
    drawing: dict
    input_panel: dict  # the strip's first panel: {title, note, w, h, pixels}
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
                                   strip["panels"][0], run.fragment_ids))

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
            want = np.rint(np.clip(from_canvas_ink(ink_from_drawing(stroke.drawing)).image, 0, 1) * 255)  # (28, 28)
            panel = stroke.input_panel
            got = np.frombuffer(base64.b64decode(panel["pixels"]), np.uint8).reshape(panel["h"], panel["w"])
            if got.shape != want.shape or np.abs(got.astype(np.int16) - want).max() > 1:
                errors.append(f"student {s.number}: answered stroke {k} shows an input image that is not its drawing's")
    return errors


# ---------------------------------------------------------------------------------------------------
# Measuring the server
# ---------------------------------------------------------------------------------------------------


def thread_cpu(root_pid: int) -> tuple[float, dict[tuple[int, int], tuple[str, float]]]:
    """(CPU seconds of the process tree so far, {(pid, tid): (thread name, CPU seconds)} of its live threads).
    A process's total includes the threads that have ended; the live threads' sum does not."""
    total, threads = _cpu_seconds(_tree(root_pid)), {}
    for pid in _tree(root_pid):
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


async def classroom(base: str, server_pid: int, n: int, seconds: float, interval: float, seed: int,
                    baseline_strokes: int = BASELINE_STROKES) -> dict:
    """The teacher first (a warm-up stroke, then `baseline_strokes` strokes alone on the server), then `n`
    students open the page at once and draw for `seconds`. Returns the figures `report` prints."""
    # Every drawing is made before anything is timed: a stroke every interval - 0.5 s at most, and spare.
    per_student = int(np.ceil(seconds / max(interval - 0.5, 0.1))) + 3
    teacher = Student(-1, base, lesson(1 + baseline_strokes, 10_000 * (seed + 1)), np.random.default_rng([seed, 1]))
    students = [Student(k, base, lesson(per_student, 10_000 * (seed + 1) + k + 1), np.random.default_rng([seed, 2, k]))
                for k in range(n)]

    # The teacher opens the page and draws before class, so the models load and warm up then, as on a
    # server started before the lesson: its first stroke is reported on its own, the others are the
    # server's answer time with nobody else on it.
    await teacher.open()
    await teacher.draw_each(pause=0.3)
    teacher.finish()
    await teacher.session.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(s.open() for s in students))
    open_s = time.perf_counter() - t0

    cpu0, client0, t1 = thread_cpu(server_pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(s.draw_for(seconds, interval) for s in students))
    wall = time.perf_counter() - t1
    cpu1, client1 = thread_cpu(server_pid), time.process_time()
    load = os.getloadavg()
    for s in students:
        s.finish()
        await s.session.close()
    return {"teacher": teacher, "students": students, "open_s": open_s, "wall": wall, "load": load,
            "server_cpu": cpu1[0] - cpu0[0], "server_threads": cpu_by_thread(cpu0, cpu1),
            "client_cpu": client1 - client0}


# ---------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------


def summarise(out: dict, server_log: str) -> dict:
    """The class's figures: latencies (ms), errors (strings) and counts, from `classroom`'s result."""
    teacher, students = out["teacher"], out["students"]
    ms = np.array([k.ms for s in students for k in s.strokes])
    wait_ms = np.array([k.wait_ms for s in students for k in s.strokes])
    errors = [f"student {s.number}: {e}" for s in [teacher, *students] for e in s.errors]
    errors += check_inputs([teacher, *students])
    tracebacks = server_log.count("Traceback")
    errors += [f"server log: {tracebacks} traceback(s)"] if tracebacks else []
    attempted = sum(len(s.strokes) for s in students)
    return {"ms": ms, "wait_ms": wait_ms, "errors": errors, "answered": attempted, "tracebacks": tracebacks,
            "warm_ms": teacher.strokes[0].ms if teacher.strokes else None,
            "baseline_ms": np.array([k.ms for k in teacher.strokes[1:]]),
            "open": [s.open_s for s in students if s.open_s is not None]}


def code_version() -> str:
    """The commit the server ran, and whether the working tree differed from it (others' edits in progress)."""
    import subprocess

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]  # "XY path"
    head = git("rev-parse", "--short", "HEAD").strip()
    return head + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")


def report(args, out: dict, fig: dict, peak_bytes: int) -> bool:
    """Print the figures; True if every target is met."""
    cores, wall = os.cpu_count() or 1, out["wall"]
    ms, errors = fig["ms"], fig["errors"]
    print(f"# classroom over Streamlit's websocket protocol: {args.students} students, a stroke every "
          f"{args.interval:g} s ± 0.5 s for {args.seconds:g} s")
    print(f"{platform.node()}, {cores} CPUs, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
          f"load average at the end {out['load'][0]:.2f} / {out['load'][1]:.2f} / {out['load'][2]:.2f} (1/5/15 min)")
    print(f"code: {code_version()}")
    if fig["warm_ms"] is not None:
        print(f"teacher's warm-up stroke before class (models load): {fig['warm_ms']:.0f} ms")
    if len(fig["baseline_ms"]):
        b = fig["baseline_ms"]
        print(f"teacher alone, {len(b)} strokes (uncontended answer time): median {np.median(b):.0f} ms, max {b.max():.0f} ms")
    if fig["open"]:
        print(f"all pages opened in {out['open_s']:.1f} s (per page: median {np.median(fig['open']):.2f} s, "
              f"max {max(fig['open']):.2f} s)")
    p95 = float("inf")
    if len(ms):
        p50, p95 = np.percentile(ms, [50, 95])
        print(f"strokes answered: {len(ms)} ({len(ms) / wall:.1f} per second over the {wall:.1f} s phase)")
        print(f"latency BackMsg sent → fragment run finished, reconstructions delivered: p50 {p50:.0f} ms, "
              f"p95 {p95:.0f} ms, max {ms.max():.0f} ms")
        w50, w95 = np.percentile(fig["wait_ms"], [50, 95])
        r50, r95 = np.percentile(ms - fig["wait_ms"], [50, 95])
        print(f"  of which sent → run started (new_session): p50 {w50:.0f} ms, p95 {w95:.0f} ms; "
              f"run started → finished: p50 {r50:.0f} ms, p95 {r95:.0f} ms")
    else:
        print("no stroke was answered")
    server, client = out["server_cpu"], out["client_cpu"]
    print(f"CPU seconds over the phase: server {server:.1f} s ({server / wall:.2f} cores busy on average"
          + (f", {server / len(ms) * 1000:.0f} ms per stroke" if len(ms) else "")
          + f"), this client {client:.1f} s; the machine has {cores * wall:.0f} core-seconds in {wall:.0f} s")
    print("server CPU by thread: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in out["server_threads"] if sec >= 0.05))
    peak_gb = peak_bytes / 1e9
    print(f"server peak memory (RSS, all its processes): {peak_gb:.2f} GB")
    print(f"errors: {len(errors)}")
    for e in errors[:20]:
        print("  " + e)
    if len(errors) > 20:
        print(f"  … and {len(errors) - 20} more")
    checks = [(f"p95 ≤ {TARGET_P95_MS:.0f} ms", p95 <= TARGET_P95_MS, f"{p95:.0f} ms"),
              ("zero errors", not errors, str(len(errors))),
              (f"server memory ≤ {TARGET_RSS_GB:g} GB", peak_gb <= TARGET_RSS_GB, f"{peak_gb:.2f} GB")]
    for name, ok, got in checks:
        print(f"target {name}: {'met' if ok else 'NOT met'} ({got})")
    return all(ok for _, ok, _ in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one student's strokes")
    parser.add_argument("--port", type=int, default=0, help="port for the server (default: a free one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.students < 1 or args.seconds < 0 or args.interval <= 0.5:
        raise SystemExit("need --students ≥ 1, --seconds ≥ 0 and --interval > 0.5 (strokes are interval ± 0.5 s apart)")

    port = args.port or free_port()
    proc, log = start_server(port, prefix="bench-classroom-protocol-")
    sampler = MemorySampler(proc.pid)
    sampler.start()
    try:
        out = asyncio.run(classroom(f"http://127.0.0.1:{port}", proc.pid, args.students,
                                    args.seconds, args.interval, args.seed))
    finally:
        sampler.stop()
        stop_server(proc)
    server_log = log.read_text(errors="replace")
    ok = report(args, out, summarise(out, server_log), sampler.peak)
    if "Traceback" in server_log:
        print(f"server log kept: {log}")
    else:
        log.unlink(missing_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
