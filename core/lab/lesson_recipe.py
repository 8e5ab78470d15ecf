"""The course lesson's own Keras code (section 5.4), in our formatting, each line annotated with what it
does in this app: the one definition the Draw page, the Train page and lesson mode all show.

The model it builds is our shipped `lesson` model (`core.lab.models.build_lesson`, registry entry
"lesson" in `core.lab.zoo`): the same layers, loss, optimiser, batch size and epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.lab.zoo import SHIPPED

LESSON_MODEL = "lesson"  # the registry name of the model this code builds
SPEC = SHIPPED[LESSON_MODEL]
# What the lesson's last line prints: Keras's mean per-pixel binary cross-entropy on the 10 000 test
# digits. The lesson's text shows the print statement, not a value; running its recipe gives ≈ 0.123
# (our own run's figure is the manifest's `test_bce`, read through the model store).
PRINTED_METRIC = "test_bce"
LESSON_TEST_LOSS = 0.123


@dataclass(frozen=True)
class Line:
    """One line of the lesson's code: the code, what it does here, and the page where you see it
    (a `views/*.py` path, or "" for none)."""

    code: str
    does: str
    page: str = ""


PAGE_TITLES = {"views/draw.py": "✏️ Draw", "views/train.py": "🏋️ Train", "views/anomaly.py": "🚨 Anomalies",
               "views/upload.py": "📤 Upload"}

LINES: tuple[Line, ...] = (
    Line("inputs = keras.Input(shape=(28, 28, 1))",
         "One digit: 28×28 grey levels in [0, 1] — the 'what the model sees' panel.", "views/draw.py"),
    Line("h = layers.Flatten()(inputs)",
         "The 784 pixels in one row: dense layers ignore which pixels are neighbours."),
    Line('h = layers.Dense(64, activation="relu")(h)', "Encoder: 784 → 64 numbers."),
    Line('h = layers.Dense(32, activation="relu")(h)', "Encoder: 64 → 32."),
    Line('code = layers.Dense(16, activation="relu")(h)',
         "The code: 16 numbers per digit, all the decoder will ever get.", "views/draw.py"),
    Line("encoder = keras.Model(inputs, code)", "The encoder alone: image → code."),
    Line("z = keras.Input(shape=(16,))", "The decoder starts from a code."),
    Line('h = layers.Dense(32, activation="relu")(z)', "Decoder: 16 → 32."),
    Line('h = layers.Dense(64, activation="relu")(h)', "Decoder: 32 → 64."),
    Line('h = layers.Dense(784, activation="sigmoid")(h)',
         "784 values in (0, 1): each pixel's chance of being ink."),
    Line("outputs = layers.Reshape((28, 28, 1))(h)", "Back to an image: the reconstruction you see.", "views/draw.py"),
    Line("decoder = keras.Model(z, outputs)", "The decoder alone: code → image."),
    Line("autoencoder = keras.Model(inputs, decoder(code))", "Encoder then decoder: image → image."),
    Line('autoencoder.compile(optimizer="adam", loss="binary_crossentropy")',
         "Adam (learning rate 0.001) and the BCE loss: the 'error' under each reconstruction.", "views/draw.py"),
    Line("autoencoder.fit(x_train, x_train, epochs=10, batch_size=256, shuffle=True)",
         "Input = target: no labels (unsupervised). The 60 000 training digits scaled to [0, 1]; "
         "the lesson leaves x_train undefined. Train it yourself with the preset \"The lesson's model\".",
         "views/train.py"),
    Line("loss = autoencoder.evaluate(x_test, x_test, verbose=0)",
         "Mean BCE on the 10 000 test digits the model never trained on.", "views/anomaly.py"),
    Line('print("Test loss:", loss)', "Our run of this exact recipe prints the number beside this code."),
)

HEADER = "import keras\nfrom keras import layers\n"
FIRST_LINE = HEADER.count("\n") + 1  # the number `LINES[0]` has in `code_text()`


def code_text() -> str:
    """The whole program: the imports, then `LINES` (line `FIRST_LINE` onwards)."""
    return HEADER + "\n".join(line.code for line in LINES)


def table_rows() -> list[dict]:
    """One row per line of code: its number, the code, what it does here, and where to see it."""
    return [{"line": FIRST_LINE + i, "code": line.code, "what it does here": line.does, "where": PAGE_TITLES.get(line.page, "")}
            for i, line in enumerate(LINES)]


def pages() -> list[str]:
    """The pages the annotations point to, in order of first mention."""
    return list(dict.fromkeys(line.page for line in LINES if line.page))
