"""Denoising lab: corrupt a digit, and compare autoencoders at cleaning it. The comparison that isolates
the idea is a pair of one architecture trained on clean inputs and on noisy inputs (`denoise_clean`,
`denoise`); the conv AE with a dense 64-D code is there too, labelled as a different architecture.

A rerun (noise level, type, seed, digit) corrupts one image and cleans it with each served model; what
depends only on the noise type and level (the sweeps, their chart, the transfer table) is cached for
the server."""

import numpy as np
import streamlit as st

from core.figures.plots import image_row, psnr_sweep_figure
from core.lab.denoise import SWEEP_LEVELS, denoise_one, psnr_sweep, transfer_table
from core.lab.metrics import psnr_label
from core.lab.zoo import models_of, spec_named
from views.common import (
    USER_DIGIT_KEY,
    explain,
    mnist_test_count,
    mnist_test_digit,
    model_store,
    note_subset,
    persist,
    pick_trained_models,
    served,
    stop_on_error,
    title,
)

NOISY, CLEAN, DENSE = "denoise", "denoise_clean", "conv_ae"  # the pair (one architecture), and the dense-code AE
# What each shipped model is, beside its code size: the pair differs only in its training inputs.
WHAT = {DENSE: ("conv layers → dense 64-number code → conv layers", "clean digits (handwriting-augmented: rotated, slanted, …)"),
        CLEAN: ("fully convolutional, BatchNorm; code = 7×7 map × 32 channels", "clean digits"),
        NOISY: ("fully convolutional, BatchNorm; code = 7×7 map × 32 channels", "digits + Gaussian noise σ = 0.5")}
# Never start minutes of training from a page view: a model without weights on this server is left out.
MODELS = tuple(n for n in (CLEAN, NOISY, DENSE) if n in models_of("denoise") and model_store().available(spec_named(n)))
BASELINE = CLEAN if CLEAN in MODELS else DENSE  # what the noise-trained model is compared with
SHORT = {CLEAN: "same net, trained clean", NOISY: "same net, trained noisy", DENSE: "conv AE, 64-D code"}
NOISE_LABELS = {"gaussian": "Gaussian", "salt_and_pepper": "Salt and pepper", "mask": "Masking (erased blocks)"}
LEVEL_SLIDERS = {  # label, max, default, step
    "gaussian": ("Noise σ", 1.0, 0.5, 0.05),
    "salt_and_pepper": ("Fraction of pixels flipped to black or white", 0.6, 0.2, 0.02),
    "mask": ("Fraction of 4×4 blocks erased", 0.8, 0.3, 0.05),
}


@st.cache_data(show_spinner="Measuring PSNR over noise levels on 300 test digits…")
def cached_sweep(kind: str, models: tuple[str, ...]) -> dict:
    return psnr_sweep({title(n): served(spec_named(n)) for n in models}, kind)


@st.cache_resource(show_spinner=False, max_entries=128)
def sweep_figure(kind: str, level: float, models: tuple[str, ...]):
    """The sweep chart with `level` marked: one per (type, slider stop, models), shared read-only by every
    session (st.plotly_chart only reads it): the curves never change."""
    return psnr_sweep_figure(cached_sweep(kind, models), kind, level)


@st.cache_data(show_spinner=False)
def transfer_rows(models: tuple[str, ...], baseline: str) -> list[dict]:
    """The 'trained on one noise, tested on another' rows, read off the three cached sweeps."""
    rows = transfer_table({k: cached_sweep(k, models) for k in NOISE_LABELS}, gain=(title(NOISY), title(baseline)))
    return [r | {"noise": NOISE_LABELS[r["noise"]]} for r in rows]


st.title("🧽 Denoising lab")
st.caption("Add noise to a digit, then ask autoencoders to clean it. Two of them are the same network: one "
           "trained on clean digits, one trained on noisy digits with the clean ones as targets.")
explain(
    "Each panel's PSNR compares it with the clean digit through the mean squared error of its 784 pixels (in "
    "[0, 1], so the peak value is 1): each 10 dB more means 10× less squared error. SSIM instead compares local "
    "brightness, contrast and structure in 11×11 windows, averaged over the image (1 = identical), so it "
    "notices a blurred or broken stroke that a small MSE can hide.",
    r"\mathrm{PSNR}(x,\hat x)=10\log_{10}\frac{1}{\mathrm{MSE}},\qquad "
    r"\mathrm{MSE}=\frac{1}{784}\sum_{i=1}^{784}(x_i-\hat x_i)^2",
    r"\mathrm{SSIM}=\operatorname{mean}_{\text{windows}}"
    r"\frac{(2\mu_x\mu_{\hat x}+c_1)(2\sigma_{x\hat x}+c_2)}{(\mu_x^2+\mu_{\hat x}^2+c_1)(\sigma_x^2+\sigma_{\hat x}^2+c_2)}",
)

with st.sidebar:
    st.header("Input")
    sources = ["MNIST test digit"] + (["My drawing or upload"] if USER_DIGIT_KEY in st.session_state else [])
    source = st.radio("Digit", sources, key=persist("dn_source"))
    if source == "MNIST test digit":
        if st.button("🎲 Random test digit", key="dn_random"):
            st.session_state["dn_index"] = int(np.random.default_rng().integers(mnist_test_count()))
        index = st.number_input("Test digit #", 0, mnist_test_count() - 1, value=0, step=1, key=persist("dn_index"))
    st.header("Noise")
    kind = st.selectbox("Type", list(NOISE_LABELS), format_func=NOISE_LABELS.get, key=persist("dn_kind"))
    label, hi, default, step = LEVEL_SLIDERS[kind]
    level = st.slider(label, 0.0, hi, default, step, key=persist(f"dn_level_{kind}"))
    seed = st.number_input("Noise seed (same seed = same picture for everyone)", 0, 10_000, 0, key=persist("dn_seed"))
    extra = pick_trained_models("dn_extra", "Also clean with models trained in the Training lab")

with stop_on_error():
    if source == "MNIST test digit":
        clean, label_ = mnist_test_digit(int(index))
        caption = f"test digit #{int(index)} (a {label_})"
    else:
        clean, caption = st.session_state[USER_DIGIT_KEY]["image"], st.session_state[USER_DIGIT_KEY]["source"]
    models = {title(n): served(spec_named(n)) for n in MODELS} | {name: served(spec) for name, spec in extra}
    scored = denoise_one(models, clean, kind, float(level), int(seed))

images = [clean] + [s.image for s in scored]
short = {title(n): label for n, label in SHORT.items()}  # the image row's panels are narrow
titles = [f"clean<br>{caption}"] + [f"{short.get(s.name, s.name)}<br>PSNR {psnr_label(s.psnr)} · SSIM {s.ssim:.2f}" for s in scored]
st.plotly_chart(image_row(images, titles, height=300), key="dn_images", config={"displayModeBar": False})
st.caption("PSNR and SSIM compare each image with the clean one (`core.lab.metrics`, the definitions of "
           "`tf.image.psnr` and `tf.image.ssim`). Higher is better; PSNR is in decibels, SSIM is at most 1.")

st.markdown("**What differs between the models**")
st.dataframe(
    [{"model": title(n), "architecture": WHAT[n][0], "trained on": WHAT[n][1],
      "code shape": "×".join(map(str, spec_named(n).code_shape)), "numbers in the code": spec_named(n).code_size,
      "vs 784 pixels": f"{spec_named(n).code_size / 784:.2g}×"} for n in MODELS],
    hide_index=True, key="dn_models",
)
if CLEAN in MODELS:
    st.caption(f"The first two rows are one network trained two ways: only the training inputs differ, so the gap "
               f"between them is what training on noise does. Their code ({spec_named(NOISY).code_size} numbers) is "
               f"*larger* than the image — no compression at all: it is the clean targets, not a bottleneck, that "
               f"stop the noise-trained one from copying the noise. The conv AE squeezes the digit into 64 numbers "
               f"(12× fewer than the pixels) and differs in architecture too.")
else:
    st.caption(f"{title(CLEAN)} has no trained weights on this server yet, so the noise-trained model is compared "
               f"with the conv AE, which differs in architecture as well as training.")

st.subheader("How each model copes as the noise grows")
with stop_on_error():
    curves = cached_sweep(kind, MODELS)
st.plotly_chart(sweep_figure(kind, float(level), MODELS), key="dn_sweep", config={"displayModeBar": False})
i = int(np.argmin(np.abs(curves["level"] - float(level))))
at = curves["level"][i]
summary = [f"the noisy input {curves['noisy input'][i]:.1f} dB"] if np.isfinite(curves["noisy input"][i]) else []
summary += [f"{title(n)} {curves[title(n)][i]:.1f} dB" for n in MODELS]
st.caption(
    f"Mean over the same 300 MNIST test digits at each level (for the noisy input, over the digits the noise "
    f"changed). At {at:g}: {'; '.join(summary)}. Training on noise is worth "
    f"{curves[title(NOISY)][i] - curves[title(BASELINE)][i]:+.1f} dB here ({title(NOISY)} − {title(BASELINE)})."
)
st.caption(f"Levels swept: {', '.join(f'{v:g}' for v in SWEEP_LEVELS[kind])}.")
note_subset()

st.subheader("Trained on one noise, tested on another")
with stop_on_error():
    rows = transfer_rows(MODELS, BASELINE)
db = st.column_config.NumberColumn(format="%.1f dB")
st.dataframe(
    rows, hide_index=True, key="dn_transfer",
    column_config={"level": st.column_config.NumberColumn(format="%.2f"), "noisy input": db}
    | {title(n): db for n in MODELS}
    | {"gain (dB)": st.column_config.NumberColumn("noise-trained − " + ("clean-trained" if BASELINE == CLEAN else "conv AE"),
                                                  format="%+.1f dB")},
)
st.caption(
    f"The noise-trained model saw only Gaussian noise (σ = {spec_named(NOISY).noise_factor:g}) in training. Each row is "
    "one point of that noise type's sweep, at this page's default level: how far its training carries to damage "
    "it never saw."
)

st.divider()
st.subheader("Why training on corrupted inputs works")
st.markdown(
    """
An autoencoder trained on clean digits was never shown noise, so what it does with a noisy digit is an
accident of its architecture. With a narrow code (the conv AE's 64 numbers) it cannot describe the specks and
redraws some digit-like blob — at strong noise often a wrong one, further from the clean digit than the noisy
input itself. With a code as large as the image (the 7×7×32 map) nothing forces it to leave anything out: it
smooths a little of the noise away, but much of it comes through. In exchange it keeps the most detail of a
clean digit (the sweep at level 0): training on noise costs some sharpness.

A **denoising autoencoder** gets a different exam: the input is damaged, but the answer it is graded against
is the *clean* digit. Random specks carry no information about the target, so the only way to score well is
to recognise the underlying strokes and redraw them — to learn what digits look like and project any input
back onto that set. That is why it also helps with some damage it never trained on, up to the point where the
damage no longer looks like anything it knows.
"""
)
