"""The protocol-level classroom client (bench/bench_classroom_protocol.py, with bench/streamlit_protocol.py
and bench/classroom_students.py) against real servers: two students on the Draw page for ~6 s on one
server, and four through nginx in front of two replicas, speaking Streamlit's websocket protocol with
no browser.

It checks what the benchmark's figures rest on: every stroke was answered by a rerun of the pad's
fragment (not the whole page) that delivered the reconstructions strip, the strip's input image is
`from_canvas_ink` of the drawing sent, and nothing went wrong (no exception or error box, no dropped
session, no traceback in a server's log); through the proxy, each student's websocket carried the
route cookie its page load was given and stayed on one replica. The one-server tests need no browser
and never skip; the proxy test needs nginx (skipped without it, failed on CI, as tests/test_deploy.py).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bench import bench_classroom_protocol as bench
from bench import classroom_students as students
from bench.harness import ROUTE_COOKIE, bench_env, start_server, start_topology
from bench.streamlit_protocol import INPUT_TITLE, Run, Session
from tests.browser_support import free_port, stop_server
from tests.test_deploy import _nginx_binary

STUDENTS = 2
SECONDS = 6.0
INTERVAL = 2.0


@pytest.fixture(scope="module")
def server():
    """Our own `streamlit run app.py`, so its log holds only this test's tracebacks, if any."""
    port = free_port()
    proc, log = start_server(port, prefix="test-classroom-protocol-")
    try:
        yield proc, log, port
    finally:
        stop_server(proc)
        log.unlink(missing_ok=True)


def test_pad_value_is_what_canvas_js_sends():
    """The drawing payload: the ink's bounding box plus the margin, h·w grey bytes, stroke count and seq."""
    assert students.pad_value([], 1) is None
    stroke = students._coverage(np.array([[100.0, 120.0], [180.0, 130.0]], np.float32))  # (280, 280)
    drawing = students.pad_value([stroke], 7)
    ink = np.frombuffer(base64.b64decode(drawing["ink"]), np.uint8).reshape(drawing["h"], drawing["w"])
    assert (drawing["strokes"], drawing["seq"]) == (1, 7)
    assert ink.max() == 255 and ink[0].max() == 0 and ink[:, 0].max() == 0  # margin rows/columns are paper
    # A 20 px pen from x=100 to 180 (round caps: 90..190) plus 8 px each side, ~±1 px of antialiasing.
    assert abs(drawing["w"] - (80 + 20 + 2 * students.MARGIN_PX)) <= 2
    assert abs(drawing["h"] - (10 + 20 + 2 * students.MARGIN_PX)) <= 2


def _run(coro):
    """asyncio.run in a thread of its own: in the full suite, Playwright's sync API (the browser tests'
    session-wide fixture) keeps an event loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _check_class(out: dict, fig: dict, n_teachers: int, in_browser: bool = False) -> None:
    assert fig["errors"] == [], fig["errors"]
    assert len(fig["warm_ms"]) == n_teachers and len(fig["baseline_ms"]) == 2 * n_teachers
    for student in out["students"]:
        session = student.session
        assert session.pad_id.endswith("draw_canvas") and session.pad_fragment  # found in the deltas
        # ~SECONDS / INTERVAL strokes each (the first within one interval), every one answered.
        assert len(student.strokes) >= SECONDS / (INTERVAL + 0.5), len(student.strokes)
        for stroke in student.strokes:
            assert stroke.fragment_ids == (session.pad_fragment,)  # a fragment rerun, as the browser asks
            if in_browser:  # the pad answered: the server ran no model and left the strip's panels to it
                assert stroke.input_panel is None and stroke.drawing["browser"] is True
            else:
                assert stroke.input_panel["title"] == INPUT_TITLE
            assert 0 < stroke.ms < students.ANSWER_TIMEOUT_S * 1000
    assert fig["answered"] == sum(len(s.strokes) for s in out["students"]) == len(fig["ms"])
    assert out["server_cpu"] > 0 and out["client_cpu"] > 0


def test_two_students_are_answered_with_reconstructions(server):
    proc, log, port = server
    out = _run(students.classroom(f"http://127.0.0.1:{port}", [proc.pid], STUDENTS, SECONDS, INTERVAL,
                                  seed=3, baseline_strokes=2))
    _check_class(out, bench.summarise(out, log.read_text(errors="replace")), n_teachers=1)


def test_students_whose_pads_answer_in_the_browser_cost_the_server_no_model(server):
    """Drawings marked `browser` (the pad runs the models itself, as canvas.js says once onnxruntime-web
    is ready): each fragment rerun delivers a strip that leaves the input and the three reconstructions
    to the pad (`lead` 4, no panels of its own)."""
    from core.serving import browser

    missing = [f for f in browser.RUNTIME_FILES if not (browser.STATIC_DIR / browser.RUNTIME[0] / f).is_file()]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"onnxruntime-web is not in static/ort: run `{browser.SET_UP}`")
    proc, log, port = server
    out = _run(students.classroom(f"http://127.0.0.1:{port}", [proc.pid], 1, SECONDS, INTERVAL,
                                  seed=4, baseline_strokes=2, browser=True))
    _check_class(out, bench.summarise(out, log.read_text(errors="replace")), n_teachers=1, in_browser=True)


def _cookie_names(header: str) -> set[str]:
    return {part.split("=", 1)[0].strip() for part in header.split(";") if "=" in part}


def test_students_through_nginx_stick_to_one_replica_each():
    """Two replicas behind deploy/nginx.conf: a teacher warms each directly, four students go through the
    proxy with the route cookie their page load got, and each one's requests reach one replica only."""
    nginx, n = _nginx_binary(), 4
    work = Path(tempfile.mkdtemp(prefix="test-classroom-protocol-"))
    try:
        top = start_topology(2, work, nginx=nginx, env=bench_env())
        try:
            out = _run(students.classroom(top.base, [p.pid for p in top.servers], n, SECONDS, INTERVAL, seed=5,
                                          baseline_strokes=2, replicas=top.replicas, proxy_pids=[top.nginx.pid]))
            spread, problems = bench.stickiness(top, n)
        finally:
            top.stop()
        server_log = "\n".join(p.read_text(errors="replace") for p in top.logs[:2])
        _check_class(out, bench.summarise(out, server_log, problems), n_teachers=2)
        assert sum(spread) == n, spread
        for student in out["students"]:
            assert ROUTE_COOKIE in _cookie_names(student.session.cookie), student.session.cookie
        for teacher in out["teachers"]:  # straight to a replica: no proxy, no route cookie
            assert ROUTE_COOKIE not in _cookie_names(teacher.session.cookie), teacher.session.cookie
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_bad_drawing_counts_as_an_error(server):
    """The client notices what a student would see go wrong: a drawing the page refuses shows an error
    box and no reconstructions."""
    _, _, port = server

    async def send_bad_drawing() -> Run:
        session = Session(f"http://127.0.0.1:{port}")
        await session.connect()
        try:
            await session.open_page()
            await session.send_pad({"w": 2, "h": 2, "ink": "not base64!", "strokes": 1, "seq": 1})
            return await session.next_run(students.ANSWER_TIMEOUT_S)
        finally:
            await session.close()

    run = _run(send_bad_drawing())
    problems = run.problems(fragment=True)
    assert any(p.startswith("error box shown") and "base64" in p for p in problems), problems
    assert run.reconstructions() is None
