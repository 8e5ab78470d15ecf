"""Draw a digit; see what the model sees and three autoencoders' reconstructions.

Our own pad (views/canvas) sends the drawing on pointer-up; one `st.fragment` holds the pad, the
options and the results, so a stroke reruns only that. The models are served by spec
(`core.serving.infer`: the shipped ones without TensorFlow); results are cached per drawing, since
Undo and Redo revisit drawings.
"""

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.lab.preprocess import from_canvas_ink
from core.lab.zoo import models_of, spec_named
from views.canvas import draw_pad, image_strip, ink_from_drawing
from views.common import (
    mnist_test_count,
    mnist_test_digit,
    note_subset,
    pick_trained_models,
    remember_user_digit,
    served,
    show_error,
    title,
)

MODELS = models_of("draw")


@st.cache_data(max_entries=256, show_spinner=False)
def _reconstructions(x: np.ndarray, names: tuple[str, ...], extra: tuple) -> list:
    """x (28, 28) → `core.lab.compare.Reconstruction`s from the shipped models `names` and the
    Training-lab models `extra` ((name, spec) pairs), in that order."""
    from core.lab.compare import reconstruct_all

    models = {title(n): served(spec_named(n)) for n in names} | {name: served(spec) for name, spec in extra}
    return reconstruct_all(models, x)


def _show(x: np.ndarray, steps: list, source: str, extra: tuple) -> None:
    remember_user_digit(x, source)
    recs = _reconstructions(x, MODELS, extra)
    image_strip([x] + [r.image for r in recs], ["what the model sees"] + [r.name for r in recs],
                ["28×28"] + [f"error {r.bce:.3f}" for r in recs], key="draw_reconstructions", height=140)
    st.caption("Error = mean per-pixel binary cross-entropy between the input and the reconstruction "
               "(the loss the models were trained on; lower is better).")
    with st.expander("How your drawing became a 28×28 MNIST-style image"):
        image_strip([s for _, s in steps], [c for c, _ in steps], key="draw_steps", height=96)


@st.fragment
def _lab() -> None:
    """Pad, options and results. Inside a fragment, a stroke or an option reruns only this."""
    left, right = st.columns([1, 2], gap="large")
    with left:
        drawing = draw_pad(key="draw_canvas")
        st.caption("Draw with a mouse, pen or finger; ↶ undoes a stroke, ↷ redoes it, ✕ clears.")
        example = st.number_input("…or load MNIST test digit #", 0, mnist_test_count() - 1, value=0, step=1,
                                  key="draw_example_index")
        use_example = st.toggle("Show this test digit instead of my drawing", key="draw_use_example")
        if use_example:
            note_subset()
        extra = tuple(pick_trained_models("draw_extra"))

    with right:
        try:
            if use_example:
                image, label = mnist_test_digit(int(example))
                x, steps, source = image, [("MNIST test digit", image)], f"MNIST test #{int(example)} (a {label})"
            elif drawing is None:
                st.info("Draw a digit on the canvas (or switch on a test digit) to see the reconstructions.")
                return
            else:
                pre = from_canvas_ink(ink_from_drawing(drawing))
                x, steps, source = pre.image, pre.steps, "your drawing"
            _show(x, steps, source, extra)
        except LatentLabError as err:
            show_error(err)


st.title("✏️ Draw a digit")
st.caption("Draw 0–9 in the black box. Three autoencoders squeeze it through a small code and rebuild it.")
for _name in MODELS:  # load before the first stroke
    served(spec_named(_name))
_lab()

st.divider()
st.subheader("Encoder → code → decoder")
st.markdown(
    """
- The **encoder** turns 784 pixel values into a handful of numbers, the *code* (16 for the lesson's
  dense model, 64 for the convolutional one, 2 for the VAE).
- The **decoder** only ever sees the code, so whatever survives the squeeze is what the network
  judged most useful for redrawing digits. Thin strokes, odd slants and stray marks tend not to survive.
- The **VAE**'s encoder outputs a small Gaussian cloud rather than a point; here we decode its centre.
  Its 2 numbers are far fewer than the others' code, which is why its redrawings are blurrier.
- A shape the models never saw in training (a letter, a scribble) comes back looking like a digit,
  with a large error: that is the idea behind anomaly detection.
"""
)
