"""Denoising lab: corrupt a digit, and compare a plain AE with a denoising AE at cleaning it.

A rerun (noise level, type, seed, digit) corrupts one image and cleans it with each served model; what
depends only on the noise type and level (the sweeps, their chart, the transfer table) is cached for
the server."""

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.figures.plots import image_row, psnr_sweep_figure
from core.lab.denoise import SWEEP_LEVELS, denoise_one, psnr_sweep, transfer_table
from core.lab.metrics import psnr_label
from core.lab.zoo import models_of, spec_named
from views.common import (
    USER_DIGIT_KEY,
    mnist_test_count,
    mnist_test_digit,
    note_subset,
    pick_trained_models,
    served,
    show_error,
    title,
)

MODELS = models_of("denoise")
NOISE_LABELS = {"gaussian": "Gaussian", "salt_and_pepper": "Salt and pepper", "mask": "Masking (erased blocks)"}
LEVEL_SLIDERS = {  # label, max, default, step
    "gaussian": ("Noise σ", 1.0, 0.5, 0.05),
    "salt_and_pepper": ("Fraction of pixels flipped to black or white", 0.6, 0.2, 0.02),
    "mask": ("Fraction of 4×4 blocks erased", 0.8, 0.3, 0.05),
}


@st.cache_data(show_spinner="Measuring PSNR over noise levels on 300 test digits…")
def cached_sweep(kind: str) -> dict:
    return psnr_sweep({title(n): served(spec_named(n)) for n in MODELS}, kind)


@st.cache_resource(show_spinner=False, max_entries=128)
def sweep_figure(kind: str, level: float):
    """The sweep chart with `level` marked: one per (type, slider stop), shared read-only by every
    session (st.plotly_chart only reads it): the curves never change."""
    return psnr_sweep_figure(cached_sweep(kind), kind, level)


@st.cache_data(show_spinner=False)
def transfer_rows() -> list[dict]:
    """The 'trained on one noise, tested on another' rows, read off the three cached sweeps."""
    rows = transfer_table({k: cached_sweep(k) for k in NOISE_LABELS}, gain=(title("denoise"), title("conv_ae")))
    return [r | {"noise": NOISE_LABELS[r["noise"]]} for r in rows]


st.title("🧽 Denoising lab")
st.caption("Add noise to a digit, then ask two autoencoders to clean it: one trained on clean digits, "
           "one trained on noisy digits with the clean ones as targets.")

with st.sidebar:
    st.header("Input")
    sources = ["MNIST test digit"] + (["My drawing or upload"] if USER_DIGIT_KEY in st.session_state else [])
    source = st.radio("Digit", sources, key="dn_source")
    if source == "MNIST test digit":
        if st.button("🎲 Random test digit", key="dn_random"):
            st.session_state["dn_index"] = int(np.random.default_rng().integers(mnist_test_count()))
        index = st.number_input("Test digit #", 0, mnist_test_count() - 1, value=0, step=1, key="dn_index")
    st.header("Noise")
    kind = st.selectbox("Type", list(NOISE_LABELS), format_func=NOISE_LABELS.get, key="dn_kind")
    label, hi, default, step = LEVEL_SLIDERS[kind]
    level = st.slider(label, 0.0, hi, default, step, key=f"dn_level_{kind}")
    seed = st.number_input("Noise seed (same seed = same picture for everyone)", 0, 10_000, 0, key="dn_seed")
    extra = pick_trained_models("dn_extra", "Also clean with models trained in the Training lab")

try:
    if source == "MNIST test digit":
        clean, label_ = mnist_test_digit(int(index))
        caption = f"test digit #{int(index)} (a {label_})"
    else:
        clean, caption = st.session_state[USER_DIGIT_KEY]["image"], st.session_state[USER_DIGIT_KEY]["source"]
    models = {title(n): served(spec_named(n)) for n in MODELS} | {name: served(spec) for name, spec in extra}
    scored = denoise_one(models, clean, kind, float(level), int(seed))
except LatentLabError as err:
    show_error(err)
    st.stop()

images = [clean] + [s.image for s in scored]
titles = [f"clean<br>{caption}"] + [f"{s.name}<br>PSNR {psnr_label(s.psnr)} · SSIM {s.ssim:.2f}" for s in scored]
st.plotly_chart(image_row(images, titles, height=300), key="dn_images", config={"displayModeBar": False})
st.caption("PSNR and SSIM compare each image with the clean one (TensorFlow's `tf.image.psnr` and "
           "`tf.image.ssim`). Higher is better; PSNR is in decibels, SSIM is at most 1.")

st.subheader("How each model copes as the noise grows")
try:
    curves = cached_sweep(kind)
except LatentLabError as err:
    show_error(err)
    st.stop()
st.plotly_chart(sweep_figure(kind, float(level)), key="dn_sweep", config={"displayModeBar": False})
i = int(np.argmin(np.abs(curves["level"] - float(level))))
gain = curves[title("denoise")][i] - curves[title("conv_ae")][i]
st.caption(
    f"Mean over the same 300 MNIST test digits at each level (for the noisy input, over the digits the "
    f"noise changed). At {curves['level'][i]:g} the denoising AE is {gain:+.1f} dB against the plain AE."
)
st.caption(f"Levels swept: {', '.join(f'{v:g}' for v in SWEEP_LEVELS[kind])}.")
note_subset()

st.subheader("Trained on one noise, tested on another")
try:
    rows = transfer_rows()
except LatentLabError as err:
    show_error(err)
    st.stop()
db = st.column_config.NumberColumn(format="%.1f dB")
st.dataframe(
    rows, hide_index=True, key="dn_transfer",
    column_config={"level": st.column_config.NumberColumn(format="%.2f"), "noisy input": db, title("conv_ae"): db,
                   title("denoise"): db, "gain (dB)": st.column_config.NumberColumn("denoising − plain", format="%+.1f dB")},
)
st.caption(
    f"The denoising AE saw only Gaussian noise (σ = {spec_named('denoise').noise_factor:g}) in training. Each row is "
    "one point of that noise type's sweep, at this page's default level: how far its training carries to damage "
    "it never saw."
)

st.divider()
st.subheader("Why training on corrupted inputs works")
st.markdown(
    """
A plain autoencoder is rewarded for copying: its best strategy is to pass through whatever it sees,
noise included, as far as its code allows. A **denoising autoencoder** gets a different exam: the input
is damaged, but the answer it is graded against is the *clean* digit. Random specks carry no information
about the target, so the only way to score well is to recognise the underlying stroke and redraw it.
In effect the network must learn what digits look like — where strokes can be, how thick, how they join —
and project any input back onto that set. That is why it also helps with other damage it never
trained on, up to the point where the damage no longer looks like anything it knows.
"""
)
