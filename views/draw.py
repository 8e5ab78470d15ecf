"""Draw a digit; see what the model sees and three autoencoders' reconstructions."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.compare import reconstruct_all
from core.errors import LatentLabError
from core.plots import image_row
from core.preprocess import from_canvas
from views.common import (
    mnist_test_digit,
    model_for,
    remember_user_digit,
    shipped_model,
    show_error,
    title,
    trained_models,
)

MODELS = ("lesson", "conv_ae", "vae_2d")
CANVAS_PX = 280  # 10× MNIST's 28 px, so a finger or mouse stroke is a plausible pen width

st.title("✏️ Draw a digit")
st.caption("Draw 0–9 in the black box. Three autoencoders squeeze it through a small code and rebuild it.")

left, right = st.columns([1, 2], gap="large")
with left:
    canvas = st_canvas(
        stroke_width=20, stroke_color="#FFFFFF", background_color="#000000",
        height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw", return_image_data=True,
        update_streamlit=True, key="draw_canvas",
    )
    st.caption("The canvas toolbar icons undo, redo and clear. Works with mouse, pen and touch.")
    example = st.number_input("…or load MNIST test digit #", 0, 9999, value=0, step=1, key="draw_example_index")
    use_example = st.toggle("Show this test digit instead of my drawing", key="draw_use_example")
    mine = trained_models()
    extra = st.multiselect("Also compare models trained in the Training lab", list(mine), key="draw_extra",
                           disabled=not mine, placeholder="none trained yet" if not mine else "choose models")

with right:
    try:
        if use_example:
            image, label = mnist_test_digit(int(example))
            steps, source = [("MNIST test digit", image)], f"MNIST test #{int(example)} (a {label})"
            x = image  # MNIST digits are already MNIST-style
        else:
            rgba = canvas.image_data if canvas is not None else None
            if rgba is None or not np.any(rgba[..., :3]):
                st.info("Draw a digit on the canvas (or switch on a test digit) to see the reconstructions.")
                st.stop()
            pre = from_canvas(rgba)
            x, steps, source = pre.image, pre.steps, "your drawing"
        remember_user_digit(x, source)
        models = {title(name): shipped_model(name) for name in MODELS} | {label: model_for(mine[label]) for label in extra}
        recs = reconstruct_all(models, x)
    except LatentLabError as err:
        show_error(err)
        st.stop()

    st.plotly_chart(
        image_row([x] + [r.image for r in recs],
                  ["what the model sees<br>28×28"] + [f"{r.name}<br>error {r.bce:.3f}" for r in recs]),
        key="draw_reconstructions", config={"displayModeBar": False},
    )
    st.caption("Error = mean per-pixel binary cross-entropy between the input and the reconstruction "
               "(the loss the models were trained on; lower is better).")
    with st.expander("How your drawing became a 28×28 MNIST-style image"):
        st.plotly_chart(image_row([s for _, s in steps], [c for c, _ in steps], height=220), key="draw_steps",
                        config={"displayModeBar": False})

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
