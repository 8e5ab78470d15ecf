"""What the browser benchmarks share: a `streamlit run app.py` server on a free port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_support import stop_server  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"


def start_server(port: int, prefix: str = "bench-") -> tuple[subprocess.Popen, Path]:
    """`streamlit run app.py` on `port`, in its own process group; returns once /_stcore/health says ok."""
    env = dict(os.environ)
    env.setdefault("LATENT_LAB_DATA", str(SHARED_DATA))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"streamlit exited ({proc.returncode}); log: {log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return proc, Path(log.name)
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    raise SystemExit(f"streamlit was not healthy after 60 s; log: {log.name}")


@contextlib.contextmanager
def server_and_chromium(prefix: str):
    """A fresh server on a free port and one headless Debian Chromium (Playwright's sync API): yields
    (browser, base URL, server log). Both are stopped on the way out; the log is deleted only if the
    block finished without an error, so a failed run leaves it to read."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, free_port

    port = free_port()
    proc, log = start_server(port, prefix=prefix)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser, f"http://127.0.0.1:{port}", log
            browser.close()
    finally:
        stop_server(proc)
    log.unlink(missing_ok=True)
