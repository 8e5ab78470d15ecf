"""Upload your own digits: each image goes through the MNIST-style pipeline step by step, then two
autoencoders rebuild it, say how unusual it is among MNIST test digits, and place it in the VAE's
2-D latent space. A bad file gets its own message; the others are still processed."""

import textwrap

import numpy as np
import streamlit as st

from core import anomaly, infer, metrics
from core.compare import reconstruct_all
from core.data import load_mnist, to_float
from core.errors import LatentLabError
from core.images import EXTENSIONS, MAX_MB
from core.plots import image_row, latent_map, reference_histogram
from core.preprocess import preprocess_many
from core.samples import SAMPLES, SAMPLES_DIR
from views.common import model_named, remember_user_digit, shipped_model, show_error, title, trained_models

MODELS = ("conv_ae", "vae_2d")  # an autoencoder and a VAE; the VAE's 2-D latent space is mapped
PICKED = "up_samples"  # session key: the sample images this user chose, in order


@st.cache_data(show_spinner="Scoring the 10 000 MNIST test digits (once per server)…")
def reference_errors(model_name: str) -> np.ndarray:
    """Per-image reconstruction BCE of every MNIST test digit under `model_name` (10 000,)."""
    return anomaly.score(model_named(model_name), to_float(load_mnist().x_test), "bce")


@st.cache_data(show_spinner="Encoding the MNIST test digits (once per server)…")
def reference_codes(model_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The VAE's z_mean (10 000, 2) of every MNIST test digit, and their labels."""
    mnist = load_mnist()
    return infer.encode(shipped_model(model_name), to_float(mnist.x_test)), mnist.y_test


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
cols = st.columns(len(SAMPLES) + 2)
for col, (name, what) in zip(cols, SAMPLES.items(), strict=False):
    stem = name.split(".")[0]
    if col.button(stem.replace("_", " "), key=f"up_sample_{stem}", help=f"{name}: {what}", width="stretch") and name not in picked:
        picked.append(name)
if cols[-2].button("All samples", key="up_sample_all", type="primary", width="stretch"):
    picked[:] = list(SAMPLES)
if cols[-1].button("Clear samples", key="up_clear", width="stretch"):
    picked.clear()

mine = trained_models()
extra = st.multiselect("Also compare models trained in the Training lab", list(mine), key="up_extra", disabled=not mine,
                       placeholder="none trained yet" if not mine else "choose models")

files = [(f.name, f.getvalue()) for f in uploads or []] + [(f"sample {n}", sample_bytes(n)) for n in picked]
if not files:
    st.info("Upload one or more images of digits, or pick a sample image above.")
    st.stop()
seen: dict[str, int] = {}
for i, (name, data) in enumerate(files):  # the same name twice gets "(2)": names key the results below
    seen[name] = seen.get(name, 0) + 1
    files[i] = (name if seen[name] == 1 else f"{name} ({seen[name]})", data)
outcomes = preprocess_many(files)
good = [o for o in outcomes if o.ok]
try:
    models = {name: model_named(name) for name in (*MODELS, *extra)}
    refs = {name: reference_errors(name) for name in models}
    z_test, y_test = reference_codes("vae_2d")
    z_good = infer.encode(models["vae_2d"], np.stack([o.pre.image for o in good])) if good else np.zeros((0, 2))
except LatentLabError as err:
    show_error(err)
    st.stop()

scores = {}  # file name → the autoencoder's (MODELS[0]) reconstruction error, for the histogram
for i, o in enumerate(outcomes):
    with st.container(border=True):
        st.markdown(f"#### {o.name}")
        if not o.ok:
            st.error(o.error)
            continue
        for note in o.pre.notes:
            st.caption(f"ℹ️ {note}")
        x = o.pre.image
        st.plotly_chart(image_row([img for _, img in o.pre.steps], [_wrap(c) for c, _ in o.pre.steps], height=230),
                        key=f"up_steps_{i}", config={"displayModeBar": False})
        recs = reconstruct_all(models, x)
        left, right = st.columns([3, 2])
        left.plotly_chart(image_row([x] + [r.image for r in recs], ["what the model sees<br>28×28"]
                                    + [f"{title(r.name)}<br>error {r.bce:.3f}" for r in recs], height=240),
                          key=f"up_recs_{i}", config={"displayModeBar": False})
        with right:
            for r in recs:
                pct = metrics.percentile_of(r.bce, refs[r.name])
                st.markdown(f"**{title(r.name)}**: error {r.bce:.3f}, more unusual than **{pct:.0f} %** of "
                            "MNIST test digits")
            scores[o.name] = recs[0].bce
        remember_user_digit(x, f"upload {o.name}")

if good:
    st.subheader("Where your images land")
    left, right = st.columns([3, 2])
    marks = {o.name: (float(z[0]), float(z[1])) for o, z in zip(good, z_good, strict=True)}
    left.plotly_chart(latent_map(z_test, y_test, marks), key="up_latent", config={"displayModeBar": False})
    left.caption(f"{title('vae_2d')}: the centre of q(z|x) for each of the 10 000 MNIST test digits, coloured by "
                 "digit, and for your images (stars). An image that lands among the 3s looks like a 3 to the VAE.")
    right.plotly_chart(reference_histogram(refs[MODELS[0]], scores, f"reconstruction BCE ({title(MODELS[0])})"),
                       key="up_hist", config={"displayModeBar": False})
    right.caption("The anomaly score is where an image's reconstruction error falls among the test digits' errors: "
                  "far right means the autoencoder has rarely seen anything like it.")

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
