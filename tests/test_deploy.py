"""The classroom deployment (deploy/), as plain processes on this machine: two `streamlit run app.py`
replicas sharing one model cache, behind Debian's nginx running deploy/nginx.conf itself (only its
listen address, upstream servers and log paths are rewritten for loopback). Through the proxy:
health and pages answer, requests are spread over both replicas but each browser sticks to one (the
route cookie), the websocket upgrades and runs a page, an upload reaches the app with XSRF protection
on; and a model trained into the shared cache is listed by both replicas.

Needs nginx (`apt-get install nginx`): without it the tests are skipped with a reason, except under
CI (`CI` set), where they fail, as the browser tests do without Chromium. The upload test also needs
the browser (marked `browser`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.harness import ROUTE_COOKIE, ServerError, find_nginx, start_topology
from bench.harness import upstreams as _upstreams
from tests.browser_support import ROOT

SAMPLES = ROOT / "assets" / "samples"
START_TIMEOUT_S = 60
PAGE_TIMEOUT_S = 60


def _nginx_binary() -> str:
    """Debian's nginx (in /usr/sbin, which is not on every user's PATH); skip locally, fail on CI."""
    found = find_nginx()
    if found:
        return found
    reason = "no nginx binary (PATH, /usr/sbin/nginx)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(f"{reason}; install Debian's nginx package to run the deployment tests")


@pytest.fixture(scope="module")
def topology():
    """Two replicas sharing a fresh model cache behind nginx (bench.harness, as the classroom benchmark runs them)."""
    nginx = _nginx_binary()
    work = Path(tempfile.mkdtemp(prefix="latent-lab-deploy-"))
    try:
        try:
            top = start_topology(2, work, nginx=nginx, cache=work / "model-cache", timeout_s=START_TIMEOUT_S)
        except ServerError as err:
            pytest.fail(str(err))
        try:
            yield top
        finally:
            top.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _get(url: str, cookie: str | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never an HTTP proxy
    with opener.open(request, timeout=30) as response:
        return response.status, response.headers, response.read().decode(errors="replace")


# ---------------------------------------------------------------------------------------------------
# A page run over Streamlit's websocket protocol (as bench/bench_classroom_protocol.py speaks it)
# ---------------------------------------------------------------------------------------------------


@dataclass
class PageRun:
    status: str  # the ForwardMsg.ScriptFinishedStatus name
    handshake: int  # the HTTP status of the websocket handshake (101: upgraded)
    subprotocol: str | None
    raw: list[bytes]  # every ForwardMsg as it came
    exceptions: list[str]
    errors: list[str]

    def mentions(self, text: str) -> bool:
        return any(text.encode() in raw for raw in self.raw)


async def _page_run(base: str, page: str, cookie: str | None) -> PageRun:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    url = base.replace("http://", "ws://", 1) + "/_stcore/stream"
    headers = {"Cookie": cookie} if cookie else None
    async with connect(url, subprotocols=["streamlit"], origin=base, additional_headers=headers, proxy=None,
                       compression=None, max_size=None, ping_interval=None, open_timeout=30) as ws:
        state = ClientState(page_name=page)
        state.widget_states.SetInParent()
        state.context_info.CopyFrom(ContextInfo(timezone="UTC", locale="en-US", url=f"{base}/{page}"))
        msg = BackMsg()
        msg.rerun_script.CopyFrom(state)
        await ws.send(msg.SerializeToString())
        raw, exceptions, errors = [], [], []
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while True:
            data = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            raw.append(data)
            fm = ForwardMsg()
            fm.ParseFromString(data)
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                element = fm.delta.new_element
                if element.WhichOneof("type") == "exception":
                    exceptions.append(f"{element.exception.type}: {element.exception.message}")
                elif element.WhichOneof("type") == "alert" and element.alert.format == element.alert.ERROR:
                    errors.append(element.alert.body)
            elif kind == "page_not_found":
                errors.append(f"page not found: {page}")
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fm.script_finished)
                return PageRun(status, ws.response.status_code, ws.subprotocol, raw, exceptions, errors)


def page_run(base: str, page: str, cookie: str | None = None) -> PageRun:
    """Open `page` in a new session over the websocket at `base` and return its first run. asyncio.run
    in a thread of its own: in the full suite Playwright's sync API may hold the main thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _page_run(base, page, cookie)).result()


# ---------------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------------


def test_health_and_pages_through_the_proxy_spread_over_replicas_and_stick(topology):
    status, _, body = _get(f"{topology.proxy}/_stcore/health")
    assert (status, body.strip()) == (200, "ok")

    routes = []
    for _ in range(16):  # new browsers: each gets its own route cookie
        status, headers, body = _get(f"{topology.proxy}/")
        assert status == 200 and 'id="root"' in body, body[:300]
        cookie = next((c for c in headers.get_all("Set-Cookie") or [] if c.startswith(f"{ROUTE_COOKIE}=")), None)
        assert cookie is not None and "HttpOnly" in cookie, headers
        routes.append(cookie.split(";")[0].split("=", 1)[1])
    assert len(set(routes)) == len(routes)
    for route in routes[:4]:  # a returning browser keeps its route and gets no new cookie
        status, headers, _ = _get(f"{topology.proxy}/", cookie=f"{ROUTE_COOKIE}={route}")
        assert status == 200 and not any(c.startswith(ROUTE_COOKIE) for c in headers.get_all("Set-Cookie") or [])
        _get(f"{topology.proxy}/_stcore/health", cookie=f"{ROUTE_COOKIE}={route}")

    log = topology.access_log()
    replicas = {u.removeprefix("http://") for u in topology.replicas}
    spread = _upstreams(log)
    assert set(spread) == replicas, f"16 new browsers did not reach both replicas: {spread}"  # odds of a miss: 2⁻¹⁵
    for route in routes:
        assert len(_upstreams(log, route)) == 1, f"route {route} was served by several replicas: {_upstreams(log, route)}"


def test_websocket_upgrades_through_the_proxy_and_runs_a_page(topology):
    run = page_run(topology.proxy, "train", cookie=f"{ROUTE_COOKIE}=websocket-test")
    assert run.handshake == 101 and run.subprotocol == "streamlit"
    assert run.status == "FINISHED_SUCCESSFULLY", (run.status, run.exceptions, run.errors, topology.log_tails())
    assert not run.exceptions and not run.errors, (run.exceptions, run.errors)
    assert run.mentions("Models on this server")
    # The websocket went to the replica that the same route's page requests go to.
    _get(f"{topology.proxy}/train", cookie=f"{ROUTE_COOKIE}=websocket-test")
    log = topology.access_log(until=lambda lines: _upstreams(lines, "websocket-test", "/_stcore/stream")
                              and _upstreams(lines, "websocket-test", "/train"))
    assert _upstreams(log, "websocket-test", "/_stcore/stream").keys() == _upstreams(log, "websocket-test", "/train").keys()


def test_a_model_trained_into_the_shared_cache_is_listed_by_every_replica(topology):
    # Each replica's Train page first, so each has its model store before the model exists.
    before = [page_run(url, "train") for url in topology.replicas]
    assert all(r.status == "FINISHED_SUCCESSFULLY" for r in before), [r.status for r in before]

    # A separate process trains into the shared cache, as a training worker on another machine does.
    env = dict(os.environ, LATENT_LAB_CACHE=str(topology.cache), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "core", "train", "--kind", "ae_2d", "--latent-dim", "2", "--epochs", "1",
           "--train-size", "256", "--batch-size", "128"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    key = re.search(r"\(key (\S+)\)", done.stdout)[1]
    assert list(topology.cache.rglob(f"{key}*")), f"nothing named {key} in the shared cache {topology.cache}"
    from core.lab.spec import ModelSpec
    from core.lab.zoo import name_of

    name = name_of(ModelSpec("ae_2d", latent_dim=2, epochs=1, train_size=256, batch_size=128))  # as the page lists it
    assert not any(r.mentions(name) for r in before)

    for url in [*topology.replicas, topology.proxy]:
        run = page_run(url, "train")
        assert run.status == "FINISHED_SUCCESSFULLY" and not run.exceptions, (url, run.status, run.exceptions)
        assert run.mentions(name), f"{url}'s Train page does not list {name}"


@pytest.mark.browser
def test_upload_through_the_proxy_with_xsrf_on(topology, browser_page, tmp_path):
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes((SAMPLES / "damaged.png").read_bytes())
    big = tmp_path / "big_scan.png"  # over nginx's default 1 MB body limit, under the app's 10 MB
    big.write_bytes(os.urandom(3 * 1024 * 1024))

    page = browser_page
    page.goto(f"{topology.proxy}/upload", wait_until="domcontentloaded")
    page.get_by_text("Upload your own digits").first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert ROUTE_COOKIE in cookies and "_streamlit_xsrf" in cookies, cookies  # sticky route; XSRF is on
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(damaged), str(big)])
    # Each file's own message: the bytes reached the app through the proxy and were read.
    page.get_by_text(re.compile(r"damaged\.png .*could not be decoded")).first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    page.get_by_text("big_scan.png is not an image this app can read").wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors

    route = cookies[ROUTE_COOKIE]
    log = topology.access_log()
    puts = [line for line in log if f"route={route}" in line and '"PUT /_stcore/upload_file/' in line]
    assert len(puts) == 2 and all(re.search(r'" 2\d\d ', line) for line in puts), puts
    # The uploads, the websocket and the page all went to one replica: the one holding the session.
    assert len(_upstreams(log, route)) == 1, _upstreams(log, route)
