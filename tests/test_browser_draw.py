"""End to end in a real Chromium: draw on the Draw page's canvas with the mouse; the reconstructions follow.

Runs the app with `streamlit run` and drives Debian's /usr/bin/chromium through Playwright
(see tests/browser_support.py). The final page is saved to /tmp/draw_e2e.png, pass or fail.
"""

from __future__ import annotations

import os
import re

import pytest

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

# Strokes as fractions of the visible canvas: a "1", then the stroke that turns it into a "4".
STROKE_ONE = [(0.55, 0.12), (0.54, 0.35), (0.53, 0.6), (0.52, 0.85)]
STROKE_TWO = [(0.25, 0.18), (0.2, 0.5), (0.45, 0.53), (0.85, 0.52)]

# The reconstructions chart as the browser has it: the subplot titles (Plotly annotations; the "<br>" becomes two
# tspans, so textContent reads "…codeerror 0.123") and a fingerprint of each panel's pixels (the heatmap's z values).
READ_CHART_JS = """
() => {
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const titles = Array.from(chart.querySelectorAll('.annotation-text'), a => a.textContent);
    if (!titles.some(t => t.includes('what the model sees'))) continue;
    const plot = chart.querySelector('.js-plotly-plot');
    // _fullData holds z decoded (rows of Float32Array); data may hold Plotly's base64 {dtype, bdata} form.
    const traces = (plot && (plot._fullData || plot.data)) || [];
    const sums = traces.map(trace => {
      const z = trace.z;
      if (!z || typeof z[Symbol.iterator] !== 'function') return JSON.stringify(z ?? null);
      let s = 0;
      for (const row of z) for (const v of row) s += Number(v) || 0;
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


# The part of the canvas one can actually draw on, in page coordinates: the canvas's box clipped by every ancestor
# that clips (the component scrolls a canvas wider than its column) and by the viewport.
VISIBLE_BOX_JS = """
(el) => {
  let r = el.getBoundingClientRect();
  let box = {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  const clip = (c) => {
    box = {left: Math.max(box.left, c.left), top: Math.max(box.top, c.top),
           right: Math.min(box.right, c.right), bottom: Math.min(box.bottom, c.bottom)};
  };
  for (let n = el.parentNode || el.host; n; n = n.parentNode || n.host) {
    if (n.nodeType !== Node.ELEMENT_NODE) continue;
    const style = getComputedStyle(n);
    if (style.overflowX !== 'visible' || style.overflowY !== 'visible') clip(n.getBoundingClientRect());
  }
  clip({left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight});
  return {x: box.left, y: box.top, width: box.right - box.left, height: box.bottom - box.top};
}
"""


def _stroke(page, canvas, points, steps=6):
    """Press the mouse at the first point, drag through the others in small moves, release.

    Points are fractions (0–1) of the canvas's visible part, so a stroke stays on screen whatever the layout.
    """
    canvas.scroll_into_view_if_needed()
    box = canvas.evaluate(VISIBLE_BOX_JS)
    if canvas.evaluate("() => window.top !== window"):
        box = canvas.bounding_box()  # in an iframe: Playwright's box is already in page coordinates
    assert box and box["width"] > 100 and box["height"] > 100, f"too little of the canvas is visible: {box}"

    def at(p):
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

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
        # A deep link straight to the page: app.py's st.navigation routes it (no legacy pages/ folder).
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
