"""A small drawing pad of our own and a light image strip (Streamlit components v2, inline HTML/CSS/JS
from this folder).

Why not streamlit-drawable-canvas: it PNG-encodes the whole canvas and throttles its sends, so a stroke
is slow to reach Python. This pad sends, on pointer-up, the grey levels of the ink's
bounding box plus a margin (a typical digit ~230×130 bytes, at most 280×280), so Python's result is
`from_canvas`'s. Mouse, pen and touch draw alike (pointer events,
`touch-action: none`); Undo, Redo and Clear are buttons inside the component.

Given the in-browser models (`core.serving.browser.in_browser`), the pad also answers each drawing
itself: numerics.js, ink.js and mnist.js are the server's preprocessing and error ported to JavaScript,
in_browser.js runs the exported models with onnxruntime-web, and the strip that follows the pad paints
the answer at once. A drawing the pad answers is marked `browser: true`, and the server then runs only what the pad cannot
(models trained in the Training lab), leaving the strip's first panels to the pad (strip.js says how the
two are put together); any other drawing the server answers in full.

The strip shows small grey images with captions as raw uint8 pixels painted into canvases, far cheaper
per stroke than building and sending a Plotly figure of heatmaps (docs/performance.md).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import LatentLabError

CANVAS_PX = 280  # bitmap side: 10× MNIST's 28 px, so a finger or mouse stroke is a plausible pen width
STROKE_PX = 20  # pen width in bitmap pixels: 2 px at 28×28, MNIST's typical stroke
MARGIN_PX = 8  # black border the pad keeps around the ink's bounding box
MAX_SIDE = 1024  # a drawing larger than this per side did not come from this pad
MAX_STROKES, MAX_POINTS = 500, 20_000  # more strokes, or points in one, than a drawing to restore has

_HERE = Path(__file__).resolve().parent


def _component(name: str, stem: str, js_before: tuple[str, ...] = ()):
    """Register `stem`.html/.css/.js from this folder, inline, as component `name`; the scripts
    `js_before` (file names here) go first, in the same module."""
    source = {kind: (_HERE / f"{stem}.{kind}").read_text(encoding="utf-8") for kind in ("html", "css", "js")}
    source["js"] = "\n".join([*((_HERE / f).read_text(encoding="utf-8") for f in js_before), source["js"]])
    return st.components.v2.component(name, **source)


# Registered once per process, when a page first imports this module (components must not be
# re-registered on every rerun; see st.components.v2.component's docs).
# The server's preprocessing and error ported to JavaScript, in the order the files build on each other.
PORT_JS = ("numerics.js", "ink.js", "mnist.js")
_mount_pad = _component("latent_lab.draw_pad", "canvas", js_before=(*PORT_JS, "in_browser.js"))
_mount_strip = _component("latent_lab.image_strip", "strip")


def draw_pad(*, key: str, browser: dict | None = None, initial: list | None = None,
             on_clear: Callable[[], None] | None = None) -> dict | None:
    """Show the pad; return what it last sent (decode it with `ink_from_drawing`, its strokes with
    `strokes_from_drawing`): None while it is empty. A new stroke, Undo, Redo or Clear reruns the
    enclosing fragment.

    `browser`: the models the pad runs itself ({runtime, models, reason}: `InBrowser.to_json()`), whose
    answers go to the `image_strip` that follows the pad; None: the server answers alone.

    `initial`: strokes ([[x, y], ...] each, bitmap pixels: `strokes_from_drawing` of an earlier drawing) a
    newly mounted pad starts with, painted and undoable; the pad sends nothing for them (it returns None)
    until the user changes the drawing. A pad already on the page ignores it. `on_clear`: called when a
    pad that started with `initial` strokes and sent nothing since is emptied (Undo or Clear): its value
    stays None, so this is the only sign of it."""
    result = _mount_pad(
        key=key,
        data={"size": CANVAS_PX, "stroke": STROKE_PX, "margin": MARGIN_PX, "browser": browser,
              "initial": {"strokes": initial} if initial else None},
        default={"drawing": None},
        on_drawing_change=lambda: None,  # a state key must have a callback; the rerun is what we need
        on_cleared_change=on_clear or (lambda: None),
        width="stretch",
    )
    return result.get("drawing")


def strokes_from_drawing(drawing: dict | None) -> list | None:
    """The stroke points a pad's drawing carries ({..., points: [[[x, y], ...], ...]}), checked and as plain
    floats, for `draw_pad(initial=...)`; None if it has none (an empty pad, or a drawing from a pad
    that sent only a stroke count) or they are malformed."""
    points = drawing.get("points") if isinstance(drawing, dict) else None
    if not isinstance(points, list) or not points or len(points) > MAX_STROKES:
        return None
    out = []
    for stroke in points:
        if not isinstance(stroke, list) or not 1 <= len(stroke) <= MAX_POINTS:
            return None
        try:
            pts = [[float(x), float(y)] for x, y in stroke]
        except (TypeError, ValueError):
            return None
        if not all(np.isfinite(v) for p in pts for v in p):
            return None
        out.append(pts)
    return out


def ink_from_drawing(drawing: dict | None) -> np.ndarray | None:
    """The pad's state value {w, h, ink: base64 of h·w bytes, ...} → ink (h, w) uint8, strokes light on
    0 (the ink's bounding box plus margin), or None if the pad is empty."""
    if drawing is None:
        return None
    if not isinstance(drawing, dict):
        raise LatentLabError(f"the drawing pad sent {type(drawing).__name__}, expected a dict with w, h and ink")
    w, h, ink = drawing.get("w"), drawing.get("h"), drawing.get("ink")
    if not (isinstance(w, int) and isinstance(h, int) and 1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise LatentLabError(f"the drawing pad sent a size of {w!r}×{h!r}; expected whole numbers 1..{MAX_SIDE}")
    if not isinstance(ink, str):
        raise LatentLabError("the drawing pad sent no pixels (ink must be a base64 string)")
    try:
        raw = base64.b64decode(ink, validate=True)
    except (binascii.Error, ValueError):
        raise LatentLabError("the drawing pad sent pixels that are not valid base64") from None
    if len(raw) != w * h:
        raise LatentLabError(f"the drawing pad sent {len(raw)} pixels for a {w}×{h} drawing ({w * h} expected)")
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w)  # row-major, as the pad wrote them


def image_strip(images: list[np.ndarray], titles: list[str], notes: list[str] | None = None, *, key: str,
                height: int = 120, follow_pad: bool = False, seq: int | None = None, lead: int = 0) -> None:
    """Grey images (each 2-D, values in [0, 1], any size) side by side, `height` CSS pixels tall, with a
    title and an optional note under each.

    `follow_pad`: also paint the answers the Draw pad computes in the browser, at once; `seq`: the pad
    drawing these images answer (its `seq`), so that the older of two answers never replaces the newer.
    `lead`: the number of panels the pad's own answer to drawing `seq` puts first (the server did not
    compute them); the images given go after them."""
    notes = notes if notes is not None else [""] * len(images)
    assert len(images) == len(titles) == len(notes), (len(images), len(titles), len(notes))
    assert not lead or (follow_pad and seq is not None), "only a strip that follows the pad leaves panels to it"
    _mount_strip(key=key, data={"height": height, "follow": follow_pad, "seq": seq, "lead": lead, "panels": [
        {"title": t, "note": n, **_grey_payload(img)} for img, t, n in zip(images, titles, notes, strict=True)
    ]}, height="content")


def _grey_payload(image: np.ndarray) -> dict:
    """2-D image in [0, 1] (h, w) → {w, h, pixels: base64 of its uint8 levels, row-major}."""
    a = np.asarray(image, dtype=np.float32)
    a = a.reshape(a.shape[:2])  # (h, w, 1) → (h, w)
    levels = np.rint(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8)
    return {"w": int(a.shape[1]), "h": int(a.shape[0]), "pixels": base64.b64encode(levels.tobytes()).decode("ascii")}


__all__ = ["CANVAS_PX", "STROKE_PX", "MARGIN_PX", "draw_pad", "ink_from_drawing", "strokes_from_drawing",
           "image_strip"]
