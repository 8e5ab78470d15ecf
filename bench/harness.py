"""What the benchmarks (and tests/test_deploy.py) share: `streamlit run app.py` servers on free ports,
one alone or N behind Debian's nginx running deploy/nginx.conf, the classroom deployment's topology
as plain processes on this machine."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_support import free_port, log_tail, stop_server  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
ROUTE_COOKIE = "latentlab_route"  # deploy/nginx.conf's sticky-session cookie


class ServerError(RuntimeError):
    """A server exited or was not healthy in time (the message ends with its log's tail)."""


def bench_env() -> dict[str, str]:
    """The benchmarks' servers read the data from ../shared/data unless LATENT_LAB_DATA says otherwise."""
    return {"LATENT_LAB_DATA": os.environ.get("LATENT_LAB_DATA", str(SHARED_DATA))}


def streamlit_process(port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on 127.0.0.1:`port` in its own process group, output to `log`; `env` is added
    to this process's environment. The rest of the settings come from .streamlit/config.toml."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, **(env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    """Return once `base`/_stcore/health says ok; ServerError if `proc` exits first or `timeout_s` passes."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never an HTTP proxy
    deadline, last = time.monotonic() + timeout_s, "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"{proc.args[0]} exited ({proc.returncode}) before {base} was healthy; log {log}:\n"
                              f"{log_tail(log)}")
        try:
            with opener.open(f"{base}/_stcore/health", timeout=2) as r:
                body = r.read().decode(errors="replace").strip()
            if r.status == 200 and body == "ok":
                return
            last = f"HTTP {r.status}: {body!r}"
        except OSError as err:
            last = str(err)
        time.sleep(0.05)
    raise ServerError(f"{base} was not healthy after {timeout_s:.0f} s ({last}); log {log}:\n{log_tail(log)}")


def start_server(port: int, prefix: str = "bench-") -> tuple[subprocess.Popen, Path]:
    """`streamlit run app.py` on `port`, in its own process group; returns once /_stcore/health says ok."""
    log = Path(tempfile.NamedTemporaryFile(prefix=prefix, suffix=".log", delete=False).name)
    proc = streamlit_process(port, log, bench_env())
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
    except ServerError as err:
        stop_server(proc)
        raise SystemExit(str(err)) from None
    return proc, log


# ---------------------------------------------------------------------------------------------------
# The classroom deployment as plain processes: N app servers, nginx with deploy/nginx.conf in front
# ---------------------------------------------------------------------------------------------------


def find_nginx() -> str | None:
    """Debian's nginx (in /usr/sbin, which is not on every user's PATH), or None."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def nginx_conf_for_loopback(text: str, listen_port: int, upstream_ports: list[int], prefix: Path) -> str:
    """deploy/nginx.conf with the lines marked "test:" pointed at loopback and the temp directory."""
    temp_paths = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in upstream_ports)
    rewrites = {
        "worker_processes auto;": "worker_processes 1;",
        "    access_log /var/log/nginx/access.log latentlab;": f"    access_log {prefix / 'access.log'} latentlab;\n{temp_paths}",
        "        server app:8501 max_fails=3 fail_timeout=10s;": servers,
        "        listen 80;": f"        listen 127.0.0.1:{listen_port};",
    }
    for old, new in rewrites.items():
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has the line the test rewrites: {old.strip()!r}"
        text = text.replace(old, new)
    return text


def upstreams(lines: list[str], route: str | None = None, path: str = "") -> Counter:
    """Which replica served each request in nginx's access log (optionally: for this route cookie, on this path)."""
    out = Counter()
    for line in lines:
        m = re.search(r'"\w+ (\S+) [^"]*" \d+ \d+ route=(\S+) upstream=(\S+)', line)
        if m and (route is None or m[2] == route) and m[1].startswith(path):
            out[m[3]] += 1
    return out


@dataclass
class Topology:
    """Running app servers (`replicas`, their base URLs) and, when there is one, the proxy in front."""

    replicas: list[str]
    work: Path
    servers: list[subprocess.Popen]
    logs: list[Path]  # each server's, then nginx's error log
    proxy: str | None = None
    nginx: subprocess.Popen | None = None
    cache: Path | None = None  # the shared model cache (None: the servers use the environment's)
    prefix: Path | None = None  # nginx's directory: its config, access.log, error.log
    stopped: bool = field(default=False, repr=False)

    @property
    def base(self) -> str:
        """Where a browser goes: the proxy, or the one server."""
        return self.proxy or self.replicas[0]

    def access_log(self, until=None, timeout_s: float = 5.0) -> list[str]:
        """nginx's access log lines; with `until`, wait (a websocket is logged once it has closed) until
        `until(lines)` is true or `timeout_s` has passed."""
        deadline = time.monotonic() + timeout_s
        while True:
            lines = (self.prefix / "access.log").read_text(errors="replace").splitlines()
            if until is None or until(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{log_tail(p, 2000)}" for p in self.logs)

    def stop(self) -> None:
        """The proxy first, then the servers (each with everything it started)."""
        for proc in ([self.nginx] if self.nginx else []) + self.servers[::-1]:
            stop_server(proc)
        self.stopped = True


def start_topology(n: int, work: Path, *, nginx: str | None = None, cache: Path | None = None,
                   env: dict[str, str] | None = None, timeout_s: float = 60.0) -> Topology:
    """`n` app servers on free loopback ports, logging into `work`; with `nginx` (its binary), nginx in
    front of them running deploy/nginx.conf (rewritten by `nginx_conf_for_loopback`). `cache`: one model
    cache for all (LATENT_LAB_CACHE; created if missing). Returns once all are healthy; on ServerError
    everything started is stopped again."""
    work.chmod(0o755)  # run as root, nginx's workers are another user: they must reach their temp paths
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    env = {**(env or {}), **({"LATENT_LAB_CACHE": str(cache)} if cache is not None else {})}
    ports = [free_port() for _ in range(n)]
    top = Topology([f"http://127.0.0.1:{p}" for p in ports], work, [], [work / f"replica-{i}.log" for i in range(n)],
                   cache=cache)
    try:
        for port, log in zip(ports, top.logs, strict=True):
            top.servers.append(streamlit_process(port, log, env))
        if nginx:
            top.prefix = work / "nginx"
            top.prefix.mkdir(exist_ok=True)
            top.prefix.chmod(0o755)
            top.logs.append(top.prefix / "error.log")
            proxy_port = free_port()
            conf = top.prefix / "nginx.conf"
            conf.write_text(nginx_conf_for_loopback(NGINX_CONF.read_text(), proxy_port, ports, top.prefix))
            with top.logs[-1].open("ab") as err:
                top.nginx = subprocess.Popen(
                    [nginx, "-p", f"{top.prefix}/", "-c", str(conf), "-e", str(top.logs[-1]),
                     "-g", f"daemon off; pid {top.prefix / 'nginx.pid'};"],
                    stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
            top.proxy = f"http://127.0.0.1:{proxy_port}"
        for url, proc, log in zip(top.replicas, top.servers, top.logs, strict=False):
            wait_healthy(url, proc, log, timeout_s)
        if top.nginx:
            wait_healthy(top.proxy, top.nginx, top.logs[-1], timeout_s)
    except BaseException:
        top.stop()
        raise
    return top


@contextlib.contextmanager
def server_and_chromium(prefix: str):
    """A fresh server on a free port and one headless Debian Chromium (Playwright's sync API): yields
    (browser, base URL, server log). Both are stopped on the way out; the log is deleted only if the
    block finished without an error, so a failed run leaves it to read."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS

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
