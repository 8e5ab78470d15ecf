"""End to end in a real Chromium: on the Denoise page, move the Gaussian noise slider with the keyboard
and see the noisy image, the autoencoders' outputs and their PSNR / SSIM figures change, while the
clean digit stays as it was and the sweep chart's "your setting" line follows the slider."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
FIRST_RUN_MS = 180_000  # the first visit loads TensorFlow and two models and runs the PSNR sweep
IMAGES = ".st-key-dn_images"  # the row: clean, noisy input, the pair (clean- and noise-trained), the conv AE
SWEEP = ".st-key-dn_sweep"
SLIDER = ".st-key-dn_level_gaussian"
PRESSES = 4  # ArrowRight presses; the slider's step is 0.05, so σ goes 0.50 → 0.70
SCORES = re.compile(r"PSNR (\d+\.\d) dB · SSIM (-?\d\.\d\d)")


def open_denoise_page(page, base_url: str) -> None:
    """Open the app at its home page and follow the navigation, as a student would."""
    page.goto(base_url, wait_until="domcontentloaded")
    page.get_by_text("Latent Lab").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Denoise").click()
    page.locator(f"{IMAGES} .js-plotly-plot").wait_for(timeout=FIRST_RUN_MS)
    page.locator(f"{SWEEP} .js-plotly-plot").wait_for(timeout=FIRST_RUN_MS)


def row_state(page) -> dict:
    """The image row's panel titles (with the scores) and the sweep chart's marked noise level."""
    return page.evaluate("""([images, sweep]) => {
        const row = document.querySelector(images + ' .js-plotly-plot');
        const chart = document.querySelector(sweep + ' .js-plotly-plot');
        const shapes = (chart && chart.layout.shapes) || [];
        return {
            titles: row ? row.layout.annotations.map(a => a.text) : [],
            marked: shapes.length ? shapes[0].x0 : null,
        };
    }""", [IMAGES, SWEEP])


def panel_pixels(page) -> list[bytes]:
    """A PNG screenshot of each panel of the image row, clipped to that subplot's plot area (from
    plotly's own layout: axis offsets and lengths in pixels, relative to the plot's box)."""
    boxes = page.evaluate("""(sel) => {
        const gd = document.querySelector(sel + ' .js-plotly-plot');
        const r = gd.getBoundingClientRect(), L = gd._fullLayout;
        return L.annotations.map((_, i) => {
            const xa = L['xaxis' + (i ? i + 1 : '')], ya = L['yaxis' + (i ? i + 1 : '')];
            return {x: r.left + xa._offset, y: r.top + ya._offset, width: xa._length, height: ya._length};
        });
    }""", IMAGES)
    assert len(boxes) >= 5, boxes  # clean, noisy input, clean-trained, noise-trained, conv AE (and any extra model)
    return [page.screenshot(clip=box) for box in boxes]


def scores(titles: list[str]) -> list[tuple[float, float]]:
    """(PSNR, SSIM) of the noisy input and the models' outputs, in panel order."""
    found = [SCORES.search(t) for t in titles[1:]]
    assert all(found), titles
    return [(float(m.group(1)), float(m.group(2))) for m in found]


def test_noise_slider_changes_the_noisy_image_and_both_outputs(streamlit_server, browser_page):  # noqa: F811
    page = browser_page
    open_denoise_page(page, streamlit_server)
    # Streamlit's slider is a react-aria one: the focusable part is a visually hidden range input.
    thumb = page.locator(f'{SLIDER} input[type="range"]')
    shown = page.locator(f'{SLIDER} [data-testid="stSliderThumbValue"]')
    assert float(thumb.input_value()) == pytest.approx(0.5) and shown.inner_text() == "0.50"
    before, pixels_before = row_state(page), panel_pixels(page)
    assert before["marked"] == pytest.approx(0.5)

    thumb.focus()
    for _ in range(PRESSES):
        thumb.press("ArrowRight")
    # Each press may trigger a rerun; wait for the one at the final value. The sweep chart comes after
    # the image row in the page, so once it marks 0.7 the row shows 0.7 too.
    page.wait_for_function("""([images, sweep, old]) => {
        const row = document.querySelector(images + ' .js-plotly-plot');
        const chart = document.querySelector(sweep + ' .js-plotly-plot');
        const shapes = (chart && chart.layout.shapes) || [];
        return row && document.querySelectorAll(images + ' .js-plotly-plot').length === 1
            && shapes.length && Math.abs(shapes[0].x0 - 0.7) < 1e-6
            && JSON.stringify(row.layout.annotations.map(a => a.text)) !== JSON.stringify(old);
    }""", arg=[IMAGES, SWEEP, before["titles"]], timeout=60_000, polling=250)
    page.wait_for_timeout(500)  # let plotly finish redrawing the heatmaps before the screenshots
    after, pixels_after = row_state(page), panel_pixels(page)

    assert float(thumb.input_value()) == pytest.approx(0.7) and shown.inner_text() == "0.70"
    assert after["marked"] == pytest.approx(0.7)  # the sweep chart marks the new setting
    assert after["titles"][0] == before["titles"][0]  # the clean digit's panel is unchanged
    assert pixels_after[0] == pixels_before[0]
    for i in (1, 2, 3, 4):  # noisy input and the three models' outputs: new images and new scores
        assert pixels_after[i] != pixels_before[i], f"panel {i} did not change"
        assert after["titles"][i] != before["titles"][i]
    (noisy_0, _), *_ = scores(before["titles"])
    (noisy_1, _), _, (denoised_1, _), _ = scores(after["titles"])
    assert noisy_1 < noisy_0  # the same seeded noise, scaled up: further from the clean digit
    assert denoised_1 > noisy_1 + 5  # the denoising AE removes much of it

    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors
