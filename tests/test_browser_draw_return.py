"""End to end in a real Chromium: the Draw pad shows the last drawing again when the student comes back to
the page (issue 15, part 5). Draw two strokes, go to Denoise and back through the sidebar (the same
Streamlit session: a reload would start a new one), and find the strokes repainted on the new pad, the
results shown, and Undo and Clear working on the restored strokes.

Uses the fixtures of tests/browser_support.py and the helpers of tests/test_browser_draw.py. The final page
is saved to /tmp/draw_return_e2e.png, pass or fail.
"""

from __future__ import annotations

import pytest

from tests.test_browser_draw import (
    ANSWER_TIMEOUT_MS,
    PAD,
    PAGE_TIMEOUT_MS,
    PROMPT,
    STROKE_ONE,
    STROKE_TWO,
    PlaywrightError,
    _errors,
    _fail_on_app_exception,
    _mouse_stroke,
    _open,
    _pad_state,
    _wait_for_strip,
)

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/draw_return_e2e.png"
RESTORED_CAPTION = "Showing your last drawing"
NAV = '[data-testid="stSidebarNav"]'

# How many pixels of the pad's bitmap carry ink, and how many strokes the pad holds.
INK_JS = """
(el) => {
  const px = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
  let ink = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] > 0) ink++;
  return {ink, strokes: Number(el.dataset.strokes), restored: Number(el.dataset.restored || 0),
          seq: el.dataset.seq || null, png: el.toDataURL('image/png')};
}
"""

# Once the pad's in-browser models are loaded (or not to be): their state and the last drawing they answered.
BROWSER_JS = """
async (el) => {
  while (el.dataset.browser === 'loading') await new Promise(r => setTimeout(r, 100));
  return {state: el.dataset.browser, last: el.llPad.models.last && el.llPad.models.last.seq};
}
"""


def _go(page, title):
    page.locator(NAV).get_by_text(title, exact=True).click()


def test_the_last_drawing_is_back_on_the_pad(streamlit_server, browser_page):
    page = browser_page
    try:
        pad, box = _open(page, streamlit_server)
        _mouse_stroke(page, box, STROKE_ONE)
        first = _wait_for_strip(page, streamlit_server)
        _mouse_stroke(page, box, STROKE_TWO)
        second = _wait_for_strip(page, streamlit_server, previous=first)
        drawn = pad.evaluate(INK_JS)
        assert drawn["strokes"] == 2 and drawn["ink"] > 1000, drawn["ink"]

        # Away to Denoise and back, within the app: the Draw page's pad is mounted afresh.
        _go(page, "Denoise")
        page.wait_for_url("**/denoise", timeout=PAGE_TIMEOUT_MS)
        page.locator(PAD).wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
        _go(page, "Draw")
        page.wait_for_url("**/draw", timeout=PAGE_TIMEOUT_MS)
        pad = page.locator(PAD).first
        pad.wait_for(timeout=PAGE_TIMEOUT_MS)
        page.get_by_text(RESTORED_CAPTION).wait_for(timeout=ANSWER_TIMEOUT_MS)
        _fail_on_app_exception(page, streamlit_server)

        # The strokes are back on the pad, pixel for pixel, and the results are the drawing's own.
        back = pad.evaluate(INK_JS)
        assert back["restored"] == back["strokes"] == 2, back
        assert back["ink"] == drawn["ink"] and back["png"] == drawn["png"], (back["ink"], drawn["ink"])
        assert back["seq"] is None  # nothing was sent for them: the page shows the kept drawing's answer
        shown = _wait_for_strip(page, streamlit_server)
        assert shown["sums"] == second["sums"] and _errors(shown) == _errors(second), (shown, second)
        assert page.get_by_text(PROMPT).count() == 0
        assert not page.locator("button.ll-undo").is_disabled()
        # The in-browser models (if this browser runs them) do not answer the restored strokes again.
        state = pad.evaluate(BROWSER_JS)
        assert state["last"] is None, state

        # Undo works on the restored strokes: the first drawing again, answered afresh.
        page.locator("button.ll-undo").click()
        undone = _wait_for_strip(page, streamlit_server, previous=shown)
        assert undone["sums"] == first["sums"], (undone["sums"], first["sums"])
        assert _pad_state(pad)["strokes"] == 1
        page.get_by_text(RESTORED_CAPTION).wait_for(state="detached", timeout=ANSWER_TIMEOUT_MS)
        page.locator("button.ll-redo").click()
        redone = _wait_for_strip(page, streamlit_server, previous=undone)
        assert redone["sums"] == second["sums"]

        # Away and back once more, then Clear the restored strokes at once: the page asks for a drawing,
        # and the next visit starts empty.
        _go(page, "Denoise")
        page.locator(PAD).wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
        _go(page, "Draw")
        pad = page.locator(PAD).first
        pad.wait_for(timeout=PAGE_TIMEOUT_MS)
        page.get_by_text(RESTORED_CAPTION).wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert pad.evaluate(INK_JS)["strokes"] == 2
        page.locator("button.ll-clear").click()
        page.get_by_text(PROMPT).wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert pad.evaluate(INK_JS)["ink"] == 0
        _go(page, "Denoise")
        page.locator(PAD).wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
        _go(page, "Draw")
        page.get_by_text(PROMPT).wait_for(timeout=PAGE_TIMEOUT_MS)
        pad = page.locator(PAD).first
        pad.wait_for(timeout=PAGE_TIMEOUT_MS)
        assert pad.evaluate(INK_JS)["strokes"] == 0

        _fail_on_app_exception(page, streamlit_server)
        assert not page.js_errors, page.js_errors
    except PlaywrightError as err:
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err
    finally:
        page.screenshot(path=SCREENSHOT, full_page=True)
