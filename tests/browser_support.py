"""Fixtures for end-to-end browser tests: a live Streamlit server and a headless Chromium page.

Use them from a test module with

    (registered for every test module by `pytest_plugins` in tests/conftest.py)

The browser is Debian's /usr/bin/chromium driven by the `playwright` Python package; nothing is ever
downloaded (`playwright install` is not needed). Without that browser the tests are skipped locally
and fail on CI (when the CI environment variable is set), so a CI image that lost it is noticed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 60
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log_tail(log_path: Path, chars: int = 4000) -> str:
    """The end of the server log, without the colour codes of Streamlit's tracebacks."""
    try:
        return ANSI_ESCAPE.sub("", log_path.read_text(errors="replace"))[-chars:]
    except OSError:
        return "(no server log)"


def _wait_for_health(base_url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    """Poll Streamlit's health endpoint until it answers "ok"; fail early if the server dies."""
    url = f"{base_url}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with code {proc.returncode} before it was healthy:\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read().decode(errors="replace").strip()
            if response.status == 200 and body == "ok":
                return
            last_error = f"HTTP {response.status}: {body!r}"
        except (urllib.error.URLError, OSError) as err:
            last_error = str(err)
        time.sleep(0.25)
    pytest.fail(f"streamlit was not healthy at {url} after {timeout_s:.0f} s ({last_error}):\n{log_tail(log_path)}")


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate the server and everything it started (it runs in its own process group)."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


class ServerURL(str):
    """The server's base URL (a plain str) that also knows where the server's log is."""

    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's stdout/stderr, to put in a failure message."""
        return log_tail(self.log_path, chars)


@pytest.fixture(scope="session")
def streamlit_server() -> Iterator[ServerURL]:
    """Run `streamlit run app.py` on a free port for the whole session; yield its base URL.

    The URL is a `ServerURL`: a str with `.log_tail()` for the server's output (tracebacks go there,
    since the app hides error details in the browser).
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.setdefault("LATENT_LAB_DATA", str(SHARED_DATA))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        # No file watcher: nothing is edited during a test run, and it saves CPU on a small machine.
        "--server.fileWatcherType", "none",
    ]
    log_file = tempfile.NamedTemporaryFile(prefix="latent-lab-streamlit-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_health(base_url, proc, log_path, SERVER_START_TIMEOUT_S)
        url = ServerURL(base_url)
        url.log_path = log_path
        yield url
    finally:
        stop_server(proc)
        log_file.close()
        if proc.returncode in (0, -signal.SIGTERM):
            log_path.unlink(missing_ok=True)
        else:
            print(f"streamlit server log kept at {log_path}", file=sys.stderr)


def _no_browser(reason: str, module: bool = False) -> None:
    """Skip locally, fail on CI: a CI image without the browser should not pass silently. `module`: called
    while a test module is imported (the whole module is skipped)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(f"{reason}; install Debian's chromium package to run the browser tests", allow_module_level=module)


def playwright_error() -> type[Exception]:
    """Playwright's Error class (what its timeouts raise), for a test module that catches it at import:
    without the playwright package the module is skipped locally and fails on CI."""
    try:
        from playwright.sync_api import Error
    except ImportError:
        _no_browser("the playwright Python package is not installed", module=True)
    return Error


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright, shared by the session's tests."""
    if not CHROMIUM.exists():
        _no_browser(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright Python package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium):
    """A fresh page (own context: no shared cookies or session) that records page errors.

    Uncaught JavaScript errors are collected in `page.js_errors` (a list of strings) for tests to assert on.
    """
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda err: js_errors.append(str(err)))
    page.js_errors = js_errors
    try:
        yield page
    finally:
        context.close()


__all__ = ["ROOT", "CHROMIUM", "ServerURL", "free_port", "streamlit_server", "chromium", "browser_page"]
