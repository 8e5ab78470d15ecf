"""Benchmark: a classroom on the Draw page, measured at the server's door: one Streamlit server, or N
replicas behind nginx with deploy/nginx.conf's cookie-sticky sessions (the classroom deployment).
`--students` (30) Streamlit sessions open the Draw page at once, then each draws a stroke every
`--period` (~2 s) for `--duration` (60 s). Targets (issues 8.5 and 18): p95 latency ≤ 1 s, zero
errors, memory of all the app servers (+ nginx) ≤ 3 GB.

    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py
    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py --students 10 --duration 15
    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py --replicas 2 --students 100
    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py --replicas 2 --knee 20,40,60,80,100
    flock /tmp/latentlab-cpu.lock python bench/bench_classroom_protocol.py --in-browser --knee 60,100,150

`--replicas 1` (the default) is one `streamlit run app.py`, reached directly; `--replicas N` (N ≥ 2) is
N of them sharing the model cache behind Debian's nginx running deploy/nginx.conf itself (only its
listen address, upstream servers and log paths rewritten for loopback: bench/harness.start_topology,
the same topology tests/test_deploy.py checks). `--knee 20,40,…` runs the class once per count, on
fresh servers each time, and prints p95 per count and the knee: the first count whose p95 passes 1 s.

Why not browsers: bench_classroom.py drives 30 real Chromium pages, and on a 2-core machine the
browsers took 128 of the 153 core-seconds, so it measured the browsers starving the server. Here
each student is one websocket at `/_stcore/stream` speaking Streamlit's own protocol (protobuf
`BackMsg` up, `ForwardMsg` down; bench/streamlit_protocol.py) from one light asyncio process, so
nearly all the CPU is the servers' and the figures say what the servers can do.

Each student does what the browser does, message for message (checked against the frames a real
Chromium sent on this page; see the notes at `Session._client_state`): loads the page over HTTP and
keeps its cookies (through nginx: the route cookie that sticks it to one replica), opens the
websocket with them, opens the Draw page and learns the page's script hash, the pad's widget id and
its fragment from the ForwardMsgs, then on each stroke sends what views/canvas/canvas.js sends on
pointer-up (bench/classroom_students.py: the drawings, three strokes to one, a stroke every
period ± 0.5 s, first strokes spread over one period). Before the class a "teacher" draws alone on
each replica directly, so every server has loaded and warmed its models, as servers started before
the lesson would have; those strokes are the uncontended baseline.

Latency: from sending a stroke's BackMsg to the ForwardMsg that says its fragment run finished; a
stroke counts only if that run delivered the reconstructions strip, and every strip's "what the model
sees" image is checked against `from_canvas_ink` of the drawing sent. Errors: an exception element or
an error box in a run, a run that did not finish successfully, a wrong or missing strip, a page not
found, a session event, a cached-message miss, a closed websocket, no answer within 30 s, a
"Traceback" in a server's log; through nginx also an [error] (or worse) line in its error log and a
session whose requests reached more than one replica.

Also printed: peak resident memory (all the app servers' processes and nginx's, summed, sampled every
0.2 s), the servers' CPU seconds over the drawing phase split by thread, nginx's and the client's own,
the load average, and how the sessions spread over the replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_classroom import MemorySampler, _rss_bytes, _tree  # noqa: E402

from bench.classroom_students import check_inputs, classroom  # noqa: E402
from bench.harness import ServerError, bench_env, find_nginx, start_topology, upstreams  # noqa: E402

TARGET_P95_MS = 1000.0
TARGET_RSS_GB = 3.0
NGINX_PROBLEMS = ("[error]", "[crit]", "[alert]", "[emerg]")


class ClusterMemory(MemorySampler):
    """The peak of the summed resident memory of several process trees (the app servers, nginx),
    sampled every `period` s; which processes the trees hold is re-read every 2 s (one /proc scan a root)."""

    def __init__(self, roots: list[int], period: float = 0.2):
        super().__init__(roots[0], period)
        self.roots = roots

    def run(self) -> None:
        pids, listed = [], -1e9
        while not self._stop_event.is_set():
            if time.monotonic() - listed > 2.0:
                pids, listed = [p for root in self.roots for p in _tree(root)], time.monotonic()
            self.peak = max(self.peak, _rss_bytes(pids))
            self._stop_event.wait(self.period)


def summarise(out: dict, server_log: str, proxy_problems: list[str] = ()) -> dict:
    """The class's figures: latencies (ms), errors (strings) and counts, from `classroom`'s result,
    the servers' logs (joined) and the proxy's problems (`stickiness`, its error log)."""
    teachers, students = out["teachers"], out["students"]
    ms = np.array([k.ms for s in students for k in s.strokes])
    wait_ms = np.array([k.wait_ms for s in students for k in s.strokes])
    errors = [f"{'teacher' if s.number < 0 else 'student'} {s.number}: {e}" for s in [*teachers, *students] for e in s.errors]
    errors += check_inputs([*teachers, *students])
    tracebacks = server_log.count("Traceback")
    errors += [f"server log: {tracebacks} traceback(s)"] if tracebacks else []
    errors += [f"proxy: {p}" for p in proxy_problems]
    return {"ms": ms, "wait_ms": wait_ms, "errors": errors, "answered": len(ms), "tracebacks": tracebacks,
            "warm_ms": [t.strokes[0].ms for t in teachers if t.strokes],
            "baseline_ms": np.array([k.ms for t in teachers for k in t.strokes[1:]]),
            "open": [s.open_s for s in students if s.open_s is not None]}


def stickiness(top, n: int) -> tuple[list[int], list[str]]:
    """Through nginx: how many student sessions (websockets) each replica held, and a problem for every
    route whose requests reached more than one replica, and each [error] or worse in nginx's error log."""
    lines = top.access_log(until=lambda lines: sum(upstreams(lines, path="/_stcore/stream").values()) >= n,
                           timeout_s=15.0)
    streams = upstreams(lines, path="/_stcore/stream")
    per_replica = [streams.get(url.removeprefix("http://"), 0) for url in top.replicas]
    problems = [] if sum(per_replica) == n else [f"{sum(per_replica)} websockets logged, {n} students"]
    routes = {m.split("route=", 1)[1].split()[0] for m in lines if "route=" in m}
    problems += [f"route {r} reached several replicas: {dict(upstreams(lines, r))}" for r in sorted(routes)
                 if len(upstreams(lines, r)) > 1]
    problems += [line for line in top.logs[-1].read_text(errors="replace").splitlines()
                 if any(p in line for p in NGINX_PROBLEMS)]
    return per_replica, problems


def code_version() -> str:
    """The commit the server ran, and whether the working tree differed from it (others' edits in progress)."""
    import subprocess

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]  # "XY path"
    head = git("rev-parse", "--short", "HEAD").strip()
    return head + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")


def report(args, n: int, out: dict, fig: dict, peak_bytes: int, spread: list[int] | None) -> dict:
    """Print one class's figures; returns its row for the knee table ({p95, ok, …})."""
    cores, wall = os.cpu_count() or 1, out["wall"]
    ms, errors = fig["ms"], fig["errors"]
    where = "one server" if args.replicas == 1 else f"{args.replicas} replicas behind nginx"
    print(f"# classroom over Streamlit's websocket protocol, {where}: {n} students, a stroke every "
          f"{args.period:g} s ± 0.5 s for {args.duration:g} s"
          + ("; each pad answers in the browser" if args.in_browser else "; the server answers every stroke"))
    print(f"{platform.node()}, {cores} CPUs, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
          f"load average at the end {out['load'][0]:.2f} / {out['load'][1]:.2f} / {out['load'][2]:.2f} (1/5/15 min)")
    print(f"code: {code_version()}")
    if fig["warm_ms"]:
        print("teachers' warm-up stroke before class (models load), one per replica: "
              + ", ".join(f"{v:.0f} ms" for v in fig["warm_ms"]))
    if len(fig["baseline_ms"]):
        b = fig["baseline_ms"]
        print(f"teachers alone, {len(b)} strokes (uncontended answer time): median {np.median(b):.0f} ms, max {b.max():.0f} ms")
    if fig["open"]:
        print(f"all pages opened in {out['open_s']:.1f} s (per page: median {np.median(fig['open']):.2f} s, "
              f"max {max(fig['open']):.2f} s)")
    if spread is not None:
        print("students' websockets per replica (nginx's access log): " + " / ".join(map(str, spread)))
    p50 = p95 = float("inf")
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
    server, client, proxy = out["server_cpu"], out["client_cpu"], out["proxy_cpu"]
    print(f"CPU seconds over the phase: servers {server:.1f} s ({server / wall:.2f} cores busy on average"
          + (f", {server / len(ms) * 1000:.0f} ms per stroke" if len(ms) else "")
          + (f"), nginx {proxy:.1f} s" if args.replicas > 1 else ")")
          + f", this client {client:.1f} s; the machine has {cores * wall:.0f} core-seconds in {wall:.0f} s")
    print("servers' CPU by thread: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in out["server_threads"] if sec >= 0.05))
    peak_gb = peak_bytes / 1e9
    print(f"peak memory (RSS, all the app servers' processes{' and nginx' if args.replicas > 1 else ''}): {peak_gb:.2f} GB")
    print(f"errors: {len(errors)}")
    for e in errors[:20]:
        print("  " + e)
    if len(errors) > 20:
        print(f"  … and {len(errors) - 20} more")
    checks = [(f"p95 ≤ {TARGET_P95_MS:.0f} ms", p95 <= TARGET_P95_MS, f"{p95:.0f} ms"),
              ("zero errors", not errors, str(len(errors))),
              (f"memory ≤ {TARGET_RSS_GB:g} GB", peak_gb <= TARGET_RSS_GB, f"{peak_gb:.2f} GB")]
    for name, ok, got in checks:
        print(f"target {name}: {'met' if ok else 'NOT met'} ({got})")
    print(flush=True)
    return {"students": n, "strokes": len(ms), "per_s": len(ms) / wall, "p50": p50, "p95": p95, "errors": len(errors),
            "gb": peak_gb, "cpu_ms": server / len(ms) * 1000 if len(ms) else float("nan"), "load": out["load"],
            "ok": all(ok for _, ok, _ in checks)}


def one_class(args, n: int, nginx: str | None) -> dict:
    """Fresh servers (and nginx), `n` students for `args.duration` s, the report; returns its row."""
    work = Path(tempfile.mkdtemp(prefix="bench-classroom-protocol-"))
    try:
        top = start_topology(args.replicas, work, nginx=nginx, env=bench_env())
    except ServerError as err:
        raise SystemExit(str(err)) from None
    sampler = ClusterMemory([p.pid for p in top.servers] + ([top.nginx.pid] if top.nginx else []))
    sampler.start()
    try:
        out = asyncio.run(classroom(top.base, [p.pid for p in top.servers], n, args.duration, args.period, args.seed,
                                    replicas=top.replicas, proxy_pids=[top.nginx.pid] if top.nginx else [],
                                    browser=args.in_browser))
        spread, proxy_problems = stickiness(top, n) if top.nginx else (None, [])
    finally:
        sampler.stop()
        top.stop()
    server_log = "\n".join(log.read_text(errors="replace") for log in top.logs[:args.replicas])
    fig = summarise(out, server_log, proxy_problems)
    row = report(args, n, out, fig, sampler.peak, spread)
    if fig["errors"]:
        print(f"logs kept: {work}\n")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return row


def knee_table(args, rows: list[dict]) -> None:
    where = "1 server" if args.replicas == 1 else f"{args.replicas} replicas behind nginx"
    print(f"# knee, {where}: a stroke every {args.period:g} s ± 0.5 s for {args.duration:g} s per count")
    print("| students | strokes/s | p50 | p95 | errors | server CPU per stroke | peak memory | load at the end (1/5/15 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['students']} | {r['per_s']:.1f} | {r['p50']:.0f} ms | {r['p95']:.0f} ms | {r['errors']} | "
              f"{r['cpu_ms']:.0f} ms | {r['gb']:.2f} GB | {' / '.join(f'{v:.2f}' for v in r['load'])} |")
    over = next((r["students"] for r in rows if r["p95"] > TARGET_P95_MS), None)
    under = [r["students"] for r in rows if r["p95"] <= TARGET_P95_MS and (over is None or r["students"] < over)]
    if over is None:
        print(f"knee: p95 stayed ≤ {TARGET_P95_MS:.0f} ms up to {rows[-1]['students']} students (beyond the counts run)")
    else:
        print(f"knee: p95 passes {TARGET_P95_MS:.0f} ms at {over} students"
              + (f" (≤ {TARGET_P95_MS:.0f} ms at {max(under)})" if under else " (already at the smallest count)"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--duration", "--seconds", type=float, default=60.0, help="seconds of drawing")
    parser.add_argument("--period", "--interval", type=float, default=2.0, help="seconds between one student's strokes")
    parser.add_argument("--replicas", type=int, default=1, help="1: one server, directly; N ≥ 2: N behind nginx")
    parser.add_argument("--knee", default="", help="student counts, e.g. 20,40,60,80,100: one class each (overrides --students)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-browser", action="store_true",
                        help="every student's pad runs the Draw models in the browser (its drawings say so, as "
                             "canvas.js's do once onnxruntime-web is ready): the server runs no model per stroke")
    args = parser.parse_args()
    counts = [int(c) for c in args.knee.split(",") if c.strip()] if args.knee else [args.students]
    if min(counts) < 1 or args.duration < 0 or args.period <= 0.5 or args.replicas < 1:
        raise SystemExit("need students ≥ 1, --duration ≥ 0, --period > 0.5 (strokes are period ± 0.5 s apart) "
                         "and --replicas ≥ 1")
    nginx = None
    if args.replicas > 1:
        nginx = find_nginx() or sys.exit("--replicas ≥ 2 needs nginx (Debian's nginx package): none on PATH or in /usr/sbin")

    rows = [one_class(args, n, nginx) for n in counts]
    if len(rows) > 1:
        knee_table(args, rows)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
