"""Upload your own digits: each image goes through the MNIST-style pipeline step by step, then two
autoencoders rebuild it, say how unusual it is among MNIST test digits, and place it in the VAE's
2-D latent space. A bad file gets its own message; the others are still processed.

Every rerun shows every file again, so what a file shows is cached on its bytes and the chosen models:
decoding and preprocessing, reconstructions, figures. A rerun with the same files
only lays the cached pieces out; a new file costs its own work once."""

import textwrap

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.figures.latent_map import latent_map
from core.figures.plots import image_row, reference_histogram
from core.lab import anomaly, metrics
from core.lab.compare import reconstruct_all
from core.lab.data import mnist_for_pages, to_float
from core.lab.images import EXTENSIONS, MAX_MB
from core.lab.preprocess import Outcome, preprocess_many
from core.lab.samples import SAMPLES, SAMPLES_DIR
from core.lab.zoo import models_of, spec_named
from views.common import (
    keras_model,
    note_subset,
    persist,
    pick_trained_models,
    read_only,
    remember_user_digit,
    served,
    show_error,
    spec_of,
    title,
)

MODELS = models_of("upload")  # an autoencoder and a VAE; the VAE's 2-D latent space is mapped
VAE = "vae_2d"
PICKED = "up_samples"  # session key: the sample images this user chose, in order


# st.cache_resource for arrays read on every rerun: st.cache_data would unpickle a fresh copy each time.
@st.cache_resource(show_spinner="Scoring the MNIST test digits (once per server)…", max_entries=16)
def reference_errors(model_name: str) -> np.ndarray:
    """Per-image reconstruction BCE of every MNIST test digit the pages show under `model_name` (N,)."""
    return read_only(anomaly.score(keras_model(spec_of(model_name)), to_float(mnist_for_pages().x_test), "bce"))


@st.cache_resource(show_spinner="Encoding the MNIST test digits (once per server)…")
def reference_codes(model_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The VAE's z_mean (N, 2) of every MNIST test digit the pages show, and their labels."""
    mnist = mnist_for_pages()
    return read_only(served(spec_named(model_name)).encode(to_float(mnist.x_test))), read_only(mnist.y_test.copy())


@st.cache_resource(show_spinner=False, max_entries=64)
def processed(name: str, data: bytes) -> Outcome:
    """One file decoded and preprocessed, once per name and bytes."""
    return preprocess_many([(name, data)])[0]


@st.cache_resource(show_spinner=False, max_entries=64)
def file_panel(name: str, data: bytes, model_names: tuple[str, ...]) -> dict:
    """What one good file shows: its preprocessing steps and reconstructions as figures, each model's
    error and percentile among the MNIST test digits, and its z_mean in the VAE's space. Shared
    read-only by every session that shows the same file with the same models."""
    pre = processed(name, data).pre
    x = pre.image  # (28, 28)
    recs = reconstruct_all({n: served(spec_of(n)) for n in model_names}, x)
    return {
        "steps": image_row([img for _, img in pre.steps], [_wrap(c) for c, _ in pre.steps], height=230),
        "recs": image_row([x] + [r.image for r in recs], ["what the model sees<br>28×28"]
                          + [f"{title(r.name)}<br>error {r.bce:.3f}" for r in recs], height=240),
        "errors": [(r.name, r.bce, metrics.percentile_of(r.bce, reference_errors(r.name))) for r in recs],
        "z": tuple(float(v) for v in served(spec_named(VAE)).encode(x)[0]),  # (2,): the VAE's z_mean
    }


@st.cache_resource(show_spinner=False, max_entries=16)
def map_figure(marks: tuple[tuple[str, float, float], ...]):
    """The VAE's latent map of the test digits with the uploads' marks (name, z₁, z₂): 10 000 points
    are slow to build, so once per set of marks."""
    z_test, y_test = reference_codes(VAE)
    return latent_map(z_test, y_test, {n: (z1, z2) for n, z1, z2 in marks})


@st.cache_resource(show_spinner=False, max_entries=16)
def histogram_figure(scores: tuple[tuple[str, float], ...]):
    return reference_histogram(reference_errors(MODELS[0]), dict(scores), f"reconstruction BCE ({title(MODELS[0])})")


@st.cache_data(show_spinner=False)
def sample_bytes(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def _wrap(caption: str) -> str:
    return "<br>".join(textwrap.wrap(caption, 18))


st.title("📤 Upload your own digits")
st.caption("Photos of digits on paper, scans, screenshots, white-on-black drawings: see how each becomes "
           "a 28×28 MNIST-style image, how two autoencoders rebuild it, and how unusual it looks to them.")

uploads = st.file_uploader(f"Images of handwritten digits ({', '.join(EXTENSIONS)}; up to {MAX_MB} MB each)",
                           type=list(EXTENSIONS), accept_multiple_files=True, key="up_files")
picked = st.session_state.setdefault(PICKED, [])
st.write("…or try a sample image:")
# Buttons as wide as their labels, in a row that wraps: a fixed grid of columns cut the labels ("paper p…").
with st.container(horizontal=True, gap="small"):
    for name, what in SAMPLES.items():
        stem = name.split(".")[0]
        if st.button(stem.replace("_", " "), key=f"up_sample_{stem}", help=f"{name}: {what}") and name not in picked:
            picked.append(name)
    if st.button("All samples", key="up_sample_all", type="primary"):
        picked[:] = list(SAMPLES)
    if st.button("Clear", key="up_clear", help="Take the sample images off the page"):
        picked.clear()

extra = [name for name, _ in pick_trained_models("up_extra")]

files = [(f.name, f.getvalue()) for f in uploads or []] + [(f"sample {n}", sample_bytes(n)) for n in picked]
if not files:
    st.info("Upload one or more images of digits, or pick a sample image above.")
    st.stop()
seen: dict[str, int] = {}
for i, (name, data) in enumerate(files):  # the same name twice gets "(2)": names key the results below
    seen[name] = seen.get(name, 0) + 1
    files[i] = (name if seen[name] == 1 else f"{name} ({seen[name]})", data)
outcomes = [processed(name, data) for name, data in files]
try:
    panels = {o.name: file_panel(o.name, data, (*MODELS, *extra)) for o, (_, data) in zip(outcomes, files, strict=True) if o.ok}
except LatentLabError as err:
    show_error(err)
    st.stop()

good = [o for o in outcomes if o.ok]
mine = good[-1].name if good else None  # the image the other pages use as "my digit"
if len(good) > 1:
    mine = st.radio("Which one is **my digit** on the other pages (Denoise, Anomalies, Latent space)?",
                    [o.name for o in good], index=len(good) - 1, horizontal=True, key=persist("up_my_digit"))
for o in good:
    if o.name == mine:
        remember_user_digit(o.pre.image, f"upload {o.name}")

for i, o in enumerate(outcomes):
    with st.container(border=True):
        st.markdown(f"#### {o.name}" + (" · ⭐ my digit" if o.name == mine and len(good) > 1 else ""))
        if not o.ok:
            st.error(o.error)
            continue
        for note in o.pre.notes:
            st.caption(f"ℹ️ {note}")
        panel = panels[o.name]
        st.plotly_chart(panel["steps"], key=f"up_steps_{i}", config={"displayModeBar": False})
        left, right = st.columns([3, 2])
        left.plotly_chart(panel["recs"], key=f"up_recs_{i}", config={"displayModeBar": False})
        with right:
            for model_name, bce, pct in panel["errors"]:
                st.markdown(f"**{title(model_name)}**: error {bce:.3f}, more unusual than **{pct:.0f} %** of "
                            "MNIST test digits")

if panels:
    st.subheader("Where your images land")
    left, right = st.columns([3, 2])
    marks = tuple((name, *p["z"]) for name, p in panels.items())
    left.plotly_chart(map_figure(marks), key="up_latent", config={"displayModeBar": False})
    left.caption(f"{title(VAE)}: the centre of q(z|x) for each of {mnist_for_pages().described}, coloured by "
                 "digit, and for your images (stars; numbered ★1, ★2, … when there are several, named in the legend). "
                 "An image that lands among the 3s looks like a 3 to the VAE.")
    # file name → the autoencoder's (MODELS[0]) reconstruction error
    scores = tuple((name, p["errors"][0][1]) for name, p in panels.items())
    right.plotly_chart(histogram_figure(scores), key="up_hist", config={"displayModeBar": False})
    right.caption("The anomaly score is where an image's reconstruction error falls among the test digits' errors: "
                  "far right means the autoencoder has rarely seen anything like it.")
    note_subset()

with st.expander("How an image becomes MNIST-style"):
    st.markdown(
        """
1. **Upright**: phones store photos sideways and say so in EXIF; that is applied first.
2. **Greyscale**: colour becomes brightness; transparent pixels take the paper's colour.
3. **Polarity**: MNIST is light ink on black, so dark ink on light paper is inverted.
4. **Paper removed**: uneven lighting is evened out (a smooth surface fitted to the paper is
   subtracted), then Otsu's threshold, softened, sets paper to black; specks away from the digit go.
5. **As MNIST was made**: crop to the ink, scale to fit a 20×20 box keeping the aspect ratio,
   and place it in 28×28 so that the ink's centre of mass is at the centre.
"""
    )
