"""Benchmark: a classroom on one server. `--students` browser sessions (30) open the Draw page at
once, then each draws a stroke every ~2 s for `--seconds` (60). Targets (issue 8): p95 latency
≤ 1 s, zero errors, server memory ≤ 3 GB.

    python bench/bench_classroom.py
    python bench/bench_classroom.py --students 10 --seconds 30     # a smaller class

Starts `streamlit run app.py` on a free port and one headless Chromium (Debian's, via Playwright's
async API) with one browser context per student, so each is its own Streamlit session. Every stroke's
latency is measured inside that student's page exactly as bench_draw_latency.py does: from the
stroke's `pointerup` to the first animation frame that shows the new reconstructions. Strokes are
spaced 2 s ± 0.5 s apart per student (start to start; a student whose answer is late draws again
as soon as it arrives), the pad is cleared after every third stroke, and the start times are spread
over the first interval so the class is not artificially in lock-step. Before the class, a
"teacher" session draws once, so the models are loaded (that stroke is reported on its own).

Counted as errors: a stroke with no answer within 60 s, an exception box on a page, an uncaught
JavaScript error, a failed page load, and a "Traceback" in the server's log. The server's memory is
its resident set size (all its processes), sampled every 0.2 s. CPU seconds used by the server and
by the browser over the drawing phase are printed, to say which of them the 2 cores were busy with.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_draw_latency import AWAIT_ANSWER_JS, MEASURE_JS, PAD, strokes  # noqa: E402
from harness import start_server  # noqa: E402

from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, stop_server  # noqa: E402

try:
    from playwright.async_api import Error as PlaywrightError
except ImportError:  # reported in main()
    PlaywrightError = RuntimeError

TARGET_P95_MS = 1000.0
TARGET_RSS_GB = 3.0
ANSWER_TIMEOUT_MS = 30_000
LOAD_TIMEOUT_MS = 240_000  # 30 sessions arriving on a cold server queue behind the first model loads
VIEWPORT = {"width": 1200, "height": 900}
EXCEPTION = '[data-testid="stException"]'
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _tree(root_pid: int) -> list[int]:
    """root_pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            pass
    return total


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


class MemorySampler(threading.Thread):
    """Samples the resident memory of a process tree every `period` seconds; keeps the peak."""

    def __init__(self, root_pid: int, period: float = 0.2):
        super().__init__(daemon=True)
        self.root_pid, self.period, self.peak, self._stop_event = root_pid, period, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _rss_bytes(_tree(self.root_pid)))
            self._stop_event.wait(self.period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class Student:
    """One browser session on the Draw page: draws, waits for the answer, records latencies and errors."""

    def __init__(self, number: int, browser, base: str, rng: np.random.Generator):
        self.number, self.browser, self.base, self.rng = number, browser, base, rng
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.page = None

    async def open(self) -> float:
        """Open /draw; return seconds until the pad and the prompt are on screen."""
        t0 = time.perf_counter()
        context = await self.browser.new_context(viewport=VIEWPORT)
        self.page = await context.new_page()
        self.page.on("pageerror", lambda err: self.errors.append(f"JS error: {err}"))
        await self.page.add_init_script(MEASURE_JS)
        await self.page.goto(f"{self.base}/draw", wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
        await self.page.locator(PAD).first.wait_for(timeout=LOAD_TIMEOUT_MS)
        await self.page.get_by_text("Draw a digit on the canvas").wait_for(timeout=LOAD_TIMEOUT_MS)
        return time.perf_counter() - t0

    async def _draw(self, points: list[tuple[float, float]]) -> None:
        box = await self.page.locator(PAD).first.bounding_box()
        at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
        await self.page.mouse.move(*at[0])
        await self.page.mouse.down()
        for x, y in at[1:]:
            await self.page.mouse.move(x, y, steps=3)
        await self.page.mouse.up()

    async def _clear(self) -> None:
        await self.page.locator("button.ll-clear").click()
        await self.page.get_by_text("Draw a digit on the canvas").wait_for(timeout=ANSWER_TIMEOUT_MS)

    async def draw_for(self, seconds: float, interval: float, my_strokes: list) -> None:
        await asyncio.sleep(self.rng.uniform(0, interval))  # spread the class's first strokes
        end = time.perf_counter() + seconds
        i = 0
        while i == 0 or time.perf_counter() < end:  # at least one stroke
            started = time.perf_counter()
            try:
                if i and i % 3 == 0:
                    await self._clear()
                await self.page.evaluate("window.__llAnswered = null")
                await self._draw(my_strokes[i % len(my_strokes)])
                result = await self.page.evaluate(AWAIT_ANSWER_JS)  # MEASURE_JS gives up after 60 s
                if result["ms"] is None:
                    self.errors.append(f"stroke {i}: no answer within 60 s")
                else:
                    self.latencies.append(result["ms"])
                if await self.page.locator(EXCEPTION).count():
                    self.errors.append(f"stroke {i}: an exception is shown on the page")
            except PlaywrightError as err:  # a timeout or a closed page: count it, keep drawing
                self.errors.append(f"stroke {i}: {type(err).__name__}: {str(err).splitlines()[0]}")
            i += 1
            await asyncio.sleep(max(0.0, interval + self.rng.uniform(-0.5, 0.5) - (time.perf_counter() - started)))


async def classroom(base: str, server_pid: int, n: int, seconds: float, interval: float, seed: int) -> dict:
    from playwright.async_api import async_playwright

    rng = np.random.default_rng(seed)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # The teacher opens the page and draws once before class: the models load and warm up then
        # (reported separately), as they would on a server started before the lesson.
        teacher = Student(-1, browser, base, np.random.default_rng([seed, 1]))
        await teacher.open()
        await teacher.draw_for(0.0, 0.0, strokes(1, seed + 999))
        await teacher.page.context.close()
        students = [Student(k, browser, base, np.random.default_rng([seed, 2, k])) for k in range(n)]
        t0 = time.perf_counter()
        loads = await asyncio.gather(*(s.open() for s in students), return_exceptions=True)
        open_s = time.perf_counter() - t0
        for s, load in zip(students, loads, strict=True):
            if isinstance(load, BaseException):
                s.errors.append(f"page load failed: {type(load).__name__}: {str(load).splitlines()[0]}")
        ready = [s for s, load in zip(students, loads, strict=True) if not isinstance(load, BaseException)]
        load_s = [load for load in loads if not isinstance(load, BaseException)]

        def cpu() -> tuple[float, float]:
            """(server, browser) CPU seconds; the browser is Playwright's driver and Chromium, which like
            the server are this process's descendants."""
            server = set(_tree(server_pid))
            others = [p for p in _tree(os.getpid()) if p != os.getpid() and p not in server]
            return _cpu_seconds(list(server)), _cpu_seconds(others)

        cpu0 = cpu()
        t1 = time.perf_counter()
        pool = strokes(60, seed)
        await asyncio.gather(*(s.draw_for(seconds, interval, [pool[j] for j in rng.permutation(len(pool))])
                               for s in ready))
        wall = time.perf_counter() - t1
        cpu1 = cpu()
        await browser.close()
    return {
        "teacher": teacher, "students": students, "open_s": open_s, "load_s": load_s, "wall": wall,
        "server_cpu": cpu1[0] - cpu0[0], "browser_cpu": cpu1[1] - cpu0[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one student's strokes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install chromium")

    port = free_port()
    proc, log = start_server(port, prefix="bench-classroom-")
    sampler = MemorySampler(proc.pid)
    sampler.start()
    try:
        out = asyncio.run(classroom(f"http://127.0.0.1:{port}", proc.pid, args.students, args.seconds,
                                    args.interval, args.seed))
    finally:
        sampler.stop()
        stop_server(proc)
    server_log = log.read_text(errors="replace")
    tracebacks = server_log.count("Traceback")

    students = out["students"]
    ms = np.array([v for s in students for v in s.latencies])
    errors = [f"student {s.number}: {e}" for s in [out["teacher"], *students] for e in s.errors]
    errors += [f"server log: {tracebacks} traceback(s), see {log}"] if tracebacks else []
    print(f"# classroom: {args.students} students, a stroke every {args.interval:g} s ± 0.5 s for {args.seconds:g} s")
    print(f"{platform.node()}, {os.cpu_count()} CPUs, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    if out["teacher"].latencies:
        print(f"teacher's warm-up stroke before class (models load): {out['teacher'].latencies[0]:.0f} ms")
    if out["load_s"]:
        print(f"all pages opened in {out['open_s']:.1f} s (per page: median {np.median(out['load_s']):.1f} s, "
              f"max {max(out['load_s']):.1f} s)")
    if len(ms):
        p50, p95 = np.percentile(ms, [50, 95])
        print(f"strokes answered: {len(ms)} ({len(ms) / out['wall']:.1f} per second)")
        print(f"latency mouse-up → reconstructions on screen: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {ms.max():.0f} ms "
              f"(target p95 ≤ {TARGET_P95_MS:.0f} ms)")
    else:
        p95 = float("inf")
        print("no stroke was answered")
    peak_gb = sampler.peak / 1e9
    print(f"server peak memory (RSS): {peak_gb:.2f} GB (target ≤ {TARGET_RSS_GB:g} GB)")
    print(f"CPU seconds over the {out['wall']:.0f} s drawing phase: server {out['server_cpu']:.0f} s, "
          f"browser {out['browser_cpu']:.0f} s (the machine has {os.cpu_count()} cores: "
          f"{os.cpu_count() * out['wall']:.0f} core-seconds)")
    print(f"errors: {len(errors)}")
    for e in errors[:20]:
        print("  " + e)
    if not tracebacks:
        log.unlink(missing_ok=True)
    return 0 if (p95 <= TARGET_P95_MS and not errors and peak_gb <= TARGET_RSS_GB) else 1


if __name__ == "__main__":
    sys.exit(main())
