"""End to end in a real Chromium: on the Anomalies page, move the threshold slider with the
keyboard (focus its thumb, press arrow keys) and see precision, recall, F1 and the false-positive
rate follow, the right way, with no exception."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/anomaly_e2e.png"  # the final page, pass or fail
FIRST_RUN_MS = 180_000  # the first visit loads TensorFlow and a one-class VAE and scores ~10 000 images
SLIDER = '[class*="st-key-an_threshold_"]'  # the key names the model, data and score, so match its start
RUNNING = '[data-testid="stStatusWidget"]'  # Streamlit's "Running…" indicator
THRESHOLD_USED = ".st-key-an_threshold_used"  # the caption naming the threshold the metrics were computed at
METRICS = ("Precision", "Recall", "F1", "False-positive rate", "AUROC")

READ_METRICS_JS = """() => Object.fromEntries(
    Array.from(document.querySelectorAll('[data-testid="stMetric"]'), m => [
        m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
        m.querySelector('[data-testid="stMetricValue"]').innerText.trim(),
    ]))"""


def open_anomaly_page(page, base_url: str) -> None:
    """Follow the sidebar navigation from the home page, as a student would."""
    page.goto(base_url, wait_until="domcontentloaded")
    page.get_by_text("Latent Lab").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Anomalies").click()
    _thumb(page).wait_for(state="attached", timeout=FIRST_RUN_MS)
    page.locator('[data-testid="stMetric"]').nth(len(METRICS) - 1).wait_for(timeout=FIRST_RUN_MS)


def read_metrics(page) -> dict[str, float]:
    shown = page.evaluate(READ_METRICS_JS)
    assert set(METRICS) <= set(shown), shown
    return {k: float(shown[k]) for k in METRICS}


def _thumb(page):
    """The slider's thumb: a visually hidden <input type="range"> (implicit ARIA role "slider") that
    takes focus and arrow keys; its value is the threshold."""
    return page.locator(SLIDER).get_by_role("slider")


def move_threshold(page, key: str, presses: int) -> dict[str, float]:
    """Focus the slider's thumb, press `key` `presses` times, and return the metrics once the page
    shows the figures for the thumb's final value. The key presses may reach the server as several
    reruns, and on a loaded machine a pause between two of them looks like a settled page, so this
    waits for the threshold the figures say they were computed at ("At threshold t = …") to be the
    thumb's own, with no run in progress."""
    thumb = _thumb(page)
    start = float(thumb.input_value())
    thumb.focus()
    for _ in range(presses):
        page.keyboard.press(key)
    moved = float(thumb.input_value())
    assert (moved > start) if key == "ArrowRight" else (moved < start), (key, start, moved)
    shown = page.locator(THRESHOLD_USED)
    expected = f"At threshold t = {moved:.4f}:"
    deadline = time.monotonic() + 60
    while not (expected in shown.inner_text() and not page.locator(RUNNING).count()):
        assert time.monotonic() < deadline, (expected, shown.inner_text())
        page.wait_for_timeout(100)
    assert float(thumb.input_value()) == moved  # the thumb stayed where the keys left it
    return read_metrics(page)


def test_moving_the_threshold_updates_the_metrics(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    try:
        _check_threshold_moves(page, streamlit_server)
    finally:
        page.screenshot(path=SCREENSHOT, full_page=True)
        keyed = page.evaluate("() => Array.from(document.querySelectorAll('[class*=\"st-key-an_\"]'), e => e.className.match(/st-key-\\S+/)[0])")
        print(f"screenshot: {SCREENSHOT}; keyed elements: {keyed}\nserver log tail:\n{streamlit_server.log_tail(1500)}")


def _check_threshold_moves(page, streamlit_server) -> None:
    open_anomaly_page(page, streamlit_server)
    start = read_metrics(page)
    assert 0.8 < start["AUROC"] < 0.99  # the default: a one-class model of a digit against the other digits (overlap)
    assert start["False-positive rate"] == pytest.approx(0.05, abs=0.02)  # default: validation 95th percentile

    # Raise the threshold by 40 of its 500 steps: fewer images flagged.
    higher = move_threshold(page, "ArrowRight", 40)
    assert higher["False-positive rate"] < start["False-positive rate"]
    assert higher["Precision"] > start["Precision"] and higher["Recall"] <= start["Recall"]
    # Lower it well below the start: many more normal images flagged, no anomaly caught less.
    lower = move_threshold(page, "ArrowLeft", 120)
    assert lower["False-positive rate"] > start["False-positive rate"]
    assert lower["Precision"] < start["Precision"] and lower["Recall"] >= start["Recall"]
    assert len({m["F1"] for m in (start, higher, lower)}) == 3  # F1 follows precision and recall
    assert start["AUROC"] == higher["AUROC"] == lower["AUROC"]  # the ROC does not depend on the threshold

    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Something went wrong" not in page.locator("body").inner_text()
    assert not page.js_errors
