"""End to end in a real Chromium: on the Train page, start the quick preset and watch the progress
bar move (its aria-valuenow and its "Epoch e/E · step s/S" text), then the run finish and be saved.

The server's model cache is the test session's throw-away directory (tests/conftest.py sets
LATENT_LAB_CACHE before the server starts), so the preset really trains here.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE_TIMEOUT_MS = 60_000  # the first visit imports TensorFlow; the machine may be busy
TRAIN_TIMEOUT_S = 240  # the quick preset takes ~15–30 s alone; generous for a loaded 2-core machine
PROGRESS = '[data-testid="stProgress"]'
STEP_TEXT = re.compile(r"Epoch (\d+)/(\d+) · step (\d+)/(\d+)")

READ_PROGRESS_JS = """(sel) => {
    const box = document.querySelector(sel);
    const bar = box && box.querySelector('[role="progressbar"]');
    return box && bar ? {now: Number(bar.getAttribute('aria-valuenow')), text: box.innerText} : null;
}"""


def open_train_page(page, base_url: str) -> None:
    """Follow the sidebar navigation from the home page, as a student would."""
    page.goto(base_url, wait_until="domcontentloaded")
    page.get_by_text("Latent Lab").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train").click()
    page.get_by_text("Training lab").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_text("Choose settings and press").wait_for(timeout=PAGE_TIMEOUT_MS)


def test_quick_preset_progress_moves_then_completes(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    open_train_page(page, streamlit_server)
    # The preset box starts on the quick preset; its settings line says what will train.
    assert page.get_by_text(re.compile(r"Settings: vae z=\d+")).count() == 1

    page.get_by_role("button", name=re.compile("Start training")).click()
    samples: list[tuple[float, str]] = []  # (aria-valuenow 0..100, bar text) each time it changed
    done = page.get_by_text(re.compile(r"Done in \d+ s"))
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline and done.count() == 0:
        assert page.locator('[data-testid="stException"]').count() == 0, streamlit_server.log_tail()
        now = page.evaluate(READ_PROGRESS_JS, PROGRESS)
        if now is not None and (not samples or samples[-1] != (now["now"], now["text"])):
            samples.append((now["now"], now["text"]))
        page.wait_for_timeout(250)  # the page's live panel polls the job every 0.7 s
    assert done.count() == 1, f"no 'Done' after {TRAIN_TIMEOUT_S} s; progress seen: {samples[-3:]}\n{streamlit_server.log_tail()}"

    # The bar moved forward while training: several distinct values, never backwards, and the
    # text named epochs and steps consistent with the bar.
    values = [v for v, _ in samples]
    stepped = [(v, STEP_TEXT.search(t)) for v, t in samples if STEP_TEXT.search(t)]
    assert len(set(values)) >= 3, f"the progress bar barely moved: {samples}"
    assert values == sorted(values), f"the progress bar went backwards: {values}"
    assert len(stepped) >= 2 and stepped[0][0] < stepped[-1][0] <= 100, samples  # the first steps may round to 0 %
    e, epochs, s, steps = (int(g) for g in stepped[-1][1].groups())
    assert stepped[-1][0] == pytest.approx(100 * ((e - 1) * steps + s) / (epochs * steps), abs=1.0)
    assert "left" in stepped[-1][1].string  # the time-remaining estimate

    # Finished: the bar is gone, the success names the model, the losses and reconstructions are drawn.
    assert page.locator(PROGRESS).count() == 0
    assert "can be chosen on the other pages" in done.inner_text()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.nth(1).wait_for(timeout=30_000)
    assert page.get_by_text(re.compile(r"Reconstructions after epoch \d+")).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors
