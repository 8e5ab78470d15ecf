"""Server time per interaction: how long one rerun of each page takes once models are loaded.

    python bench/bench_server_time.py [--reruns 20] [--pages latent,upload]

Runs each page in Streamlit's AppTest (the real script, no browser), warms it up once (models and
cached scores load), then times `--reruns` reruns that each do what a user most often does on that
page (the INTERACTIONS table says what). AppTest reruns the whole page, also where the live server
would rerun only a fragment (Draw's pad, Anomalies' threshold, a Latent map click), so these are the
upper bound of a live interaction. All pages run in one process, as on a server. Prints p50 / p95 in
milliseconds per page. Goal (issue 8.2): ≤ 100 ms.

AppTest gives every run a fresh ScriptCache, so each timed rerun also reads and compiles the page
script (with Streamlit's magic pass: ~25 ms for the Latent page, ~5–15 ms for the others), which a
server does once per process (its Runtime keeps one ScriptCache for all sessions). By default this
script shares one cache across the process, as a server does, so it measures the server's own work;
`--fresh-script-cache` keeps AppTest's behaviour (comparable with figures taken before 2026-11-26 05:40).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LATENT_LAB_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class Interaction:
    page: str  # the page file, as st.navigation names it
    what: str  # the interaction, in words (printed beside the figures)
    setup: Callable  # at → None: brings the page to the state the interaction starts from
    act: Callable  # (at, i) → None: interaction number i (a different value each time), then the rerun


def _threshold(at):
    return next(s for s in at.slider if s.key.startswith("an_threshold_"))


def _home_warmed_up(at) -> None:
    """Wait for the Home page's background warm-up (TensorFlow and four models, once per process):
    the reruns measured are those after it, as on a server that has been up for a minute."""
    from views.common import warm_up_in_background

    warm_up_in_background().join()


INTERACTIONS = {
    "home": Interaction("views/home.py", "rerun", _home_warmed_up, lambda at, i: at.run()),
    "draw": Interaction(
        "views/draw.py", "another example digit",
        lambda at: at.toggle(key="draw_use_example").set_value(True).run(),
        lambda at, i: at.number_input(key="draw_example_index").set_value(i).run(),
    ),
    "denoise": Interaction(
        "views/denoise.py", "noise σ slider", lambda at: None,
        lambda at, i: at.slider(key="dn_level_gaussian").set_value(round(0.05 * (i % 20), 2)).run(),
    ),
    "anomaly": Interaction(
        "views/anomaly.py", "threshold slider", lambda at: None,
        lambda at, i: _threshold(at).set_value(_threshold(at).min * (1 + 0.01 * i)).run(),
    ),
    # Interpolation steps: a slider of section 4 (the map's hover and click are bench_latent_hover.py's; in AppTest
    # it would rerun the same whole page).
    "latent": Interaction(
        "views/latent.py", "interpolation steps slider", lambda at: None,
        lambda at, i: at.slider(key="lt_steps").set_value(2 + i % 31).run(),
    ),
    # Custom settings while no job runs: the form's epochs slider (the live panel polls only while
    # a job is watched).
    "train": Interaction(
        "views/train.py", "epochs slider (custom, idle)",
        lambda at: at.selectbox(key="tr_preset").set_value("Custom…").run(),
        lambda at, i: at.slider(key="tr_epochs").set_value(1 + i % 30).run(),
    ),
    # A phone photo already processed, then any rerun (AppTest cannot drive st.file_uploader; the
    # sample buttons feed files through the same path). Pressing the picked sample again changes
    # nothing but reruns the page with the photo on it.
    "upload": Interaction(
        "views/upload.py", "rerun with a processed photo",
        lambda at: at.button(key="up_sample_paper_photo").click().run(),
        lambda at, i: at.button(key="up_sample_paper_photo").click().run(),
    ),
}


def percentile(sorted_times: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    return sorted_times[min(len(sorted_times) - 1, round(q / 100 * (len(sorted_times) - 1)))]


def _share_script_cache() -> None:
    """Make AppTest's runs share one ScriptCache (compiled page bytecode), as a server's runs do."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


def main() -> None:
    from streamlit.testing.v1 import AppTest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--pages", default=",".join(INTERACTIONS),
                        help=f"comma-separated subset of: {', '.join(INTERACTIONS)} (default: all)")
    parser.add_argument("--fresh-script-cache", action="store_true",
                        help="recompile the page on every run, as AppTest does (default: once per process, as a server)")
    args = parser.parse_args()
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = [p for p in pages if p not in INTERACTIONS]
    if unknown or not pages:
        parser.error(f"unknown page(s) {', '.join(unknown) or '(none given)'}; valid pages: {', '.join(INTERACTIONS)}")
    if args.reruns < 1:
        parser.error(f"--reruns must be ≥ 1, got {args.reruns}")

    if not args.fresh_script_cache:
        _share_script_cache()
    cache = "AppTest's fresh script cache per run" if args.fresh_script_cache else "one script cache per process (as a server)"
    print(f"# server time per interaction — {platform.node()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, {cache}")
    for name in pages:
        it = INTERACTIONS[name]
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        at.switch_page(it.page).run()
        it.setup(at)
        it.act(at, 0)  # warm: models, caches
        assert not at.exception, at.exception
        times = []
        for i in range(1, args.reruns + 1):
            t0 = time.perf_counter()
            it.act(at, i)
            times.append(1000 * (time.perf_counter() - t0))
            assert not at.exception, at.exception
        times.sort()
        print(f"{it.page:<20} p50 {statistics.median(times):7.1f} ms   p95 {percentile(times, 95):7.1f} ms   "
              f"(n={len(times)}; {it.what})", flush=True)


if __name__ == "__main__":
    main()
