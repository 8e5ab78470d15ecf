"""Benchmark: does a class that trains stall the class that draws? (issue 14)

    flock /tmp/latentlab-cpu.lock python bench/bench_train_load.py
    flock /tmp/latentlab-cpu.lock python bench/bench_train_load.py --strokes 30 --students 4

In one run, on one fresh `streamlit run app.py` (its model cache a new empty directory, so the presets
really train) and Debian's headless Chromium:
1. solo times: each of the first K presets that do not ship trained (the lesson's does) trained alone by a `python -m core worker` on another empty
   cache (the same worker settings as the app's), submit → done;
2. idle: a student opens the Draw page (time until the pad is on screen) and draws `--strokes` strokes;
   mouse-up → reconstructions on screen, measured in the browser as bench_draw_latency.py does. With
   `--path server` (the default) the pad's in-browser runtime is blocked, so the server answers every
   stroke: that is what training could stall. `--path browser` lets the pad answer (on this machine its
   Chromium then shares the two cores with the worker, which a student's own computer would not).
   `--client protocol` draws the same way over Streamlit's websocket protocol instead of in Chromium
   (bench/classroom_students.py's student, server path): latency at the server's door, BackMsg sent →
   the fragment run finished, with no browser on this machine competing while the jobs train;
3. under load: K students, each in their own browser session, open the Train page, start K different
   presets and leave the page (to draw, in class); then a fresh student opens the Draw page and draws the
   same strokes while the jobs train;
4. the K jobs finish: wall time from the first Start to the last "Done", against the sum of solo times.

Goals: p95 under load ≤ 1.3 × idle p95 and ≤ 250 ms; the pad on screen ≤ 5 s under load; all K jobs
finish within the sum of their solo times + 15 %. Prints the figures with the machine, date and load
average (other work on the machine inflates them). Exits with status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_draw_latency import PAUSE_MS, answered, drawn, open_draw_page  # noqa: E402
from harness import SHARED_DATA, server_and_chromium  # noqa: E402

from tests.browser_support import CHROMIUM, VIEWPORT  # noqa: E402

P95_RATIO, P95_MAX_MS, PAD_MAX_S, JOBS_SLACK = 1.3, 250.0, 5.0, 1.15
TRAIN_TIMEOUT_S = 1800


def solo_times(presets: list[str]) -> dict[str, float]:
    """Each preset trained alone by a worker process on an empty cache: seconds from submit to done."""
    from core.lab.presets import PRESETS
    from core.serving.queue import QueueConfig, TrainingQueue

    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-solo-") as tmp:
        config = QueueConfig(cache_dir=Path(tmp) / "cache")
        queue = TrainingQueue(config)
        log = Path(tmp) / "worker.log"
        worker = subprocess.Popen([sys.executable, "-m", "core", "worker", "--parent-pid", str(os.getpid())], cwd=ROOT, env={**os.environ, **config.to_env()},
                                  stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            while "serving " not in log.read_text():  # TensorFlow imported: as on a running server
                time.sleep(0.2)
            for name in presets:
                t0 = time.perf_counter()
                job_id = queue.submit(PRESETS[name], session="bench")
                while (job := queue.job(job_id)).active:
                    time.sleep(0.1)
                if job.state != "done":
                    raise SystemExit(f"solo {name!r} ended {job.state}: {job.error}")
                out[name] = time.perf_counter() - t0
                print(f"solo: {name}: {out[name]:.1f} s", flush=True)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    return out


def draw_strokes(page, n: int, seed: int) -> np.ndarray:
    """Two warm-up strokes (not counted), then `n` strokes; mouse-up → answer on screen, in ms."""
    ms = []
    for i in drawn(page, n, seed):
        result = answered(page)
        if result["ms"] is None:
            raise SystemExit(f"stroke {i} got no answer within 60 s")
        ms.append(result["ms"])
    return np.array(ms)


def protocol_strokes(base: str, n: int, seed: int) -> tuple[float, np.ndarray]:
    """A fresh protocol session on the Draw page (classroom_students.Student, the server answering):
    two warm-up strokes, then `n` counted ones, PAUSE_MS after each answer. Returns (seconds until the
    page showed the pad's prompt, ms BackMsg sent → fragment run finished per counted stroke)."""
    from classroom_students import Student, lesson

    async def draw() -> Student:
        student = Student(0, base, lesson(2 + n, seed, int(time.time() * 1000)), np.random.default_rng(seed))
        await student.open()
        await student.draw_each(pause=PAUSE_MS / 1000)
        student.finish()
        await student.session.close()
        return student

    # Its own thread, so its event loop never meets the sync Playwright driving the Train pages.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        student = pool.submit(asyncio.run, draw()).result()
    if student.errors or len(student.strokes) != 2 + n:
        raise SystemExit(f"the drawing student's session failed: {student.errors[:5]}")
    return student.open_s, np.array([stroke.ms for stroke in student.strokes[2:]])


def open_pad(browser, base: str, path: str):
    """A fresh session's Draw page, answered by `path` ("server" or "browser"); returns (page, seconds
    until the pad is on screen and that path answers)."""
    t0 = time.perf_counter()
    page = open_draw_page(browser, base, path=path)
    return page, time.perf_counter() - t0


def open_train_page(browser, base: str, preset: str):
    """A student in their own browser session opens the Train page and picks `preset`."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{base}/train", wait_until="domcontentloaded")
    page.get_by_text("Choose settings and press").wait_for(timeout=120_000)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=preset).click()
    page.get_by_text(re.compile(r"^Settings: ")).first.wait_for(timeout=30_000)
    return page


def press_start(page) -> None:
    """Start, see the run queued or started, then leave the page (the student goes on to draw; the job
    runs on in the queue). Also keeps this machine's Chromium from redrawing four live charts: in a class
    each student's browser runs on their own computer, not beside the server."""
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.get_by_text(re.compile("Waiting in the training queue|Epoch \\d+/|Preparing data")).first.wait_for(timeout=60_000)
    page.goto("about:blank")


def wait_for_worker(log: Path, timeout_s: float = 300) -> None:
    """Until the server's supervised worker has imported TensorFlow and serves the queue (its log line)."""
    deadline = time.monotonic() + timeout_s
    while "serving " not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the app's training worker did not start; server log: {log}")
        time.sleep(0.2)


def main() -> int:
    from core.lab.presets import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--students", type=int, default=4, help="students training at once (different presets)")
    parser.add_argument("--path", choices=("server", "browser"), default="server",
                        help="who answers the strokes: the server (the pad's runtime blocked; what training could "
                             "stall) or the pad in the browser (on this machine its Chromium shares the cores)")
    parser.add_argument("--client", choices=("chromium", "protocol"), default="chromium",
                        help="who draws: a student in Chromium (mouse-up → on screen) or a Streamlit protocol "
                             "session (BackMsg → run finished, the server path; no browser on this machine)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    os.environ.setdefault("LATENT_LAB_DATA", str(SHARED_DATA))
    from core.serving.store import ModelStore

    shipped = ModelStore(cache_dir=Path(tempfile.mkdtemp()), allow_training=False)  # presets that ship are never trained
    presets = [name for name, spec in PRESETS.items() if not shipped.available(spec)][: args.students]
    solo = solo_times(presets)

    os.environ["LATENT_LAB_CACHE"] = tempfile.mkdtemp(prefix="bench-train-load-cache-")  # the server trains afresh
    with server_and_chromium("bench-train-load-") as (browser, base, log):
        def draw() -> tuple[float, np.ndarray]:
            if args.client == "protocol":
                return protocol_strokes(base, args.strokes, args.seed)
            page, pad_s = open_pad(browser, base, args.path)
            ms = draw_strokes(page, args.strokes, args.seed)
            page.close()
            return pad_s, ms

        idle_pad_s, idle = draw()
        print(f"idle: pad on screen {idle_pad_s:.1f} s; p50 {np.percentile(idle, 50):.0f} ms, p95 {np.percentile(idle, 95):.0f} ms", flush=True)

        from core.serving.queue import TrainingQueue

        queue = TrainingQueue()  # the server's queue (same LATENT_LAB_CACHE), read to see the jobs finish
        trainers = [open_train_page(browser, base, name) for name in presets]
        wait_for_worker(log)  # the first Train page started it; a running class has had it for long
        t_start = time.perf_counter()
        for trainer in trainers:
            press_start(trainer)
        load_pad_s, loaded = draw()
        jobs_active = sum(j.active for j in queue.jobs())
        print(f"under load ({jobs_active} of {len(trainers)} jobs still queued or running at the last stroke): pad on screen "
              f"{load_pad_s:.1f} s; p50 {np.percentile(loaded, 50):.0f} ms, p95 {np.percentile(loaded, 95):.0f} ms", flush=True)

        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while any(j.active for j in queue.jobs()):
            if time.monotonic() > deadline:
                raise SystemExit(f"the jobs did not finish in {TRAIN_TIMEOUT_S} s; server log: {log}")
            time.sleep(0.5)
        all_done_s = time.perf_counter() - t_start
        jobs = queue.jobs()
        if any(j.state != "done" for j in jobs):
            raise SystemExit(f"not every job finished: {[(j.spec.label, j.state, j.error) for j in jobs]}")
        ran = {j.spec: j.elapsed for j in jobs}

    idle_p95, load_p95 = np.percentile(idle, 95), np.percentile(loaded, 95)
    budget = JOBS_SLACK * sum(solo.values())
    goals = {f"p95 under load ≤ {P95_RATIO} × idle p95 ({P95_RATIO * idle_p95:.0f} ms)": load_p95 <= P95_RATIO * idle_p95,
             f"p95 under load ≤ {P95_MAX_MS:.0f} ms": load_p95 <= P95_MAX_MS,
             f"pad on screen under load ≤ {PAD_MAX_S:.0f} s": load_pad_s <= PAD_MAX_S,
             f"{len(presets)} jobs done ≤ solo sum + 15 % ({budget:.0f} s)": all_done_s <= budget}
    path = "server path, protocol client" if args.client == "protocol" else f"{args.path} path, Chromium"
    print(f"\n# draw latency ({path}) while {len(presets)} students train — {platform.node()}, {os.cpu_count()} CPUs, "
          f"{datetime.datetime.now():%Y-%m-%d %H:%M}, load average {os.getloadavg()[0]:.2f}")
    print(f"idle:       pad {idle_pad_s:4.1f} s · {len(idle)} strokes p50 {np.percentile(idle, 50):4.0f} ms, p95 {idle_p95:4.0f} ms, max {idle.max():4.0f} ms")
    print(f"under load: pad {load_pad_s:4.1f} s · {len(loaded)} strokes p50 {np.percentile(loaded, 50):4.0f} ms, p95 {load_p95:4.0f} ms, max {loaded.max():4.0f} ms")
    print(f"jobs: {len(presets)} presets done {all_done_s:.0f} s after the first Start; each ran "
          + " + ".join(f"{ran[PRESETS[n]]:.0f}" for n in presets) + " s; solo " + " + ".join(f"{s:.0f}" for s in solo.values())
          + f" = {sum(solo.values()):.0f} s")
    for goal, met in goals.items():
        print(f"  {'✓' if met else '✗'} {goal}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
