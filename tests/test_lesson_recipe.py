"""The lesson's code as the app shows it (core.lab.lesson_recipe): every table row names its own line, the
program builds exactly our `lesson` model, and the non-digit shapes of the lesson's capacity step."""

from __future__ import annotations

import numpy as np

from core.lab import lesson_recipe as recipe


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
