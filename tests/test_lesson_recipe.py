"""The lesson's code as the app shows it (core.lab.lesson_recipe): every table row names its own line, the
program builds exactly our `lesson` model, and the non-digit shapes of the lesson's capacity step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.lab import lesson_recipe as recipe

ROOT = Path(__file__).resolve().parent.parent


def test_each_table_row_names_its_line_of_the_shown_code():
    lines = recipe.code_text().splitlines()
    for row in recipe.table_rows():
        assert lines[row["line"] - 1] == row["code"]
        assert row["where"] == "" or row["where"] in recipe.PAGE_TITLES.values()
    assert recipe.pages()[0] == "views/draw.py"


def test_the_shown_code_builds_the_shipped_lesson_model():
    """Run the program up to `compile` (no training) and compare it with core.lab.models.build_lesson, layer
    by layer: the same output widths, activations and number of weights."""
    import keras

    from core.lab.models import build_lesson

    program = "\n".join(line.code for line in recipe.LINES if not line.code.startswith(("autoencoder.fit", "loss =", "print")))
    scope: dict = {}
    exec(recipe.HEADER + program, scope)  # noqa: S102 (our own constant text)
    ours, theirs = build_lesson(recipe.SPEC), scope["autoencoder"]
    assert theirs.count_params() == ours.count_params()

    def dense(model):
        return [(layer.units, layer.activation.__name__) for layer in model.layers if isinstance(layer, keras.layers.Dense)]

    assert dense(scope["encoder"]) == dense(ours.get_layer("encoder")) == [(64, "relu"), (32, "relu"), (16, "relu")]
    assert dense(scope["decoder"]) == dense(ours.get_layer("decoder")) == [(32, "relu"), (64, "relu"), (784, "sigmoid")]
    assert theirs.loss == "binary_crossentropy" and theirs.optimizer.learning_rate.numpy() == np.float32(recipe.SPEC.learning_rate)
    assert (recipe.SPEC.epochs, recipe.SPEC.batch_size) == (10, 256)  # as in the `fit` line


def test_shapes_are_drawn_like_the_pad():
    from core.lab.preprocess import from_canvas_ink
    from core.lab.shapes import SHAPES, drawn_shape

    for name in SHAPES:
        ink = drawn_shape(name)
        assert ink.shape == (280, 280) and ink.dtype == np.uint8 and 0.05 < (ink > 0).mean() < 0.4
        x = from_canvas_ink(ink).image
        assert x.shape == (28, 28) and x.max() > 0.9


def test_the_draw_page_quotes_the_star_errors_the_models_give():
    """views/draw.py says what the shipped models do with a drawn star (issue 15: text that matches the
    models); if a retrained model changes them, the page's words must change too."""
    import re

    from core.lab.metrics import per_image_bce
    from core.lab.preprocess import from_canvas_ink
    from core.lab.shapes import drawn_shape
    from core.lab.zoo import spec_named
    from core.serving.infer import served

    text = " ".join((ROOT / "views" / "draw.py").read_text(encoding="utf-8").split())
    quoted = re.search(r"a star: about ([\d.]+) and ([\d.]+), against ([\d.]+) and ([\d.]+) on a typical test digit\)"
                       r"\. The 64-number conv AE rebuilds even the star fairly well \(about ([\d.]+)\)", text)
    assert quoted, "the Draw page's sentence about the star changed: update this test with it"
    lesson_star, vae_star, lesson_typical, vae_typical, conv_star = map(float, quoted.groups())
    x = from_canvas_ink(drawn_shape("a star")).image[None, ..., None]  # (1, 28, 28, 1)
    star = {n: float(per_image_bce(x, served(spec_named(n)).reconstruct(x))[0]) for n in ("lesson", "vae_2d", "conv_ae")}
    assert star["lesson"] == pytest.approx(lesson_star, abs=0.03)
    assert star["vae_2d"] == pytest.approx(vae_star, abs=0.03)
    assert star["conv_ae"] == pytest.approx(conv_star, abs=0.03)
    manifest = json.loads((ROOT / "assets" / "manifest.json").read_text())["models"]
    assert manifest["lesson"]["metrics"]["test_bce"] == pytest.approx(lesson_typical, abs=0.01)
    assert manifest["vae_2d"]["metrics"]["test_bce"] == pytest.approx(vae_typical, abs=0.01)
    assert star["lesson"] > 2 * lesson_typical and star["vae_2d"] > 1.5 * vae_typical  # "their error jumps"
