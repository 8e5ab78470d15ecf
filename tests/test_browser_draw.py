"""End to end in a real Chromium: draw on the Draw page's canvas with the mouse; the reconstructions follow.

Runs the app with `streamlit run` and drives Debian's /usr/bin/chromium through Playwright
(see tests/browser_support.py). The final page is saved to /tmp/draw_e2e.png, pass or fail.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.browser_support import browser_page, chromium, streamlit_server  # noqa: F401

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # skipped locally, an error on CI (like a missing Chromium)
    if os.environ.get("CI"):
        raise
    pytest.skip("the playwright Python package is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/draw_e2e.png"
PAGE_TIMEOUT_MS = 60_000  # first load imports TensorFlow; the machine may be busy
RECONSTRUCT_TIMEOUT_MS = 60_000  # the first drawing also loads three Keras models
CANVAS_SELECTOR = "canvas.upper-canvas"  # Fabric.js draws on the upper canvas; the lower one shows the result
EXCEPTION = '[data-testid="stException"]'
ERROR_RE = re.compile(r"error\s*(\d+(?:\.\d+)?)")

# Strokes in canvas pixels (the canvas is 280×280): a "1", then the bar and stem that turn it into a "4"-ish shape.
STROKE_ONE = [(150, 40), (148, 100), (145, 160), (142, 240)]
STROKE_TWO = [(70, 50), (60, 140), (120, 150), (220, 145)]

# The reconstructions chart as the browser has it: the subplot titles (Plotly annotations; the "<br>" becomes two
# tspans, so textContent reads "…codeerror 0.123") and a fingerprint of each panel's pixels (the heatmap's z values).
READ_CHART_JS = """
() => {
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const titles = Array.from(chart.querySelectorAll('.annotation-text'), a => a.textContent);
    if (!titles.some(t => t.includes('what the model sees'))) continue;
    const plot = chart.querySelector('.js-plotly-plot');
    const sums = ((plot && plot.data) || []).map(trace => {
      let s = 0;
      for (const row of trace.z || []) for (const v of row) s += Number(v) || 0;
      return Math.round(s * 1000) / 1000;
    });
    return {titles, sums};
  }
  return null;
}
"""

# Wait until the chart shows three titled errors and, if `previous` is given, differs from it.
CHART_READY_JS = (
    """
(previous) => {
  const read = """
    + READ_CHART_JS
    + """;
  if (document.querySelector('[data-testid="stException"]')) return {exception: true};
  const now = read();
  if (!now) return false;
  const errors = now.titles.filter(t => /error\\s*\\d/.test(t));
  if (errors.length !== 3) return false;
  if (previous && JSON.stringify(previous) === JSON.stringify(now)) return false;
  return now;
}
"""
)


def _canvas(page):
    """The drawable canvas: in the page (components v2, inside a shadow root) or in a component iframe (v1)."""
    page.wait_for_function(
        """(sel) => {
             const find = (root) => {
               if (root.querySelector(sel)) return true;
               for (const el of root.querySelectorAll('*')) if (el.shadowRoot && find(el.shadowRoot)) return true;
               return false;
             };
             return find(document) || document.querySelectorAll('iframe').length > 0;
           }""",
        arg=CANVAS_SELECTOR,
        timeout=PAGE_TIMEOUT_MS,
    )
    inline = page.locator(CANVAS_SELECTOR)  # Playwright's CSS engine pierces open shadow roots
    if inline.count():
        return inline.first
    frame = page.frame_locator("iframe").locator(CANVAS_SELECTOR).first  # bounding_box() is in page coordinates
    frame.wait_for(timeout=PAGE_TIMEOUT_MS)
    return frame


def _stroke(page, canvas, points, steps=6):
    """Press the mouse at the first point, drag through the others in small moves, release."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"canvas not visible: {box}"
    sx, sy = box["width"] / 280, box["height"] / 280  # in case the canvas is displayed scaled

    def at(p):
        return box["x"] + p[0] * sx, box["y"] + p[1] * sy

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=steps)
    page.mouse.up()


def _fail_on_app_exception(page, server):
    if page.locator(EXCEPTION).count():
        pytest.fail(f"the Draw page shows an exception:\n{page.locator(EXCEPTION).first.inner_text()}\n\n"
                    f"--- streamlit log (tail) ---\n{server.log_tail()}")


def _wait_for_chart(page, server, previous=None):
    """The chart once it shows three errors (and differs from `previous`); fails fast if the app raises."""
    handle = page.wait_for_function(CHART_READY_JS, arg=previous, timeout=RECONSTRUCT_TIMEOUT_MS)
    chart = handle.json_value()
    if chart.get("exception"):
        _fail_on_app_exception(page, server)
    return chart


def _errors(chart):
    return [float(m.group(1)) for t in chart["titles"] if (m := ERROR_RE.search(t))]


def _reconstructions_chart(page):
    return page.locator('[data-testid="stPlotlyChart"]').filter(has_text="what the model sees").first


def test_drawing_on_the_canvas_updates_the_reconstructions(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    try:
        page.goto(f"{streamlit_server}/draw", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
        prompt = page.get_by_text("Draw a digit on the canvas")
        prompt.or_(page.locator(EXCEPTION)).first.wait_for(timeout=PAGE_TIMEOUT_MS)
        _fail_on_app_exception(page, streamlit_server)
        canvas = _canvas(page)

        _stroke(page, canvas, STROKE_ONE)
        first = _wait_for_chart(page, streamlit_server)
        first_errors = _errors(first)
        assert len(first_errors) == 3, first["titles"]
        assert all(0 < e < 10 for e in first_errors), first["titles"]
        assert prompt.count() == 0
        first_png = _reconstructions_chart(page).screenshot()

        _stroke(page, canvas, STROKE_TWO)
        second = _wait_for_chart(page, streamlit_server, previous=first)
        second_errors = _errors(second)
        assert len(second_errors) == 3, second["titles"]
        second_png = _reconstructions_chart(page).screenshot()

        # A different drawing: a different input panel and different reconstructions.
        assert second["sums"][0] != first["sums"][0], (first, second)
        assert second["sums"][1:] != first["sums"][1:] or second_errors != first_errors, (first, second)
        assert second_png != first_png

        _fail_on_app_exception(page, streamlit_server)
        assert page.locator('[data-testid="stAlert"]').filter(has_text="rror").count() == 0
        assert not page.js_errors, page.js_errors
    except PlaywrightError as err:  # a timeout: say what the server said
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err
    finally:
        page.screenshot(path=SCREENSHOT, full_page=True)
