"""Lesson mode: the course lesson ("Lesson 5: Autoencoders and Variational Autoencoders") step by step.

Each step follows one section of the lesson: a short explanation in our words, one live element from the
lab it belongs to, a question for the class with its answer on demand, a link to the full lab, and Back /
Next. The presenter layout hides the sidebar and puts every step on one 1280×720 screen, each result
beside the control that changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.figures.latent_map import latent_map
from core.figures.plots import score_histogram
from core.figures.tiles import png_bytes, tile
from core.lab import anomaly, metrics
from core.lab.compare import reconstruct_all
from core.lab.denoise import denoise_one
from core.lab.metrics import psnr_label
from core.lab.preprocess import from_canvas_ink
from core.lab.shapes import SHAPES, drawn_shape
from core.lab.zoo import SHIPPED, one_class_spec
from views.canvas import image_strip
from views.common import (
    USER_DIGIT_KEY,
    keras_model,
    mnist_test_count,
    mnist_test_digit,
    model_store,
    persist,
    processed,
    read_only,
    remember_user_digit,
    served,
    show_error,
    title,
)
from views.lesson_code import code_panel, test_loss_metrics

STEP_KEY = "ls_step"  # session key: the index of the step on screen
PRESENTER_KEY = "ls_presenter"
CONFIG = {"displayModeBar": False}
RECONSTRUCTORS = ("lesson", "conv_ae", "vae_2d")  # narrow (16), wide (64) and tiny (2) codes
ONE_CLASS_DIGIT = 3  # the anomaly step: a VAE trained on 3s only, against the other digits
MAP_POINTS = 2000  # test digits on the lesson's latent map (the Latent page shows all of them)
VAES = {0.25: "vae_2d_beta0.25", 1.0: "vae_2d", 4.0: "vae_2d_beta4"}
MY_DIGIT = "my drawing or upload"
CAMERA = "a photo from my camera"
LIVE_COLUMNS = [1, 3]  # a live element's controls, and beside them its result

# Presenter layout: no sidebar (navigation is Back / Next and the links), less padding above the step.
PRESENTER_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stExpandSidebarButton"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem !important; padding-bottom: 1rem !important;
                                       max-width: 100% !important; }
.st-key-ls_body p, .st-key-ls_body li { font-size: 1.1rem; }
</style>"""


def _typical_error(name: str) -> float | None:
    """A model's mean test BCE from its shipped record (the manifest's figure)."""
    return ((model_store().record(SHIPPED[name]) or {}).get("metrics") or {}).get("test_bce")


@st.cache_data(show_spinner=False, max_entries=128)
def _reconstructions(image_bytes: bytes) -> list:
    """The three models' reconstructions of one 28×28 image (float32 bytes: a plain hashable key)."""
    x = np.frombuffer(image_bytes, np.float32).reshape(28, 28)
    return reconstruct_all({n: served(SHIPPED[n]) for n in RECONSTRUCTORS}, x)


def _show_reconstructions(x: np.ndarray, key: str, big: bool) -> list:
    recs = _reconstructions(np.asarray(x, np.float32).tobytes())
    image_strip([x] + [r.image for r in recs], ["input"] + [f"{title(r.name)}" for r in recs],
                ["28×28 = 784 pixels"] + [f"code {SHIPPED[r.name].code_size} · error {r.bce:.3f}" for r in recs],
                key=key, height=112 if big else 96)
    return recs


def _digit_picker(key: str) -> tuple[np.ndarray, str] | None:
    """A test digit by number (or at random), a photo from the camera, or the user's latest drawing or
    upload. None while the camera has no photo yet, or when the photo could not be read (said on screen)."""
    sources = ["test digit", CAMERA] + ([MY_DIGIT] if USER_DIGIT_KEY in st.session_state else [])
    source = st.radio("Input", sources, key=persist(f"{key}_source"), horizontal=True)
    if source == CAMERA:
        return _camera_digit(key)
    if source == MY_DIGIT:
        user = st.session_state[USER_DIGIT_KEY]
        return np.asarray(user["image"], np.float32), user["source"]
    if st.button("🎲 Random digit", key=f"{key}_random"):
        st.session_state[f"{key}_index"] = int(np.random.default_rng().integers(mnist_test_count()))
    index = st.number_input("Test digit #", 0, mnist_test_count() - 1, value=0, key=persist(f"{key}_index"))
    image, label = mnist_test_digit(int(index))
    return image, f"test digit #{int(index)} (a {label})"


def _camera_digit(key: str) -> tuple[np.ndarray, str] | None:
    """A photo of a handwritten digit, through the Upload page's pipeline (the same decoding limits); it
    becomes the user's digit for the other pages too. A photo of several digits gives its first."""
    shot = st.camera_input("Hold a digit written on paper up to the camera", key=f"{key}_camera")
    if shot is None:
        return None
    photo = processed("camera photo", shot.getvalue())
    if not photo.ok:
        st.error(photo.error)
        return None
    pre = photo.pre
    remember_user_digit(pre.image, "lesson camera photo")
    if len(pre.digits) > 1:
        st.caption(f"{len(pre.digits)} digits in the photo: the first (top left) is used; 📤 Upload shows them all.")
    return pre.image, "your camera photo"


# ---------------------------------------------------------------------------------------------
# The live element of each step: fn(big) draws it (big = presenter layout: larger pictures).
# ---------------------------------------------------------------------------------------------


def live_squeeze(big: bool) -> None:
    controls, result = st.columns(LIVE_COLUMNS)
    with controls:
        picked = _digit_picker("ls_squeeze")
    if picked is None:
        return
    x, source = picked
    with result:
        _show_reconstructions(x, "ls_squeeze_strip", big)
        st.caption(f"{source[:1].upper()}{source[1:]}. Error = mean per-pixel binary cross-entropy between the "
                   "input and its reconstruction (lower is better).")


def live_capacity(big: bool) -> None:
    controls, result = st.columns(LIVE_COLUMNS)
    with controls:
        shapes = [*SHAPES] + ([MY_DIGIT] if USER_DIGIT_KEY in st.session_state else [])
        shape = st.radio("Not a digit", shapes, key=persist("ls_capacity_shape"))
    if shape == MY_DIGIT:
        x = np.asarray(st.session_state[USER_DIGIT_KEY]["image"], np.float32)
    else:
        x = from_canvas_ink(drawn_shape(shape)).image  # drawn as the pad draws, preprocessed as a drawing
    with result:
        recs = _show_reconstructions(x, "ls_capacity_strip", big)
        typical = [f"{title(r.name)} {t:.3f}" for r in recs if (t := _typical_error(r.name)) is not None]
        st.caption("Typical error on the 10 000 test digits: " + ", ".join(typical) + ".")


def live_denoise(big: bool) -> None:
    pair = ("denoise_clean", "denoise")
    missing = [n for n in pair if not model_store().available(SHIPPED[n])]
    if missing:  # never start training from a page view
        st.info(f"{', '.join(title(n) for n in missing)}: no trained weights on this server yet.")
        return
    controls, result = st.columns(LIVE_COLUMNS)
    with controls:
        sigma = st.slider("Noise σ", 0.0, 1.0, 0.5, 0.05, key=persist("ls_denoise_sigma"))
        index = st.number_input("Test digit #", 0, mnist_test_count() - 1, value=0, key=persist("ls_denoise_index"))
    clean, label = mnist_test_digit(int(index))
    scored = denoise_one({n: served(SHIPPED[n]) for n in pair}, clean, "gaussian", float(sigma), seed=0)
    names = {"noisy input": "noisy input", "denoise_clean": "trained on clean", "denoise": "trained on noisy"}
    with result:
        image_strip([clean] + [s.image for s in scored], [f"clean (a {label})"] + [names[s.name] for s in scored],
                    [""] + [f"PSNR {psnr_label(s.psnr)}" for s in scored], key="ls_denoise_strip",
                    height=112 if big else 96)
        code = SHIPPED["denoise"]
        st.caption(f"Both networks: a {'×'.join(map(str, code.code_shape))} code = {code.code_size} numbers, more "
                   f"than the 784 pixels. Only the training inputs differ.")


@st.cache_resource(show_spinner="Scoring the test digits with the one-class model (once per server)…")
def _one_class_scores() -> dict:
    """MSE scores of the 3s (validation and test halves) and of the other digits, under the VAE trained on 3s."""
    model = keras_model(one_class_spec(ONE_CLASS_DIGIT))
    val, test = anomaly.normal_images(ONE_CLASS_DIGIT)
    other = anomaly.anomalous_images("other_digits", ONE_CLASS_DIGIT)
    return {k: read_only(anomaly.score(model, x, "mse")) for k, x in (("val", val), ("test", test), ("anom", other))}


def live_threshold(big: bool) -> None:
    s = _one_class_scores()
    default = anomaly.default_threshold(s["val"])
    hi = float(np.percentile(s["anom"], 99))
    controls, result = st.columns(LIVE_COLUMNS)
    with controls:
        threshold = st.slider("Threshold on the score", 0.0, round(hi, 3), round(default, 3), 0.001, format="%.3f",
                              key=persist("ls_threshold"))
        c = anomaly.confusion(s["test"], s["anom"], threshold)
        st.metric("Precision", f"{c.precision:.2f}")
        st.metric("Recall", f"{c.recall:.2f}")
        st.metric("False-positive rate", f"{c.false_positive_rate:.2f}")
        st.metric("AUROC", f"{metrics.auroc(s['test'], s['anom']):.3f}")
    with result:
        hist = score_histogram(s["test"], s["anom"], threshold, "reconstruction MSE per pixel",
                               f"{ONE_CLASS_DIGIT}s (normal)", "other digits")
        hist.update_layout(height=300 if big else 260)
        st.plotly_chart(hist, key="ls_threshold_hist", config=CONFIG)
        st.caption(f"TP {c.tp} other digits flagged · FP {c.fp} {ONE_CLASS_DIGIT}s flagged · "
                   f"TN {c.tn} {ONE_CLASS_DIGIT}s passed · FN {c.fn} other digits missed")


@st.cache_resource(show_spinner=False)
def _map_codes() -> tuple[np.ndarray, np.ndarray]:
    """z_mean (MAP_POINTS, 2) of a fixed sample of test digits under the 2-D VAE, and their labels."""
    from core.lab.data import mnist_for_pages, to_float

    mnist = mnist_for_pages()
    idx = np.sort(np.random.default_rng(0).choice(len(mnist.y_test), min(MAP_POINTS, len(mnist.y_test)), replace=False))
    return read_only(served(SHIPPED["vae_2d"]).encode(to_float(mnist.x_test[idx]))), read_only(mnist.y_test[idx])


def _clicked_on_map() -> None:
    """on_select of the lesson's latent map: move the point to the clicked test digit's code."""
    points = st.session_state["ls_map"].selection.get("points", [])
    if points:
        for axis, value in (("ls_z1", points[0]["x"]), ("ls_z2", points[0]["y"])):
            st.session_state[axis] = float(np.clip(round(value, 1), -4.0, 4.0))


def live_latent(big: bool) -> None:
    controls, result = st.columns(LIVE_COLUMNS)
    with controls:
        z1 = st.slider("z₁", -4.0, 4.0, 0.0, 0.1, key=persist("ls_z1"))
        z2 = st.slider("z₂", -4.0, 4.0, 0.0, 0.1, key=persist("ls_z2"))
        image = served(SHIPPED["vae_2d"]).decode(np.array([z1, z2], np.float32))[0, ..., 0]
        st.image(png_bytes(image, scale=6), caption=f"decoded at z = ({z1:+.1f}, {z2:+.1f})")
    with result:
        z, labels = _map_codes()
        fig = latent_map(z, labels, {"z": (z1, z2)}, height=380 if big else 340)
        fig.update_layout(xaxis=dict(range=[-4, 4]), yaxis=dict(range=[-4, 4]), legend=dict(font=dict(size=10)))
        st.plotly_chart(fig, key="ls_map", on_select=_clicked_on_map, selection_mode="points", config=CONFIG)


def live_vae_loss(big: bool) -> None:
    controls, result = st.columns(LIVE_COLUMNS)
    with controls:
        beta = st.radio("KL weight β", list(VAES), index=1, format_func=lambda b: f"β = {b:g}", horizontal=True,
                        key=persist("ls_beta"))
        seed = st.session_state.setdefault("ls_sample_seed", 0)
        if st.button("🎲 New samples", key="ls_resample"):
            seed = st.session_state["ls_sample_seed"] = seed + 1
        record = (model_store().record(SHIPPED[VAES[beta]]) or {}).get("metrics", {})
        if "test_neg_elbo" in record:
            st.metric("reconstruction", f"{record['test_neg_elbo'] - record['test_kl']:.1f}")
            st.metric("KL", f"{record['test_kl']:.2f}")
            st.caption(f"Test means in nats per image; their sum, the −ELBO, is {record['test_neg_elbo']:.1f}.")
    with result:
        spec = SHIPPED[VAES[beta]]
        if not model_store().available(spec):
            st.info(f"{title(VAES[beta])} has no trained weights on this server yet.")
            return
        z = np.random.default_rng(seed).standard_normal((18, 2)).astype(np.float32)
        images = served(spec).decode(z)[..., 0].reshape(3, 6, 28, 28)
        st.image(png_bytes(tile(images), scale=4 if big else 3),
                 caption=f"{title(VAES[beta])}: z drawn from N(0, I), decoded (seed {seed})")


def live_code(big: bool) -> None:
    code_panel("ls", here="views/lesson.py", compact=True)


# ---------------------------------------------------------------------------------------------
# The steps, in the lesson's order
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    section: str  # the lesson's section
    title: str
    text: str  # our explanation, a few sentences (markdown)
    question: str
    answer: str
    live: Callable[[bool], None]
    pages: tuple[tuple[str, str], ...]  # (page path, link label): the lab that goes further
    equations: tuple[str, ...] = ()


STEPS: tuple[Step, ...] = (
    Step(
        "5.1 Introduction to autoencoders", "Squeeze a digit, then rebuild it",
        "An autoencoder is two networks trained as one. The **encoder** turns a digit's 784 pixels into a short "
        "list of numbers, the **code**; the **decoder** has to redraw the digit from that code alone. Training "
        "only asks that the output match the input, so what the code keeps is whatever helps most to redraw "
        "digits.",
        "The lesson's model keeps 16 numbers for 784 pixels. Which details of a handwritten digit should go first?",
        "Whatever differs from writer to writer and costs many numbers to describe: exact stroke width, wobbles, "
        "little hooks and serifs. The code spends its few numbers on what all examples of a digit share, so the "
        "rebuild looks like a *typical* version of it. Compare the models: the 64-number conv AE keeps more "
        "detail than the 16-number lesson model; the 2-number VAE keeps the least.",
        live_squeeze, (("views/draw.py", "Draw your own digit"),),
    ),
    Step(
        "5.1 Introduction to autoencoders", "How wide a code is decides what gets through",
        "Compression is not automatic: it comes from a code too small to hold everything. Give the models a "
        "shape none of them was trained on. The conv AE, with 64 numbers, rebuilds even a star fairly well; the "
        "16-number lesson model and the 2-number VAE can only answer with something digit-like, and their "
        "error jumps.",
        "You want reconstruction error to catch things that are not digits. Which model would you use — and why "
        "not simply the one with the lowest error?",
        "A narrow one (the lesson model or the VAE): it rebuilds digits well and non-digits badly, so unusual "
        "inputs stand out. The 64-number conv AE has the lowest error on everything, the star included, so the "
        "gap between normal and unusual shrinks. For anomaly detection the goal is a large gap, not a low error.",
        live_capacity, (("views/draw.py", "Draw your own shape"),),
    ),
    Step(
        "5.1 Introduction to autoencoders", "Denoising: the same network, a different exam",
        "Feed a network noisy digits but grade it against the clean ones, and it must learn to remove noise. "
        "The two networks here are identical — the same layers and the same 7×7×32 code, 1568 numbers, *more* "
        "than the image, so nothing is compressed. Only their training inputs differ: clean digits, or digits "
        "with Gaussian noise of σ = 0.5.",
        "The clean-trained network's code is bigger than the image. What stops it from passing the noise straight "
        "through?",
        "Nothing forces it to: it smooths a little noise away, but much gets through — compare its PSNR with "
        "the noise-trained twin's (on the test set at σ = 0.5: about 13 dB against 20 dB, the noisy input 9 dB). "
        "What removes noise is the exam — clean targets for noisy inputs — not a bottleneck. Set σ to 0: now the "
        "clean-trained one is sharper; training on noise costs some detail.",
        live_denoise, (("views/denoise.py", "Open the Denoise lab"),),
    ),
    Step(
        "5.2 Unsupervised learning with autoencoders", "No labels: the input is its own target",
        "Nobody labelled anything: each image is its own target, which is what makes autoencoders unsupervised. "
        f"A model trained only on {ONE_CLASS_DIGIT}s rebuilds {ONE_CLASS_DIGIT}s well and other digits worse, so "
        "its error becomes an anomaly score. The two histograms overlap, so every threshold makes mistakes of "
        f"both kinds: {ONE_CLASS_DIGIT}s flagged (false positives) and other digits let through (false negatives).",
        "Move the threshold left. What happens to recall, and what does it cost?",
        "Recall rises — more of the other digits are caught — but more real "
        f"{ONE_CLASS_DIGIT}s are flagged too: the false-positive rate rises and precision falls. A threshold only "
        "chooses which mistake you prefer; the overlap itself, measured by AUROC, stays the same.",
        live_threshold, (("views/anomaly.py", "Open the Anomalies lab"),),
        (r"\text{precision}=\frac{TP}{TP+FP}\qquad\text{recall}=\frac{TP}{TP+FN}",
         r"\text{false-positive rate}=\frac{FP}{FP+TN}"),
    ),
    Step(
        "5.3 Variational autoencoders", "A VAE maps each digit to a cloud",
        "A VAE's encoder gives, for each latent dimension, a mean and a spread: a small Gaussian cloud "
        "instead of a single point, and training decodes random samples from that cloud. This VAE has two "
        "latent numbers, so its space is a map: each dot is a test digit's mean. Move the point, or click a dot, "
        "and the decoder draws what lives there.",
        "Put the point in a gap between two clusters. Does the decoder still draw something digit-like? Would a "
        "plain autoencoder?",
        "Mostly yes — a blend of the neighbouring digits. The VAE's decoder was trained on samples from clouds, "
        "not on exact points, and the KL term packs the clouds around the origin without holes, so the space "
        "near N(0, I) was all seen in training. A plain autoencoder puts codes wherever it likes; between its "
        "clusters the decoder was never trained.",
        live_latent, (("views/latent.py", "Open the Latent space lab"),),
        (r"q(z\mid x)=\mathcal N\big(\mu(x),\,\operatorname{diag}\sigma^2(x)\big)",
         r"z=\mu+\sigma\odot\varepsilon,\quad \varepsilon\sim\mathcal N(0,I)"),
    ),
    Step(
        "5.3 Variational autoencoders", "The VAE's loss: rebuild well, stay near the prior",
        "Two terms pull against each other: reconstruction (BCE summed over the pixels) wants every code to "
        "describe its digit exactly; the KL term pulls every cloud towards the prior N(0, I). Because of that "
        "pull, codes drawn at random from N(0, I) decode to new digits. At β = 1 the loss is the negative ELBO.",
        "With β = 4 the KL term costs four times as much. What happens to the samples, and to the reconstruction "
        "term?",
        "The clouds crowd towards the prior, so random samples land among real digits more reliably, but each code "
        "carries less about its digit: reconstructions blur and the reconstruction term rises while KL falls. "
        "Compare β = 0.25, 1 and 4 above; the −ELBO (their sum at β = 1) says which models the data best.",
        live_vae_loss, (("views/latent.py", "β on the Latent space page"),),
        (r"\mathcal L(x)=-\log p(x\mid z)+\beta\,\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal N(0,I)\big)",
         r"\mathrm{KL}=\tfrac12\textstyle\sum_d\left(\mu_d^2+\sigma_d^2-\log\sigma_d^2-1\right)"),
    ),
    Step(
        "5.4 Code example", "The lesson's code, running here",
        "Section 5.4's program builds exactly our *lesson* model: dense layers 784 → 64 → 32 → 16 and back, "
        "Adam, binary cross-entropy, 10 epochs in batches of 256. The second tab says what each line does in "
        "this app, and the test loss it prints is the same measurement on the same 10 000 test digits.",
        "The lesson calls this an anomaly detector, yet `fit` never sees an anomaly. How do you turn it into one?",
        "Score each new image by its reconstruction error — the same BCE that “Test loss” averages — and flag "
        "the ones above a threshold chosen on normal images you held back (say their 95th percentile). That is "
        "what the Anomalies page does; training on one digit only widens the gap, as in step 4.",
        live_code, (("views/train.py", "Train it yourself (preset: the lesson's model)"),
                    ("views/anomaly.py", "Use it as a detector")),
    ),
)


def _go(delta: int) -> None:
    """Back / Next (a callback: the new step is drawn in the same rerun)."""
    st.session_state[STEP_KEY] = int(np.clip(st.session_state.get(STEP_KEY, 0) + delta, 0, len(STEPS) - 1))
    st.session_state["ls_jump"] = st.session_state[STEP_KEY]


def _jump() -> None:
    st.session_state[STEP_KEY] = st.session_state["ls_jump"]


# ---------------------------------------------------------------------------------------------

step_index = st.session_state.setdefault(STEP_KEY, 0)
st.session_state.setdefault("ls_jump", step_index)
step = STEPS[step_index]

with st.sidebar:
    st.selectbox("Jump to step", range(len(STEPS)), format_func=lambda i: f"{i + 1}. {STEPS[i].title}",
                 key="ls_jump", on_change=_jump)

bar = st.columns([7, 1.3, 1.3, 2.4], vertical_alignment="center")
with bar[3]:
    presenter = st.toggle("Presenter layout", key=persist(PRESENTER_KEY),
                          help="For a projector: no sidebar, larger pictures, each step on one 1280×720 screen.")
if presenter:
    st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
with bar[0]:
    st.markdown(f"### 🎓 {step.title}")
    st.caption(f"Lesson 5 · {step.section} · step {step_index + 1} of {len(STEPS)}")
bar[1].button("◀ Back", key="ls_back", on_click=_go, args=(-1,), disabled=step_index == 0, width="stretch")
bar[2].button("Next ▶", key="ls_next", on_click=_go, args=(1,), disabled=step_index == len(STEPS) - 1,
              type="primary", width="stretch")

with st.container(key="ls_body"):
    left, right = st.columns([2, 3], gap="large")
    with left, st.container(key="ls_explain"):
        st.markdown(step.text)
        for equation in step.equations:
            st.latex(equation)
        if step.live is live_code:
            test_loss_metrics()
        with st.container(key="ls_question"):
            st.markdown(f"**❓ For the class:** {step.question}")
            with st.popover("💡 Answer"):  # floats over the page: opening it pushes nothing below the fold
                st.markdown(step.answer)
        for page, label in step.pages:
            st.page_link(page, label=label, icon="➡️")
    with right, st.container(key=f"ls_live_{step_index}"):
        try:
            step.live(presenter)
        except LatentLabError as err:
            show_error(err)
