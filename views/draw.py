"""Draw a digit; see what the model sees and three autoencoders' reconstructions.

Our own pad (views/canvas) sends the drawing on pointer-up; one `st.fragment` holds the pad, the
options and the results, so a stroke reruns only that. The models are served by spec
(`core.serving.infer`: the shipped ones without TensorFlow); results are cached per drawing, since
Undo and Redo revisit drawings.
"""

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.figures.plots import code_figure
from core.lab import latent
from core.lab.preprocess import from_canvas_ink
from core.lab.zoo import models_of, spec_named
from core.serving.browser import in_browser
from views.canvas import draw_pad, image_strip, ink_from_drawing, strokes_from_drawing
from views.common import (
    explain,
    judged,
    mnist_test_count,
    mnist_test_digit,
    note_subset,
    persist,
    pick_trained_models,
    remember_user_digit,
    served,
    show_error,
    title,
)
from views.lesson_code import code_panel

MODELS = models_of("draw")
KNN_MODEL = "conv_ae"  # whose code space the "what digit" line searches for the nearest MNIST test digits
TILE_PX = 128  # result tiles: the input and three reconstructions stay on one row from 1280 px wide windows
POSTERIOR_SAMPLES = 5  # draws from the VAE's q(z|x) shown beside its decoded mean
SEED_KEY = "draw_sample_seed"  # session key: the seed of those draws, one more per 'sample again'
PAD_KEY = "draw_canvas"
# The pad is mounted afresh whenever the page is opened again; the last drawing is kept here, its strokes
# repainted on the new pad and its results shown, until the user changes it (draws, undoes, clears).
LAST_DRAWING_KEY = "draw_last_drawing"  # session key: the pad's last non-empty drawing
SHOWING_LAST_KEY = "draw_showing_last"  # session key: True while the results are the kept drawing's


@st.cache_data(max_entries=256, show_spinner=False)
def _reconstructions(x: np.ndarray, names: tuple[str, ...], extra: tuple) -> list:
    """x (28, 28) → `core.lab.compare.Reconstruction`s from the shipped models `names` and the
    Training-lab models `extra` ((name, spec) pairs), in that order."""
    from core.lab.compare import reconstruct_all

    models = {title(n): served(spec_named(n)) for n in names} | {name: served(spec) for name, spec in extra}
    return reconstruct_all(models, x)


@st.cache_data(max_entries=256, show_spinner=False)
def _codes(x: np.ndarray, names: tuple[str, ...], extra: tuple) -> list:
    """x (28, 28) → (title, code (D,), σ (D,) or None) for every model whose code is a vector: a VAE's
    code is the mean μ of its q(z|x), with σ = exp(z_log_var / 2)."""
    out = []
    for name, spec in [(title(n), spec_named(n)) for n in names] + list(extra):
        if len(spec.code_shape) != 1:
            continue  # a feature map (the denoiser's 7×7×C) is no bar chart
        if spec.is_vae:
            mu, log_var = served(spec).encode_gaussian(x)
            out.append((f"{name}: μ ± σ", mu[0], latent.sigma_of(log_var[0])))
        else:
            out.append((f"{name}: code", served(spec).encode(x)[0], None))
    return out


@st.cache_data(max_entries=256, show_spinner=False)
def _posterior_samples(x: np.ndarray, name: str, n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The VAE `name`'s decoded mean μ (28, 28) and the decodes of n seeded draws z = μ + σ ⊙ ε from its
    q(z|x) (`core.lab.latent.sample_posterior`)."""
    model = served(spec_named(name))
    mu, log_var = model.encode_gaussian(x)
    z = latent.sample_posterior(mu[0], log_var[0], n, seed)
    images = model.decode(np.concatenate([mu, z]))[..., 0]  # (1 + n, 28, 28)
    return images[0], list(images[1:])


@st.cache_data(max_entries=256, show_spinner=False)
def _nearest(x: np.ndarray, name: str) -> tuple[int, int, list[tuple[np.ndarray, int]]]:
    """x (28, 28) → the k-NN label in the model `name`'s code space, how many of the k nearest MNIST test
    digits carry it, and those digits (image, label), nearest first (`core.lab.verdict`)."""
    v = judged(name, x)[0]
    return v.label, v.votes, [mnist_test_digit(k) for k in v.neighbours]


def _forget_last() -> None:
    """The pad that started with the last drawing's strokes was emptied (Undo, Clear)."""
    st.session_state.pop(LAST_DRAWING_KEY, None)
    st.session_state[SHOWING_LAST_KEY] = False


def _resample() -> None:
    st.session_state[SEED_KEY] = st.session_state.get(SEED_KEY, 0) + 1


def _show(x: np.ndarray, steps: list, source: str, extra: tuple, seq: int | None = None, inside: bool = False,
          in_pad: bool = False) -> None:
    """`in_pad`: the pad answers this drawing (its `seq`) in the browser with the shipped models, so the
    server runs only the Training-lab models `extra` and leaves the strip's first panels to the pad."""
    remember_user_digit(x, source)  # other pages (Anomalies, Latent space) use the user's digit
    shown = () if in_pad else MODELS
    recs = _reconstructions(x, shown, extra) if shown or extra else []
    lead = [] if in_pad else [x]
    image_strip(lead + [r.image for r in recs], ["what the model sees"] * len(lead) + [r.name for r in recs],
                ["28×28"] * len(lead) + [f"error {r.bce:.3f}" for r in recs], key="draw_reconstructions",
                height=TILE_PX, follow_pad=seq is not None, seq=seq, lead=1 + len(MODELS) if in_pad else 0)
    st.caption("Error = mean per-pixel binary cross-entropy between the input and the reconstruction "
               "(the loss the models were trained on; lower is better).")
    if inside:  # off by default: these double the server's work per stroke, which a whole class pays for
        _inside(x, extra)
    with st.expander("How your drawing became a 28×28 MNIST-style image"):
        image_strip([s for _, s in steps], [c for c, _ in steps], key="draw_steps", height=96)


def _inside(x: np.ndarray, extra: tuple) -> None:
    """What is inside the models: the nearest test digits by code, samples from the VAE's q(z|x), the codes."""
    label, votes, near = _nearest(x, KNN_MODEL)
    st.markdown(f"**What digit does it think it is?** The {title(KNN_MODEL)}'s code is closest to test digits "
                f"labelled **{label}** ({votes} of {len(near)} neighbours):")
    image_strip([img for img, _ in near], [f"a {y}" for _, y in near], key="draw_neighbours", height=56)
    vae = next((n for n in MODELS if spec_named(n).is_vae), None)
    if vae is not None:
        seed = st.session_state.get(SEED_KEY, 0)
        mean, samples = _posterior_samples(x, vae, POSTERIOR_SAMPLES, seed)
        image_strip([mean, *samples], ["decoded μ", *[f"z ~ q(z|x) #{k + 1}" for k in range(len(samples))]],
                    key="draw_vae_samples", height=64)
        left, right = st.columns([1, 3], vertical_alignment="center")
        left.button("🎲 Sample again", key="draw_resample", on_click=_resample,
                    help="Fresh ε ~ N(0, I): new draws z = μ + σ ⊙ ε from the same q(z|x).")
        right.caption(f"{title(vae)}: its encoder gives a cloud q(z|x) = N(μ, σ²), not a point. Each sample is "
                      f"z = μ + σ ⊙ ε with fresh noise ε (seed {seed}), decoded.")
    st.plotly_chart(code_figure(_codes(x, MODELS, extra)), key="draw_codes", config={"displayModeBar": False})
    st.caption("The code each encoder made of this digit: the numbers the decoder rebuilt it from. For the VAE, "
               "the bars are the means μ and the whiskers ±σ of its q(z|x).")


@st.fragment
def _lab() -> None:
    """Pad, options and results. Inside a fragment, a stroke or an option reruns only this."""
    # The pad's column is narrow, so its labels are short (a Streamlit widget label is one line, cut with
    # "…"); the trained-model picker, whose chips carry long names, spans the page under both columns.
    left, right = st.columns([1, 3], gap="medium")
    below = st.container()
    with left:
        fresh = PAD_KEY not in st.session_state  # the pad was not drawn in the last run: the page was just opened
        # A fresh pad starts with the last drawing's strokes (a drawing from before the pad sent its
        # points has none: its results are still shown, on an empty pad).
        initial = strokes_from_drawing(st.session_state.get(LAST_DRAWING_KEY)) if fresh else None
        drawing = draw_pad(key=PAD_KEY, browser=in_browser(MODELS).to_json(),  # it runs MODELS itself too
                           initial=initial, on_clear=_forget_last)
        if drawing is not None:
            st.session_state[LAST_DRAWING_KEY], st.session_state[SHOWING_LAST_KEY] = drawing, False
        elif fresh and LAST_DRAWING_KEY in st.session_state:
            st.session_state[SHOWING_LAST_KEY] = True
        elif not st.session_state.get(SHOWING_LAST_KEY, False):
            st.session_state.pop(LAST_DRAWING_KEY, None)  # the pad was cleared: nothing to bring back
        restored = drawing is None and st.session_state.get(SHOWING_LAST_KEY, False)
        if restored:
            drawing = st.session_state[LAST_DRAWING_KEY]
            st.caption("↩️ Showing your last drawing; draw on the pad to replace it.")
        st.caption("Draw with a mouse, pen or finger; ↶ undoes a stroke, ↷ redoes it, ✕ clears.")
        example = st.number_input("…or MNIST test digit #", 0, mnist_test_count() - 1, value=0, step=1,
                                  key=persist("draw_example_index"))
        use_example = st.toggle("Use this test digit", key=persist("draw_use_example"),
                                help="Show MNIST test digit # instead of your drawing.")
        if use_example:
            note_subset()
        inside = st.toggle("Look inside the codes", key=persist("draw_inside"),
                           help="Under the reconstructions: the nearest test digits by code, samples from the "
                                "VAE's q(z|x), and each model's code as bars.")
    with below:
        extra = tuple(pick_trained_models("draw_extra"))

    with right:
        try:
            if use_example:
                image, label = mnist_test_digit(int(example))
                x, steps, source = image, [("MNIST test digit", image)], f"MNIST test #{int(example)} (a {label})"
            elif drawing is None:
                image_strip([], [], key="draw_reconstructions", height=TILE_PX, follow_pad=True)  # the pad's answers go here
                st.info("Draw a digit on the canvas (or switch on a test digit) to see the reconstructions.")
                return
            else:
                pre = from_canvas_ink(ink_from_drawing(drawing))
                x, steps, source = pre.image, pre.steps, "your drawing"
            # A restored drawing keeps its old seq: older than any stroke on the new pad (seq starts at the
            # clock), so the strip still paints the pad's next answer at once. The pad answers the drawings
            # it marks `browser` itself (never a restored one: a new pad does not answer its initial strokes).
            in_pad = (not use_example and not restored and drawing.get("browser") is True
                      and in_browser(MODELS).on)
            _show(x, steps, source, extra, seq=None if use_example else drawing.get("seq"), inside=inside,
                  in_pad=in_pad)
        except LatentLabError as err:
            show_error(err)


st.title("✏️ Draw a digit")
st.caption("Draw 0–9 in the black box. Three autoencoders squeeze it through a small code and rebuild it.")
explain(
    "Each model's **error** is the mean binary cross-entropy between your 28×28 input x and its rebuild x̂, "
    "over the 784 pixels: the loss the models were trained to make small. A pixel costs little when the rebuild "
    "agrees with it and a lot when it is confidently wrong (ink where there was none, or none where there was).",
    r"\mathrm{BCE}(x,\hat x)=-\frac{1}{784}\sum_{i=1}^{784}\big[x_i\log\hat x_i+(1-x_i)\log(1-\hat x_i)\big]",
)
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
- The **VAE**'s encoder outputs a small Gaussian cloud q(z|x) = N(μ, σ²) rather than a point. The
  reconstruction decodes its centre μ; the samples decode draws z = μ + σ ⊙ ε from the cloud. Its 2
  numbers are far fewer than the others' code, which is why its redrawings are blurrier.
- Draw a shape that is not a digit (a star, a letter). The 16-number lesson model and the 2-number VAE
  can only answer with something digit-like, and their error jumps (a star: about 0.30 and 0.35, against
  0.12 and 0.17 on a typical test digit). The 64-number conv AE rebuilds even the star fairly well (about
  0.15): a wide code can pass through almost anything. Only a narrow code keeps "what a digit looks like",
  and that gap in error is what anomaly detection uses.
"""
)

with st.expander("The lesson's code: the Lesson AE above, line by line"):
    code_panel("draw", here="views/draw.py")
