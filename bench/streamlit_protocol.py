"""A Streamlit session over the websocket, as the browser's frontend holds one: the protocol client of
bench/bench_classroom_protocol.py (the classroom load test), with no browser.

Streamlit's own protocol: protobuf `BackMsg` up and `ForwardMsg` down on `/_stcore/stream`. Like the
browser, a `Session` first loads the page over HTTP (and keeps the cookies it is given: behind
deploy/nginx.conf, the `latentlab_route` cookie that sticks it to one replica), then opens the
websocket with those cookies; it keeps the widget states the browser would send back and the
browser's ForwardMsg cache, and queues every script run the server reports as it finishes. What it
knows of the Draw page is below: the pad's and strip's component names, the strip's "what the model
sees" title, the page's url_path; the page's script hash, the pad's widget id and the fragment that
holds it are read from the server's messages.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass, field

OPEN_TIMEOUT_S = 240.0  # a class arriving together queues behind each other's first runs

# What the Draw page is made of, as the client recognises it in the deltas.
PAD_COMPONENT = "latent_lab.draw_pad"
STRIP_COMPONENT = "latent_lab.image_strip"
INPUT_TITLE = "what the model sees"  # first panel of the reconstructions strip (bench_draw_latency's MEASURE_JS)
PAGE = "draw"  # the Draw page's url_path in app.py


def page_cookies(url: str, timeout: float = OPEN_TIMEOUT_S) -> str:
    """GET `url` as the browser's first request does; the cookies it set, as a Cookie header ("" if none).
    Through deploy/nginx.conf that is the route cookie (and Streamlit's XSRF cookie when it sets one)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never an HTTP proxy
    with opener.open(url, timeout=timeout) as response:
        response.read()
        set_cookies = response.headers.get_all("Set-Cookie") or []
    return "; ".join(c.split(";", 1)[0].strip() for c in set_cookies if "=" in c.split(";", 1)[0])


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
        """The strip whose first panel is the model's input, with at least three reconstructions after it;
        or the strip that leaves those (`lead` ≥ 4 panels) to the pad's own answer in the browser."""
        for strip in self.strips:
            panels = strip.get("panels") or []
            if strip.get("follow") and (strip.get("lead") or 0) >= 4:
                return strip
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
        self.cookie = ""  # the Cookie header the websocket is opened with: what loading the page set
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
        """Load the page over HTTP, then open the websocket with the cookies that set."""
        from websockets.asyncio.client import connect

        self.cookie = await asyncio.to_thread(page_cookies, f"{self.base}/{PAGE}")
        # As the browser connects: subprotocol "streamlit", same-origin Origin header, its cookies, no
        # compression (the server's enableWebsocketCompression is off by default), no client pings.
        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], origin=self.base, compression=None,
                                additional_headers={"Cookie": self.cookie} if self.cookie else None,
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
