"""End to end in a real Chromium: on the Latent space page, moving the pointer over the VAE's hover map
changes the decoded digit with no message to the server; a click on a test digit's dot pins it and shows
its q(z|x) (1σ and 2σ rings) and samples; 'sample again' draws new samples around the same mean. On the
Draw page, no label or chip is cut off at 1280 and 1440 px wide windows, and the four result tiles share
one row at 1400 px."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser
FIRST_RUN_MS = 180_000  # the first visit loads TensorFlow and two models and encodes 10 000 test digits
MAP = ".st-key-lt_map_vae"
STAGE = f"{MAP} .ll-stage"  # Playwright's CSS engine pierces the component's shadow root
DECODED = ".st-key-lt_decoded_vae"


def open_latent_page(page, base_url: str) -> None:
    """Open the app at its home page and follow the navigation, as a student would (a deep link
    straight to /latent on a fresh server can bypass app.py's st.navigation)."""
    page.goto(base_url, wait_until="domcontentloaded")
    page.get_by_text("Latent Lab").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Latent space").click()
    page.locator(DECODED).get_by_text("decoded at z").wait_for(timeout=FIRST_RUN_MS)
    page.locator(f"{MAP} .ll-map[data-ready]").wait_for(timeout=60_000)


def map_state(page) -> dict:
    """The hover map's state as it exposes it: hovered grid cell, paints so far, the overlay it draws
    (pin, posterior means, rings, samples) and the decoded digit's pixels."""
    return page.locator(f"{MAP} .ll-map").evaluate("""(m) => ({
        cell: m.dataset.cell, paints: Number(m.dataset.paints || 0),
        overlay: m.dataset.overlay ? JSON.parse(m.dataset.overlay) : null,
        pixels: m.querySelector('.ll-decoded').toDataURL()})""")


def wait_for_overlay(page, ready, timeout_s: float = 30.0) -> dict:
    """Poll the map's overlay until `ready(overlay)` holds; return it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        overlay = map_state(page)["overlay"]
        if overlay and ready(overlay):
            return overlay
        page.wait_for_timeout(100)
    pytest.fail(f"the map's overlay never got ready: {map_state(page)['overlay']}")


def test_hovering_decodes_in_the_browser_without_asking_the_server(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append("frame")))
    open_latent_page(page, streamlit_server)
    page.wait_for_timeout(1000)  # the page's own messages settle
    page.locator(STAGE).scroll_into_view_if_needed()
    box = page.locator(STAGE).bounding_box()
    before, frames = map_state(page), len(sent)
    seen = set()
    for fx, fy in ((0.3, 0.3), (0.5, 0.5), (0.7, 0.4), (0.45, 0.75), (0.8, 0.8)):
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=4)
        page.wait_for_timeout(50)
        now = map_state(page)
        assert now["cell"] != before["cell"] and now["pixels"] != before["pixels"], (fx, fy)
        seen.add(now["pixels"])
        before = now
    assert len(seen) == 5  # five places, five different decodes
    page.wait_for_timeout(500)
    assert len(sent) == frames, "hovering sent messages to the server"
    inset = page.locator(f"{MAP} .ll-decoded").bounding_box()  # the decoded digit is seen with the map, at once
    assert inset["width"] >= 84 and box["y"] <= inset["y"] and inset["y"] + inset["height"] <= box["y"] + box["height"]
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors


def _click_a_dot(page) -> None:
    """Click the dot of a test digit: one well inside the map, found from the map's own geometry."""
    stage = page.locator(STAGE)
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    x, y = stage.evaluate("""(s) => {
        const m = s.closest('.ll-map');
        for (let i = 0; i < 10000; i++) {
            const [x, y] = m.llPointPx(i);
            if (x > 0.3 * s.clientWidth && x < 0.7 * s.clientWidth && y > 0.3 * s.clientHeight && y < 0.7 * s.clientHeight) return [x, y];
        }
        return null;
    }""")
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_a_clicked_digit_shows_its_posterior_and_samples_again(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 720})
    open_latent_page(page, streamlit_server)
    _click_a_dot(page)
    page.locator(DECODED).get_by_text("test digit #").wait_for(timeout=30_000)
    first = wait_for_overlay(page, lambda o: o["rings"] == 2 and len(o["samples"]) == 6)
    assert len(first["means"]) == 1 and first["pin"] is not None
    page.get_by_role("button", name="Sample again").first.click()
    again = wait_for_overlay(page, lambda o: len(o["samples"]) == 6 and o["samples"] != first["samples"])
    assert again["means"] == first["means"]  # the same q(z|x), fresh draws from it
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors


CUT_OFF_JS = """(root) => {
    // Elements whose text is clipped: wider content than box, and overflow that hides it.
    const cut = [];
    for (const el of root.querySelectorAll('*')) {
        if (!el.textContent.trim() || el.children.length > 2) continue;
        const style = getComputedStyle(el);
        if (style.overflowX === 'visible' && style.textOverflow !== 'ellipsis') continue;
        if (el.scrollWidth > el.clientWidth + 1) cut.push(el.textContent.trim());
    }
    return cut;
}"""


@pytest.mark.parametrize("width", [1280, 1440])
def test_draw_page_cuts_off_no_label_or_chip(streamlit_server, browser_page, width):  # noqa: F811
    from core.lab.spec import ModelSpec
    from core.lab.zoo import name_of
    from core.serving.store import ModelStore

    spec = ModelSpec("vae", latent_dim=8, beta=1.0, epochs=1, batch_size=128, train_size=512)
    ModelStore().get(spec)  # a model "trained in the Training lab" (the server shares this cache), for its chip
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{streamlit_server}/draw", wait_until="domcontentloaded")
    page.locator(".st-key-draw_use_example").wait_for(timeout=60_000)
    page.locator(".st-key-draw_use_example label").first.click()
    page.get_by_text("error 0.", exact=False).first.wait_for(timeout=60_000)
    picker = page.locator('.stMultiSelect').first
    picker.click()
    page.get_by_role("option", name=name_of(spec)).first.click()
    page.keyboard.press("Escape")
    page.locator(".stMultiSelect").first.get_by_text(name_of(spec)).first.wait_for(timeout=30_000)  # its chip
    page.wait_for_timeout(1500)
    for container in (".st-key-draw_use_example", ".st-key-draw_example_index", ".stMultiSelect"):
        cut = page.locator(container).first.evaluate(CUT_OFF_JS)
        assert not cut, f"{container} at {width} px: cut off {cut}"
    assert page.locator('[data-testid="stException"]').count() == 0


def test_draw_results_share_one_row_at_1400_px(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{streamlit_server}/draw", wait_until="domcontentloaded")
    page.locator(".st-key-draw_use_example label").first.click()
    page.get_by_text("error 0.", exact=False).first.wait_for(timeout=60_000)
    tops = page.locator(".ll-strip").first.evaluate(
        "(s) => Array.from(s.children).map(f => Math.round(f.getBoundingClientRect().top))")
    assert len(tops) == 4 and len(set(tops)) == 1, tops


@pytest.mark.parametrize("width", [1280, 390])  # a laptop, and a phone held upright
def test_upload_sample_buttons_show_their_whole_labels(streamlit_server, browser_page, width):  # noqa: F811
    """Issue 16: the sample buttons read "paper p…", "sideway…", "All sam…" in a fixed grid of columns."""
    from core.lab.samples import SAMPLES  # the page's buttons, one a sample

    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{streamlit_server}/upload", wait_until="domcontentloaded")
    page.locator(".st-key-up_sample_all").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    keys = [f".st-key-up_sample_{name.split('.')[0]}" for name in SAMPLES] + [".st-key-up_sample_all", ".st-key-up_clear"]
    for key in keys:
        button = page.locator(key).first
        assert not button.evaluate(CUT_OFF_JS), f"{key} at {width} px"
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (key, box)
    assert page.locator('[data-testid="stException"]').count() == 0
