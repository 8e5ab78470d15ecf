"""The Draw pad's input format: what views/canvas/canvas.js sends, decoded by `ink_from_drawing` and
preprocessed by `from_canvas_ink`, gives the same 28×28 input as `from_canvas` on the whole canvas.

Reference drawings are rendered with Pillow (4× supersampled, round caps and joins: what a browser's
canvas paints); `_pad_payload` does in numpy what canvas.js does in the browser. The browser test
(test_browser_draw.py) checks the real pad against `from_canvas` end to end.
"""

import base64

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import LatentLabError
from core.lab.mnist_frame import SIZE, centre_of_mass
from core.lab.preprocess import from_canvas, from_canvas_ink
from views.canvas import CANVAS_PX, MARGIN_PX, STROKE_PX, _grey_payload, ink_from_drawing, strokes_from_drawing

# Strokes in canvas pixels (280×280), as a student might draw them.
DRAWINGS = {
    "1": [[(150, 40), (140, 140), (130, 250)]],
    "4": [[(150, 40), (140, 140), (130, 250)], [(70, 50), (60, 140), (120, 150), (230, 145)]],
    "7": [[(50, 50), (230, 50), (120, 250)]],
    "0": [[(140, 30), (80, 70), (60, 140), (80, 220), (140, 250), (200, 220), (220, 140), (200, 70), (140, 30)]],
    "2": [[(70, 80), (140, 40), (210, 80), (200, 140), (80, 240), (230, 240)]],
    "small 1": [[(100, 100), (110, 130), (105, 160)]],  # a digit drawn small
    "corner 7": [[(5, 5), (90, 5), (40, 120)]],  # touching the canvas's edge: the margin is clipped
    "dot": [[(140, 140)]],
}


def _render(strokes, size=CANVAS_PX, width=STROKE_PX, ss=4) -> np.ndarray:
    """White strokes on black (size, size) uint8, anti-aliased by 4× supersampling."""
    im = Image.new("L", (size * ss, size * ss), 0)
    d = ImageDraw.Draw(im)
    r = width * ss / 2
    for s in strokes:
        pts = [(x * ss, y * ss) for x, y in s]
        if len(pts) > 1:
            d.line(pts, fill=255, width=width * ss, joint="curve")
        for x, y in pts:  # round caps and joins
            d.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(im.reduce(ss))


def _pad_payload(g: np.ndarray, margin=MARGIN_PX) -> dict:
    """canvas.js's `sample()` in numpy: the ink's bounding box plus margin (clipped to the canvas)."""
    size = g.shape[0]
    rows, cols = np.flatnonzero(g.max(axis=1)), np.flatnonzero(g.max(axis=0))
    y0, y1 = max(0, rows[0] - margin), min(size, rows[-1] + 1 + margin)
    x0, x1 = max(0, cols[0] - margin), min(size, cols[-1] + 1 + margin)
    ink = np.ascontiguousarray(g[y0:y1, x0:x1])
    return {"w": int(x1 - x0), "h": int(y1 - y0), "ink": base64.b64encode(ink.tobytes()).decode(), "strokes": 1, "seq": 1}


def _rgba(g: np.ndarray) -> np.ndarray:
    return np.dstack([g, g, g, np.full_like(g, 255)])


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_pad_input_matches_from_canvas_on_the_whole_canvas(name):
    g = _render(DRAWINGS[name])
    expected = from_canvas(_rgba(g)).image
    payload = _pad_payload(g)
    got = from_canvas_ink(ink_from_drawing(payload)).image
    assert got.shape == (SIZE, SIZE) and got.dtype == np.float32
    diff = np.abs(got - expected)
    # Measured: mean ≤ 1e-4 and max ≤ 0.006 over these drawings (float rounding in the resampling);
    # a one-pixel shift of the digit gives a mean of 0.05–0.09.
    assert diff.mean() < 1e-3, (name, diff.mean())
    assert diff.max() < 0.01, (name, diff.max())
    assert np.allclose(centre_of_mass(got), centre_of_mass(expected), atol=0.1)


def test_the_crop_keeps_a_margin_inside_the_canvas():
    one = _pad_payload(_render(DRAWINGS["1"]))
    assert one["w"] < CANVAS_PX // 4 and one["h"] < CANVAS_PX  # a "1" is narrow: most of the canvas is not sent
    # A crop that touches the canvas's edge is clipped there, not padded.
    corner = _pad_payload(_render(DRAWINGS["corner 7"]))
    assert corner["w"] < CANVAS_PX and corner["h"] < CANVAS_PX


def test_ink_from_drawing_round_trip():
    ink = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    drawing = {"w": 4, "h": 3, "ink": base64.b64encode(ink.tobytes()).decode(), "strokes": 2, "seq": 5}
    out = ink_from_drawing(drawing)
    assert out.dtype == np.uint8 and out.shape == (3, 4)
    np.testing.assert_array_equal(out, ink)
    assert ink_from_drawing(None) is None  # an empty pad


def test_strokes_from_drawing_gives_the_pads_points_back():
    """What draw_pad(initial=...) hands a new pad: the drawing's points, or None when it has none or bad ones."""
    points = [[[150.5, 40], [140, 140.2]], [[70, 50]]]
    drawing = {"w": 4, "h": 3, "ink": "", "strokes": 2, "points": points, "seq": 5}
    assert strokes_from_drawing(drawing) == [[[150.5, 40.0], [140.0, 140.2]], [[70.0, 50.0]]]
    assert strokes_from_drawing({"w": 4, "h": 3, "ink": "", "strokes": 2, "seq": 5}) is None  # a count only
    assert strokes_from_drawing(None) is None
    for bad in ([], [[]], [[[1, 2, 3]]], [[["a", 2]]], [[[float("nan"), 2]]], "xy", [[1, 2]]):
        assert strokes_from_drawing({"points": bad}) is None, bad


@pytest.mark.parametrize(
    ("drawing", "message"),
    [
        ([1, 2, 3], "expected a dict"),
        ({"w": 0, "h": 3, "ink": ""}, "size of 0×3"),
        ({"w": 2.5, "h": 3, "ink": ""}, "whole numbers"),
        ({"w": 5000, "h": 3, "ink": ""}, "whole numbers 1..1024"),
        ({"w": 2, "h": 2}, "no pixels"),
        ({"w": 2, "h": 2, "ink": "not base64!"}, "not valid base64"),
        ({"w": 2, "h": 2, "ink": base64.b64encode(b"abc").decode()}, "3 pixels for a 2×2 drawing"),
    ],
)
def test_bad_drawings_are_clear_errors(drawing, message):
    with pytest.raises(LatentLabError, match=message):
        ink_from_drawing(drawing)


def test_from_canvas_ink_rejects_bad_input():
    with pytest.raises(LatentLabError, match="2-D ink image"):
        from_canvas_ink(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(LatentLabError, match="uint8"):
        from_canvas_ink(np.zeros((4, 4), np.float32))
    with pytest.raises(LatentLabError, match="no ink"):
        from_canvas_ink(np.zeros((40, 40), np.uint8))


def test_strip_payload_round_trips_grey_levels():
    img = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28, 1)
    p = _grey_payload(img)
    assert (p["w"], p["h"]) == (28, 28)
    levels = np.frombuffer(base64.b64decode(p["pixels"]), np.uint8).reshape(28, 28)
    np.testing.assert_allclose(levels / 255.0, img[..., 0], atol=0.5 / 255 + 1e-6)
    tall = _grey_payload(np.ones((5, 3)) * 2.0)  # clipped to [0, 1]; width and height kept apart
    assert (tall["w"], tall["h"]) == (3, 5) and set(base64.b64decode(tall["pixels"])) == {255}
