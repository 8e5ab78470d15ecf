"""End to end in a real Chromium: on the Latent space page, click empty regions of the VAE's map
(the margin around the clusters, where no test digit is) and see the decoded image and its
coordinates change to the clicked place."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
FIRST_RUN_MS = 180_000  # the first visit loads TensorFlow and two models and encodes 10 000 test digits
MAP = ".st-key-lt_map_vae"
DECODED = ".st-key-lt_decoded_vae"
COORDS = re.compile(r"decoded at z = \(([-+]\d+\.\d+), ([-+]\d+\.\d+)\)")


def open_latent_page(page, base_url: str) -> None:
    """Open the app at its home page and follow the navigation, as a student would (a deep link
    straight to /latent on a fresh server can bypass app.py's st.navigation)."""
    page.goto(base_url, wait_until="domcontentloaded")
    page.get_by_text("Latent Lab").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Latent space").click()
    page.locator(DECODED).get_by_text("decoded at z").wait_for(timeout=FIRST_RUN_MS)
    page.locator(f"{MAP} .nsewdrag").first.wait_for(timeout=60_000)


def decoded_state(page) -> dict:
    """The decoded image's caption and image URL."""
    return page.evaluate("""(sel) => {
        const box = document.querySelector(sel);
        const img = box && box.querySelector('img');
        return {text: box ? box.innerText : '', src: img ? img.src : '', loaded: !!(img && img.complete && img.naturalWidth > 0)};
    }""", DECODED)


def wait_for_new_decoding(page, old: dict, timeout_ms: float = 30_000) -> dict:
    page.wait_for_function("""([sel, oldText, oldSrc]) => {
        const box = document.querySelector(sel);
        const img = box && box.querySelector('img');
        return box && img && box.innerText !== oldText && img.src !== oldSrc && img.complete && img.naturalWidth > 0;
    }""", arg=[DECODED, old["text"], old["src"]], timeout=timeout_ms, polling="raf")
    return decoded_state(page)


def map_geometry(page) -> tuple[dict, list[float], list[float]]:
    """The plot area's box on screen and the map's axis ranges ([z₁ lo, hi], [z₂ lo, hi])."""
    box = page.locator(f"{MAP} .nsewdrag").first.bounding_box()
    ranges = page.evaluate("""(sel) => {
        const gd = document.querySelector(sel + ' .js-plotly-plot');
        return [gd._fullLayout.xaxis.range, gd._fullLayout.yaxis.range];
    }""", MAP)
    return box, ranges[0], ranges[1]


def nearest_code_px(page, fx: float, fy: float) -> float:
    """Screen distance (px) from the plot-area point at fractions (fx, fy) (y from the top) to the
    nearest test digit's code drawn on the map: plotly selects a dot within its hover reach (20 px)
    instead of the click-grid point under the pointer."""
    return page.evaluate("""([sel, fx, fy]) => {
        const gd = document.querySelector(sel + ' .js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const px = fx * xa._length, py = fy * ya._length;
        let best = Infinity;
        for (const trace of gd._fullData) {
            if (!trace.visible || trace.visible === 'legendonly' || !trace.x || !trace.y) continue;
            if ((trace.name || '').toLowerCase().includes('grid')) continue;  // the invisible click grid
            for (let i = 0; i < trace.x.length; i++) {
                const d = Math.hypot(xa.l2p(trace.x[i]) - px, ya.l2p(trace.y[i]) - py);
                if (d < best) best = d;
            }
        }
        return best;
    }""", [MAP, fx, fy])


def test_clicking_empty_space_decodes_that_point(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    open_latent_page(page, streamlit_server)
    before = decoded_state(page)
    assert COORDS.search(before["text"]).groups() == ("+0.00", "+0.00")  # the start: the prior's centre
    # Corners of the map's margin: the codes' bounding box is padded by 8 % of its span per side, so the
    # outermost codes sit 6.9 % of the axis in from each edge, only ~15 px on a 400 px map: within
    # plotly's 20 px hover reach, an extreme code can be picked instead of the click-grid point. So each
    # click goes to the point nearest the corner whose nearest code is measured to be over 28 px away.
    for fx, fy in ((0.02, 0.02), (0.98, 0.975), (0.025, 0.98)):
        # A corner whose nearest dot is beyond plotly's hover reach (checked, not assumed: the
        # outermost codes sit only ~30 px in); otherwise the nearest corner point that is.
        shifts = (0, 0.04, -0.04, 0.1, -0.1, 0.2, -0.2)  # along the margins
        candidates = [(fx + dx, fy + dy) for dx in shifts for dy in shifts if 0.01 <= fx + dx <= 0.99 and 0.01 <= fy + dy <= 0.99]
        fx, fy = min((f for f in candidates if nearest_code_px(page, *f) > 28),
                     key=lambda f: abs(f[0] - fx) + abs(f[1] - fy))
        box, _, _ = map_geometry(page)
        x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.move(x, y)
        page.wait_for_timeout(200)  # as a hand would: plotly picks the hovered point, then the click selects it
        box, (x_lo, x_hi), (y_lo, y_hi) = map_geometry(page)  # afresh: the page may have reflowed meanwhile
        step = max((x_hi - x_lo), (y_hi - y_lo)) / 39 * 1.5  # one click-grid cell, with slack
        x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.click(x, y)
        after = wait_for_new_decoding(page, before)
        z1, z2 = (float(v) for v in COORDS.search(after["text"]).groups())
        assert z1 == pytest.approx(x_lo + fx * (x_hi - x_lo), abs=step)
        assert z2 == pytest.approx(y_hi - fy * (y_hi - y_lo), abs=step)  # screen y grows downwards
        assert "test digit #" not in after["text"]  # empty space, not a digit's code
        assert after["src"] != before["src"]  # a new decoded image
        before = after

    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors
