"""The Draw pad's own answers, in a real Chromium: the models run in the page with onnxruntime-web.

- views/canvas/numerics.js, ink.js and mnist.js (the server's preprocessing, error and grey levels ported to JavaScript), run in
  Chromium, against `from_canvas_ink`, `per_image_bce` and the strip's levels in Python, on pad-like
  drawings and on drawings that take the rarer branches (specks, thickening, large crops, noise, blank);
- Streamlit serves the runtime and the models with the content types browsers require;
- end to end: a stroke is answered in the browser with the server's numbers (within 1e-3; in practice
  ~1e-6) while the server, told so, runs no model for it, and still when the server never hears of it
  (its websocket messages dropped); without the runtime the pad says so and the server answers.

Needs `npm ci --prefix views/canvas/web` (README, "Set-up"): without static/ort/ these tests skip
locally and fail on CI, like a missing Chromium.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.request

import numpy as np
import pytest

from core.lab.metrics import per_image_bce
from core.lab.preprocess import from_canvas_ink
from core.lab.zoo import FAST_PATH, TITLES, spec_named
from core.serving import browser
from core.serving.infer import served
from tests.browser_support import ROOT, VIEWPORT, playwright_error
from tests.test_canvas_input import DRAWINGS, _pad_payload, _render
from views.canvas import PORT_JS, _grey_payload, ink_from_drawing

PlaywrightError = playwright_error()
pytestmark = pytest.mark.browser

PAGE_TIMEOUT_MS = 90_000
PAD = "canvas.ll-ink"
STRIP = '.ll-strip[data-follow="true"]'  # the reconstructions strip (Playwright's CSS pierces shadow roots)
MNIST_JS = "\n".join((ROOT / "views" / "canvas" / f).read_text(encoding="utf-8") for f in PORT_JS)  # one module, as the pad has it
STROKES = [  # a "4" as fractions of the pad
    [(0.55, 0.12), (0.54, 0.35), (0.53, 0.6), (0.52, 0.85)],
    [(0.25, 0.18), (0.2, 0.5), (0.45, 0.53), (0.85, 0.52)],
]
ERROR_RE = re.compile(r"error\s*(\d+\.\d+)")


@pytest.fixture(scope="module", autouse=True)
def _runtime_installed():
    missing = [f for f in browser.RUNTIME_FILES if not (browser.STATIC_DIR / browser.RUNTIME[0] / f).is_file()]
    if missing:
        reason = f"onnxruntime-web is not in static/ort (missing {', '.join(missing)}): run `{browser.SET_UP}`"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# The JavaScript port against the Python, in Chromium


def _inks() -> dict[str, np.ndarray]:
    """Pad payloads (what canvas.js sends) of the reference drawings, and inks for the rarer branches."""
    from PIL import Image, ImageDraw

    inks = {}
    for name, strokes in DRAWINGS.items():
        p = _pad_payload(_render(strokes))
        inks[name] = np.frombuffer(base64.b64decode(p["ink"]), np.uint8).reshape(p["h"], p["w"])

    def drawn(size, lines, width, dots=()):
        im = Image.new("L", size, 0)
        d = ImageDraw.Draw(im)
        for line in lines:
            d.line(line, fill=255, width=width)
        for box, level in dots:
            d.ellipse(box, fill=level)
        return np.asarray(im)

    inks["hairline (thickened)"] = drawn((300, 280), [[(20, 20), (150, 260), (280, 30)]], 2)
    inks["specks dropped"] = drawn((200, 260), [[(100, 20), (95, 240)]], 20,
                                   [([10, 10, 14, 14], 200), ([150, 200, 153, 203], 255), ([120, 100, 122, 102], 255)])
    inks["296 px (labels max-pooled)"] = drawn((296, 296), [[(10, 10), (286, 286)], [(286, 10), (200, 90)]], 20,
                                               [([5, 280, 9, 284], 255)])
    inks["noise"] = (np.random.default_rng(1).random((60, 50)) * 255).astype(np.uint8)
    inks["blank"] = np.zeros((40, 40), np.uint8)
    return inks


RUN_PORT_JS = """
async ([src, cases, pairs]) => {
  const m = await import(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})));
  const images = cases.map(c => {
    try { return Array.from(m.preprocessInk(Uint8Array.from(c.ink), c.h, c.w)); }
    catch (e) { if (e instanceof m.NoInk) return null; throw e; }
  });
  const bce = pairs.map(([x, xHat]) => m.perImageBce(Float32Array.from(x), Float32Array.from(xHat)));
  const levels = pairs.map(([x]) => Array.from(m.greyLevels(Float32Array.from(x))));
  return {images, bce, levels};
}
"""


def test_the_js_preprocessing_error_and_levels_are_the_servers(chromium):
    inks = _inks()
    rng = np.random.default_rng(0)
    pairs = [(rng.random(784).astype(np.float32), rng.random(784).astype(np.float32)) for _ in range(3)]
    pairs.append((np.round(pairs[0][0]), np.clip(pairs[0][1], 0, 1) ** 8))  # binary input, reconstructions near 0
    page = chromium.new_page()
    try:
        got = page.evaluate(RUN_PORT_JS, [MNIST_JS, [{"ink": a.ravel().tolist(), "h": a.shape[0], "w": a.shape[1]}
                                                    for a in inks.values()], [[x.tolist(), y.tolist()] for x, y in pairs]])
    finally:
        page.close()
    for (name, ink), js in zip(inks.items(), got["images"], strict=True):
        try:
            expected = from_canvas_ink(ink).image
        except Exception:  # noqa: BLE001 (the server says there is no ink: so must the port)
            assert js is None, name
            continue
        assert js is not None, f"{name}: the port found no ink"
        diff = np.abs(np.asarray(js, np.float32).reshape(28, 28) - expected)
        assert diff.mean() <= 1e-3 and diff.max() <= 0.05, (name, diff.mean(), diff.max())
        assert diff.max() <= 1e-6, (name, diff.max())  # in fact the same to float32 rounding
    for (x, x_hat), js in zip(pairs, got["bce"], strict=True):
        assert js == pytest.approx(per_image_bce(x[None], x_hat[None])[0], rel=1e-12)
    for (x, _), js in zip(pairs, got["levels"], strict=True):
        assert bytes(js) == base64.b64decode(_grey_payload(x.reshape(28, 28))["pixels"])


# ---------------------------------------------------------------------------------------------
# Served files


def test_the_runtime_and_models_are_served_with_the_types_browsers_require(streamlit_server):
    runtime = browser.in_browser(FAST_PATH)  # publishes the models, as the Draw page does
    assert runtime.on, runtime.reason
    wasm = runtime.runtime.rsplit("/", 1)[0] + "/" + browser.RUNTIME_FILES[1]
    expected = {runtime.runtime: "javascript", wasm: "application/wasm", runtime.models[0]["encode"]: None}
    for url, kind in expected.items():
        with urllib.request.urlopen(f"{streamlit_server}/{url}", timeout=30) as r:
            assert r.status == 200, url
            content_type = r.headers.get("Content-Type", "")
            assert kind is None or kind in content_type, (url, content_type)  # module scripts and wasm streaming
            body = r.read()
        if kind is None:
            assert body == (browser.STATIC_DIR / url.removeprefix("app/static/")).read_bytes()


# ---------------------------------------------------------------------------------------------
# End to end


def _open(page, server):
    page.goto(f"{server}/draw", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    pad = page.locator(PAD).first
    pad.wait_for(timeout=PAGE_TIMEOUT_MS)
    pad.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const p = document.querySelector('[data-testid=\"stBidiComponentIsolated\"]') && "
        "Array.from(document.querySelectorAll('[data-testid=\"stBidiComponentIsolated\"]'))"
        ".map(h => h.shadowRoot && h.shadowRoot.querySelector('canvas.ll-ink')).find(Boolean);"
        " return p && p.dataset.browser && p.dataset.browser !== 'loading' && p.dataset.browser; }",
        timeout=PAGE_TIMEOUT_MS)
    return pad


def _draw(page, pad, strokes):
    box = pad.bounding_box()
    for points in strokes:
        at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
        page.mouse.move(*at[0])
        page.mouse.down()
        for x, y in at[1:]:
            page.mouse.move(x, y, steps=5)
        page.mouse.up()


def _strip(page) -> dict:
    return page.locator(STRIP).first.evaluate(
        "s => ({...s.dataset, texts: Array.from(s.children, f => f.textContent),"
        " stale: Array.from(s.children, f => f.classList.contains('ll-stale'))})")


def _python_answer(sent: dict) -> tuple[np.ndarray, list[float]]:
    """What the server computes from the drawing the pad sent: the 28×28 input and each model's error."""
    x = from_canvas_ink(ink_from_drawing(sent)).image
    errors = [float(per_image_bce(x[None], served(spec_named(n)).reconstruct(x))[0]) for n in FAST_PATH]
    return x, errors


def test_a_stroke_is_answered_in_the_browser_and_the_server_runs_no_model(streamlit_server, browser_page):
    page = browser_page
    try:
        pad = _open(page, streamlit_server)
        assert pad.evaluate("el => el.dataset.browser") == "ready"
        assert "in your browser" in page.locator(".ll-status").first.inner_text()
        _draw(page, pad, STROKES)
        seq = pad.evaluate("el => el.dataset.seq")
        page.locator(f'{STRIP}[data-browser-seq="{seq}"][data-server-seq="{seq}"]').wait_for(timeout=PAGE_TIMEOUT_MS)
        shown = _strip(page)
        last = pad.evaluate("el => el.llPad.models.last")
        sent = pad.evaluate("el => el.llPad.sent")

        # The pad said it answers this drawing; the server left the shipped models' panels to it.
        assert sent["browser"] is True
        assert shown["lead"] == str(1 + len(FAST_PATH)) and json.loads(shown["serverNotes"]) == [], shown
        assert shown["source"] == "browser" and str(last["seq"]) == seq and shown["panels"] == str(1 + len(FAST_PATH))
        assert not any(shown["stale"]), shown
        assert [t.split("error")[0] for t in shown["texts"]] == ["what the model sees28×28"] + [TITLES[n] for n in FAST_PATH]
        browser_notes = [float(m.group(1)) for t in shown["texts"] if (m := ERROR_RE.search(t))]
        assert np.allclose(browser_notes, last["errors"], atol=5e-4 + 1e-9), (browser_notes, last["errors"])

        # The browser's numbers are the server's: the same input, the same errors.
        x, errors = _python_answer(sent)
        diff = np.abs(np.asarray(last["x"], np.float32).reshape(28, 28) - x)
        assert diff.mean() <= 1e-3 and diff.max() <= 0.05, (diff.mean(), diff.max())
        assert np.allclose(last["errors"], errors, atol=1e-3), (last["errors"], errors)
        assert np.allclose(last["errors"], errors, atol=1e-5), (last["errors"], errors)  # in fact
        assert not page.js_errors, page.js_errors
    except PlaywrightError as err:
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err


def test_the_browser_answers_when_the_server_never_hears_of_the_stroke(streamlit_server, chromium):
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    cut = {"on": False}

    def through(ws):  # Streamlit's websocket, passed through until `cut` drops what the page sends
        server = ws.connect_to_server()
        ws.on_message(lambda message: None if cut["on"] else server.send(message))

    page.route_web_socket(re.compile(r".*/_stcore/stream$"), through)
    try:
        pad = _open(page, streamlit_server)
        assert pad.evaluate("el => el.dataset.browser") == "ready"
        cut["on"] = True
        _draw(page, pad, STROKES[:1])
        seq = pad.evaluate("el => el.dataset.seq")
        page.locator(f'{STRIP}[data-browser-seq="{seq}"]').wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # the server would have answered by now, had it been asked
        shown = _strip(page)
        assert shown["serverSeq"] != seq and shown["source"] == "browser", shown
        assert sum(bool(ERROR_RE.search(t)) for t in shown["texts"]) == 3, shown["texts"]
    except PlaywrightError as err:
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err
    finally:
        context.close()


def test_without_the_runtime_the_pad_says_so_and_the_server_answers(streamlit_server, chromium):
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.route("**/app/static/ort/**", lambda route: route.fulfill(status=404, body="not found"))
    try:
        pad = _open(page, streamlit_server)
        assert pad.evaluate("el => el.dataset.browser") == "failed"
        assert "on the server" in page.locator(".ll-status").first.inner_text()
        _draw(page, pad, STROKES[:1])
        seq = pad.evaluate("el => el.dataset.seq")
        page.locator(f'{STRIP}[data-server-seq="{seq}"]').wait_for(timeout=PAGE_TIMEOUT_MS)
        shown = _strip(page)
        assert shown["source"] == "server" and "browserSeq" not in shown, shown
        assert sum(bool(ERROR_RE.search(t)) for t in shown["texts"]) == 3, shown["texts"]
    except PlaywrightError as err:
        raise AssertionError(f"{err}\n\n--- streamlit log (tail) ---\n{streamlit_server.log_tail()}") from err
    finally:
        context.close()
