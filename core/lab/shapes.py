"""Shapes that are not digits, drawn the way the Draw page's pad draws (white strokes 20 px wide on a
280×280 black canvas), for the lesson's step on what a wide code can copy. `from_canvas_ink` turns each
into the 28×28 input the models see, exactly as it does a drawing.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.errors import LatentLabError

CANVAS_PX, STROKE_PX = 280, 20  # as views/canvas: the pad's bitmap side and pen width


def _star() -> list[list[tuple[float, float]]]:
    """A five-pointed star drawn in one stroke, point to point (the way people draw it)."""
    c, r = CANVAS_PX / 2, CANVAS_PX * 0.38
    angles = np.deg2rad(-90 + 144 * np.arange(6))  # every second vertex of a pentagon, back to the start
    return [[(c + r * np.cos(a), c + r * np.sin(a)) for a in angles]]


def _letter_a() -> list[list[tuple[float, float]]]:
    return [[(70, 240), (140, 40), (210, 240)], [(100, 160), (180, 160)]]


def _spiral() -> list[list[tuple[float, float]]]:
    t = np.linspace(0, 4 * np.pi, 80)
    r = 12 + 8.5 * t
    return [[(140 + ri * np.cos(ti), 140 + ri * np.sin(ti)) for ri, ti in zip(r, t, strict=True)]]


SHAPES = {"a star": _star, "the letter A": _letter_a, "a spiral": _spiral}


def drawn_shape(name: str) -> np.ndarray:
    """The pad's bitmap of shape `name` (see SHAPES): uint8 (280, 280), white strokes on black."""
    if name not in SHAPES:
        raise LatentLabError(f"unknown shape {name!r}; shapes: {', '.join(SHAPES)}")
    image = Image.new("L", (CANVAS_PX, CANVAS_PX), 0)
    pen = ImageDraw.Draw(image)
    for stroke in SHAPES[name]():
        pen.line(stroke, fill=255, width=STROKE_PX, joint="curve")
        for x, y in (stroke[0], stroke[-1]):  # round caps, as the pad's
            pen.ellipse((x - STROKE_PX / 2, y - STROKE_PX / 2, x + STROKE_PX / 2, y + STROKE_PX / 2), fill=255)
    return np.asarray(image, dtype=np.uint8)
