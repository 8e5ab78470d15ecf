"""End to end in a real Chromium at a projector's 1280×720: open lesson mode, switch on the presenter
layout, and walk every step with Next. On each step, everything the step needs — its title, the Back and
Next buttons, the explanation, the question and its answer, the live element with its controls and results —
is on screen without scrolling and not cut off at the sides, and the sidebar is hidden."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
PROJECTOR = {"width": 1280, "height": 720}
STEPS = 7  # views/lesson.py's STEPS (not imported: importing a page runs it)
FIRST_RUN_MS = 180_000  # the first steps load models (and TensorFlow, for the one-class scores)
SCREENSHOT = "/tmp/lesson_step_{}.png"
NEEDED = {  # what each step needs on screen: its parts, as CSS selectors (Streamlit's st-key-<key> classes)
    "title": '[data-testid="stMarkdownContainer"] h3',
    "back": ".st-key-ls_back",
    "next": ".st-key-ls_next",
    "presenter switch": ".st-key-ls_presenter",
    "explanation and question": ".st-key-ls_explain",
    "question": ".st-key-ls_question",
}
# The live element of each step, ready: what to wait for inside `.st-key-ls_live_<i>`.
LIVE_READY = [
    ".st-key-ls_squeeze_strip",
    ".st-key-ls_capacity_strip",
    ".st-key-ls_denoise_strip",
    ".st-key-ls_threshold_hist .js-plotly-plot",
    ".st-key-ls_map .js-plotly-plot",
    '[data-testid="stImage"] img',
    '[data-testid="stCode"]',
]
CONTROLS = [  # the control that changes each step's result, which must sit beside it
    ".st-key-ls_squeeze_index", ".st-key-ls_capacity_shape", ".st-key-ls_denoise_sigma", ".st-key-ls_threshold",
    ".st-key-ls_z1", ".st-key-ls_beta", '[role="tablist"]',
]

BOXES_JS = """(selectors) => Object.fromEntries(Object.entries(selectors).map(([name, sel]) => {
    const el = document.querySelector(sel);
    if (!el) return [name, null];
    const r = el.getBoundingClientRect();
    return [name, {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height}];
}))"""


def _off_screen(boxes: dict) -> dict:
    """The parts that are missing, empty, below the fold or cut off at an edge of the 1280×720 window."""
    bad = {}
    for name, b in boxes.items():
        if b is None or b["width"] == 0 or b["height"] == 0:
            bad[name] = b
        elif b["top"] < 0 or b["bottom"] > PROJECTOR["height"] + 0.5 or b["left"] < 0 or b["right"] > PROJECTOR["width"] + 0.5:
            bad[name] = b
    return bad


def test_the_whole_lesson_fits_a_projector_in_presenter_layout(streamlit_server, chromium):  # noqa: F811
    context = chromium.new_context(viewport=PROJECTOR)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(f"{streamlit_server}/lesson", wait_until="domcontentloaded")
        page.locator(".st-key-ls_next").wait_for(timeout=60_000)
        page.locator(".st-key-ls_presenter").get_by_text("Presenter layout").click()
        page.locator('[data-testid="stSidebar"]').wait_for(state="hidden", timeout=30_000)

        for i in range(STEPS):
            page.get_by_text(f"step {i + 1} of {STEPS}").wait_for(timeout=FIRST_RUN_MS)
            step = page.locator(NEEDED["title"]).first.inner_text()
            live = f".st-key-ls_live_{i}"
            page.locator(f"{live} {LIVE_READY[i]}").first.wait_for(timeout=FIRST_RUN_MS)
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                   timeout=FIRST_RUN_MS)
            page.wait_for_timeout(400)  # let plotly and the strips finish their layout
            page.screenshot(path=SCREENSHOT.format(i + 1))
            needed = NEEDED | {"live element": live, "its result": f"{live} {LIVE_READY[i]}",
                               "its control": f"{live} {CONTROLS[i]}"}
            boxes = page.evaluate(BOXES_JS, needed)
            assert not _off_screen(boxes), (i + 1, step, _off_screen(boxes))
            # No equation or metric label is clipped by its column (they are cut off silently, not wrapped).
            clipped = page.evaluate("""() => {
                const out = [];
                for (const [inside, sel] of [['.st-key-ls_explain', '.katex-html'], ['.st-key-ls_body', '[data-testid="stMetricLabel"] p']]) {
                    const box = document.querySelector(inside).getBoundingClientRect();
                    for (const el of document.querySelectorAll(inside + ' ' + sel)) {
                        const r = el.getBoundingClientRect();
                        if (r.right > box.right + 1 || el.scrollWidth > el.clientWidth + 1) out.push(el.textContent);
                    }
                }
                return out;
            }""")
            assert not clipped, (i + 1, step, clipped)
            # The result beside the control that changes it: side by side (or the code in its tab).
            control, result = boxes["its control"], boxes["its result"]
            assert control["right"] <= result["left"] + 1 or i == STEPS - 1, (i + 1, control, result)
            # Nothing wider than the window: no horizontal scrolling that would hide a part.
            assert page.evaluate("() => document.documentElement.scrollWidth") <= PROJECTOR["width"]
            assert not page.locator('[data-testid="stSidebar"]').is_visible()
            # The answer opens over the page, on screen, and closes again.
            page.locator(".st-key-ls_question button").filter(has_text="Answer").click()
            page.locator('[data-testid="stPopoverBody"]').wait_for(timeout=10_000)
            page.wait_for_timeout(300)
            answer = page.evaluate(BOXES_JS, {"answer": '[data-testid="stPopoverBody"]'})
            assert not _off_screen(answer), (i + 1, step, answer)
            page.keyboard.press("Escape")
            page.locator('[data-testid="stPopoverBody"]').wait_for(state="hidden", timeout=10_000)
            assert page.locator('[data-testid="stException"]').count() == 0, (i + 1, streamlit_server.log_tail(2000))
            if i < STEPS - 1:
                page.locator(".st-key-ls_next button").click()
        assert page.locator(".st-key-ls_next button").is_disabled()
        assert not errors, errors
    finally:
        context.close()


def test_the_draw_page_shows_the_last_drawing_after_another_page(streamlit_server, browser_page):  # noqa: F811
    """Draw a stroke, visit Home, come back: the results of that drawing are on screen again, not the prompt."""
    page = browser_page
    page.goto(f"{streamlit_server}/draw", wait_until="domcontentloaded")
    pad = page.locator("canvas.ll-ink").first
    pad.wait_for(timeout=FIRST_RUN_MS)
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 0.55 * box["width"], box["y"] + 0.12 * box["height"])
    page.mouse.down()
    for y in (0.35, 0.6, 0.85):
        page.mouse.move(box["x"] + 0.54 * box["width"], box["y"] + y * box["height"], steps=6)
    page.mouse.up()
    steps = page.get_by_text("How your drawing became a 28×28 MNIST-style image")
    steps.wait_for(timeout=FIRST_RUN_MS)
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_text("Home").click()
    page.get_by_text("See what an autoencoder learns").wait_for(timeout=60_000)
    nav.get_by_text("Draw").click()
    page.locator("canvas.ll-ink").first.wait_for(timeout=60_000)
    steps.wait_for(timeout=60_000)  # the last drawing's results, without drawing again
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    assert page.get_by_text("Draw a digit on the canvas").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
