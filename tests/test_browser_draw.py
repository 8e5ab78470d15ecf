"""End to end in a real Chromium: draw on the Draw page's pad with the mouse and with a finger; the
reconstructions follow; Undo, Redo and Clear work; what the model sees is what `from_canvas` makes of
the pad's full-size pixels.

Runs the app with `streamlit run` and drives Debian's /usr/bin/chromium through Playwright
(see tests/browser_support.py). The final page is saved to /tmp/draw_e2e.png, pass or fail.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

from tests.browser_support import VIEWPORT, playwright_error

PlaywrightError = playwright_error()
pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/draw_e2e.png"
TOUCH_SCREENSHOT = "/tmp/draw_e2e_touch.png"
PAGE_TIMEOUT_MS = 60_000  # first load imports TensorFlow; the machine may be busy
ANSWER_TIMEOUT_MS = 60_000  # the first drawing may wait for three Keras models to load
PAD = "canvas.ll-ink"  # our pad (views/canvas); Playwright's CSS engine pierces the component's shadow root
PROMPT = "Draw a digit on the canvas"
EXCEPTION = '[data-testid="stException"]'
ERROR_RE = re.compile(r"error\s*(\d+(?:\.\d+)?)")

# Strokes as fractions of the pad: a "1", then the stroke that turns it into a "4".
STROKE_ONE = [(0.55, 0.12), (0.54, 0.35), (0.53, 0.6), (0.52, 0.85)]
STROKE_TWO = [(0.25, 0.18), (0.2, 0.5), (0.45, 0.53), (0.85, 0.52)]
# A "7", drawn with a finger.
STROKE_SEVEN = [(0.2, 0.2), (0.5, 0.19), (0.8, 0.2), (0.6, 0.5), (0.45, 0.85)]

# The reconstructions strip as the browser shows it: each panel's title and caption text, the sum of its grey
# levels (a fingerprint of its pixels), and the input panel's 28×28 grey levels read back from its canvas.
READ_STRIP_JS = """
() => {
  for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
    const strip = host.shadowRoot && host.shadowRoot.querySelector('.ll-strip');
    if (!strip || !strip.firstElementChild || strip.firstElementChild.dataset.title !== 'what the model sees') continue;
    const figures = Array.from(strip.children);
    const canvas = figures[0].querySelector('canvas');
    const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const input = [];
    for (let i = 0; i < rgba.length; i += 4) input.push(rgba[i]);
    return {texts: figures.map(f => f.textContent), sums: figures.map(f => Number(f.dataset.inkSum)),
            size: [canvas.height, canvas.width], input};
  }
  return null;
}
"""

# Wait until the strip shows three errors and, if `previous` is given, a different input.
STRIP_READY_JS = (
    """
(previous) => {
  if (document.querySelector('[data-testid="stException"]')) return {exception: true};
  const read = """
    + READ_STRIP_JS
    + """;
  const now = read();
  if (!now) return false;
  if (now.texts.filter(t => /error\\s*\\d/.test(t)).length !== 3) return false;
  if (previous && JSON.stringify(previous.sums) === JSON.stringify(now.sums)) return false;
  return now;
}
"""
)

PAD_STATE_JS = """
(el) => ({strokes: Number(el.dataset.strokes), pointerType: el.dataset.pointerType || null,
          png: el.toDataURL('image/png'), width: el.width, height: el.height})
"""


def _fail_on_app_exception(page, server):
    if page.locator(EXCEPTION).count():
        pytest.fail(f"the Draw page shows an exception:\n{page.locator(EXCEPTION).first.inner_text()}\n\n"
                    f"--- streamlit log (tail) ---\n{server.log_tail()}")


def _open(page, server):
    # A deep link straight to the page: app.py's st.navigation routes it.
    page.goto(f"{server}/draw", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    page.get_by_text(PROMPT).or_(page.locator(EXCEPTION)).first.wait_for(timeout=PAGE_TIMEOUT_MS)
    _fail_on_app_exception(page, server)
    pad = page.locator(PAD).first
    pad.wait_for(timeout=PAGE_TIMEOUT_MS)
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box and box["width"] >= 200 and box["height"] >= 200, f"the pad is too small or hidden: {box}"
    return pad, box


def _at(box, p):
    return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]


def _mouse_stroke(page, box, points, steps=6):
    """Press the mouse at the first point, drag through the others in small moves, release."""
    page.mouse.move(*_at(box, points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*_at(box, p), steps=steps)
    page.mouse.up()


def _touch_stroke(page, box, points, steps=6):
    """One finger down at the first point, through the others, up: real touch input through the DevTools
    protocol (the browser turns it into pointer events with pointerType "touch")."""
    cdp = page.context.new_cdp_session(page)

    def touch(kind, p=None):
        points_ = [] if p is None else [{"x": p[0], "y": p[1], "id": 1, "radiusX": 4, "radiusY": 4, "force": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points_})

    prev = _at(box, points[0])
    touch("touchStart", prev)
    for p in points[1:]:
        nxt = _at(box, p)
        for k in range(1, steps + 1):
            touch("touchMove", (prev[0] + (nxt[0] - prev[0]) * k / steps, prev[1] + (nxt[1] - prev[1]) * k / steps))
        prev = nxt
    touch("touchEnd")
    cdp.detach()


def _wait_for_strip(page, server, previous=None):
    """The strip once it shows three errors (and a different input from `previous`); fails fast if the app raises."""
    shown = page.wait_for_function(STRIP_READY_JS, arg=previous, timeout=ANSWER_TIMEOUT_MS).json_value()
    if shown.get("exception"):
        _fail_on_app_exception(page, server)
    return shown


def _errors(shown):
    return [float(m.group(1)) for t in shown["texts"] if (m := ERROR_RE.search(t))]


def _pad_state(pad):
    return pad.evaluate(PAD_STATE_JS)


def _from_pad_png(state) -> np.ndarray:
    """The pad's full-size pixels, as the browser painted them, through the upload-era `from_canvas`."""
    from PIL import Image

    from core.lab.preprocess import from_canvas

    png = base64.b64decode(state["png"].split(",", 1)[1])
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert rgba.shape == (state["height"], state["width"], 4)
    return from_canvas(rgba).image


def test_mouse_strokes_undo_redo_and_clear(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    try:
        pad, box = _open(page, streamlit_server)
        assert _pad_state(pad)["strokes"] == 0

        _mouse_stroke(page, box, STROKE_ONE)
        first = _wait_for_strip(page, streamlit_server)
        assert len(_errors(first)) == 3 and all(0 < e < 10 for e in _errors(first)), first["texts"]
        assert page.get_by_text(PROMPT).count() == 0
        one = _pad_state(pad)
        assert one["strokes"] == 1 and one["pointerType"] == "mouse"

        # What the model sees matches what from_canvas makes of the pad's full 280×280 pixels (the pad
        # sends Python only the ink's crop, halved when large): same digit to within rounding.
        shown = np.asarray(first["input"], np.float32).reshape(first["size"]) / 255.0
        expected = _from_pad_png(one)
        assert shown.shape == expected.shape == (28, 28)
        assert np.abs(shown - expected).mean() < 0.01, np.abs(shown - expected).mean()

        _mouse_stroke(page, box, STROKE_TWO)
        second = _wait_for_strip(page, streamlit_server, previous=first)
        assert len(_errors(second)) == 3, second["texts"]
        # A different drawing: a different input panel and different reconstructions.
        assert second["sums"][0] != first["sums"][0], (first["sums"], second["sums"])
        assert second["sums"][1:] != first["sums"][1:] or _errors(second) != _errors(first)
        assert _pad_state(pad)["strokes"] == 2

        # Undo takes the second stroke back: exactly the first drawing again. Redo brings it back.
        page.locator("button.ll-undo").click()
        undone = _wait_for_strip(page, streamlit_server, previous=second)
        assert undone["sums"] == first["sums"] and undone["texts"] == first["texts"]
        assert _pad_state(pad)["png"] == one["png"]
        page.locator("button.ll-redo").click()
        redone = _wait_for_strip(page, streamlit_server, previous=undone)
        assert redone["sums"] == second["sums"] and redone["texts"] == second["texts"]

        # Clear empties the pad; the page asks for a drawing again.
        page.locator("button.ll-clear").click()
        page.get_by_text(PROMPT).wait_for(timeout=ANSWER_TIMEOUT_MS)
        cleared = _pad_state(pad)
        assert cleared["strokes"] == 0
        assert page.locator("button.ll-undo").is_disabled() and page.locator("button.ll-clear").is_disabled()
        assert page.evaluate(READ_STRIP_JS) is None

        _fail_on_app_exception(page, streamlit_server)
        assert page.locator('[data-testid="stAlert"]').filter(has_text="rror").count() == 0
        assert not page.js_errors, page.js_errors
    except PlaywrightError as err:  # a timeout: say what the server said
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err
    finally:
        page.screenshot(path=SCREENSHOT, full_page=True)


def test_a_finger_stroke_draws_too(streamlit_server, chromium):  # noqa: F811
    context = chromium.new_context(viewport=VIEWPORT, has_touch=True)
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda err: js_errors.append(str(err)))
    try:
        pad, box = _open(page, streamlit_server)
        scroll_before = page.evaluate("window.scrollY")
        _touch_stroke(page, box, STROKE_SEVEN)
        shown = _wait_for_strip(page, streamlit_server)
        assert len(_errors(shown)) == 3, shown["texts"]
        state = _pad_state(pad)
        assert state["strokes"] == 1 and state["pointerType"] == "touch"
        assert page.evaluate("window.scrollY") == scroll_before  # touch-action: none — the finger drew, not scrolled
        expected = _from_pad_png(state)
        got = np.asarray(shown["input"], np.float32).reshape(shown["size"]) / 255.0
        assert np.abs(got - expected).mean() < 0.01
        assert not js_errors, js_errors
    except PlaywrightError as err:
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err
    finally:
        page.screenshot(path=TOUCH_SCREENSHOT, full_page=True)
        context.close()
