"""Server time per interaction: how long one rerun of each page takes once models are loaded.

    python bench/bench_server_time.py [--reruns 20]

Runs each page in Streamlit's AppTest (the real script, no browser), warms it up once (models and
cached scores load), then times `--reruns` reruns that change a widget the way a user would.
Prints p50 / p95 in milliseconds per page. Goal (issue 8): ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LATENT_LAB_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _interactions():
    """page → (set-up, one interaction given the rerun number)."""
    return {
        "views/home.py": (lambda at: None, lambda at, i: at.run()),
        "views/draw.py": (
            lambda at: at.toggle(key="draw_use_example").set_value(True).run(),
            lambda at, i: at.number_input(key="draw_example_index").set_value(i).run(),
        ),
        "views/denoise.py": (
            lambda at: None,
            lambda at, i: at.slider(key="dn_level_gaussian").set_value(round(0.05 * (i % 20), 2)).run(),
        ),
        "views/anomaly.py": (
            lambda at: None,
            lambda at, i: next(s for s in at.slider if s.key.startswith("an_threshold_")).set_value(
                next(s for s in at.slider if s.key.startswith("an_threshold_")).min * (1 + 0.01 * i)).run(),
        ),
    }


def main() -> None:
    from streamlit.testing.v1 import AppTest

    parser = argparse.ArgumentParser()
    parser.add_argument("--reruns", type=int, default=20)
    args = parser.parse_args()
    print(f"# server time per interaction — {platform.node()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}")
    for page, (setup, interact) in _interactions().items():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        at.switch_page(page).run()
        setup(at)
        interact(at, 0)  # warm: models, caches
        times = []
        for i in range(1, args.reruns + 1):
            t0 = time.perf_counter()
            interact(at, i)
            times.append(1000 * (time.perf_counter() - t0))
            assert not at.exception, at.exception
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"{page:<20} p50 {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms   (n={len(times)})")


if __name__ == "__main__":
    main()
