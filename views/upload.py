"""Upload your own digits (or take a photo): every digit in each image is found, in reading order, and
goes through the MNIST-style pipeline step by step; then two autoencoders rebuild it, say how unusual
it is among MNIST test digits (flagged above the 95th percentile), which test digits its code is
nearest to (k-NN), and place it in the VAE's 2-D latent space. A bad file gets its own message; the
others are still processed.

Every rerun shows every file again, so what a file shows is cached on its bytes and the chosen models:
decoding and preprocessing, reconstructions, figures. A rerun with the same files
only lays the cached pieces out; a new file costs its own work once."""

import textwrap

import numpy as np
import streamlit as st

from core.figures.latent_map import latent_map
from core.figures.plots import image_row, reference_histogram
from core.figures.tiles import png_bytes, tile
from core.lab.anomaly import FLAG_PERCENTILE
from core.lab.compare import reconstruct_all
from core.lab.data import mnist_for_pages
from core.lab.images import EXTENSIONS, MAX_MB
from core.lab.neighbours import K
from core.lab.preprocess import Digit
from core.lab.samples import SAMPLES, SAMPLES_DIR
from core.lab.zoo import models_of, spec_named
from views.common import (
    explain,
    judged,
    mnist_reference,
    mnist_test_digit,
    note_subset,
    persist,
    pick_trained_models,
    processed,
    remember_user_digit,
    served,
    spec_of,
    stop_on_error,
    title,
)

MODELS = models_of("upload")  # an autoencoder and a VAE; the VAE's 2-D latent space is mapped
VAE = "vae_2d"
PICKED = "up_samples"  # session key: the sample images this user chose, in order


def reference_errors(model_name: str) -> np.ndarray:
    """Per-image reconstruction BCE of every MNIST test digit the pages show under `model_name` (N,),
    computed once per model per server (`views.common.mnist_reference`)."""
    return mnist_reference(model_name).scores


@st.cache_resource(show_spinner=False, max_entries=64)
def file_panel(name: str, data: bytes, model_names: tuple[str, ...]) -> dict:
    """What one good file shows: its preprocessing steps as a figure, and for each digit in it (reading
    order) its reconstructions as a figure, each model's verdict (error, percentile among the MNIST test
    digits, flagged or not, k-NN label: `core.lab.verdict`), the first model's nearest test digits as
    one image, and its z_mean in the VAE's space. Shared read-only by every session that shows the same
    file with the same models."""
    pre = processed(name, data).pre
    x = np.stack([d.image for d in pre.digits])  # (M, 28, 28)
    verdicts = {n: judged(n, x) for n in model_names}  # model → one Verdict per digit
    z = served(spec_named(VAE)).encode(x)  # (M, 2): the VAE's z_mean
    models = {n: served(spec_of(n)) for n in model_names}
    digits = []
    for j, digit in enumerate(pre.digits):
        recs = reconstruct_all(models, digit.image)
        near = verdicts[model_names[0]][j].neighbours
        digits.append({
            "recs": image_row([digit.image] + [r.image for r in recs], ["what the model sees<br>28×28"]
                              + [f"{title(r.name)}<br>error {r.bce:.3f}" for r in recs], height=240),
            "verdicts": [(n, verdicts[n][j]) for n in model_names],
            "neighbours": png_bytes(tile(np.stack([mnist_test_digit(k)[0] for k in near])), scale=2),
            "z": (float(z[j, 0]), float(z[j, 1])),
        })
    return {"steps": image_row([img for _, img in pre.steps], [_wrap(c) for c, _ in pre.steps], height=230),
            "digits": digits}


@st.cache_resource(show_spinner=False, max_entries=16)
def map_figure(marks: tuple[tuple[str, float, float], ...]):
    """The VAE's latent map of the test digits with the uploads' marks (name, z₁, z₂): 10 000 points
    are slow to build, so once per set of marks."""
    ref = mnist_reference(VAE)
    return latent_map(ref.codes, ref.labels, {n: (z1, z2) for n, z1, z2 in marks})


@st.cache_resource(show_spinner=False, max_entries=16)
def histogram_figure(scores: tuple[tuple[str, float], ...]):
    return reference_histogram(reference_errors(MODELS[0]), dict(scores), f"reconstruction BCE ({title(MODELS[0])})")


@st.cache_data(show_spinner=False)
def sample_bytes(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def _wrap(caption: str) -> str:
    return "<br>".join(textwrap.wrap(caption, 18))


def camera_files(shot) -> list[tuple[str, bytes]]:
    """The camera's photo (an `st.camera_input` value, or None) as a file like the uploads: it takes
    the same path (decoding with its byte and pixel limits, then the pipeline)."""
    return [] if shot is None else [("camera photo", shot.getvalue())]


def digit_names(name: str, count: int) -> list[str]:
    """How a file's digits are named on the map and the histogram: the file's name for one digit,
    "name #1", "name #2", … for several."""
    return [name] if count == 1 else [f"{name} #{j + 1}" for j in range(count)]


def show_digit(i: int, j: int, digit: Digit, row: dict, several: bool) -> None:
    """One digit's row: its crop as photographed, its 28×28 input and reconstructions, each model's verdict
    and the first model's nearest MNIST test digits."""
    if several:
        st.markdown(f"##### Digit {j + 1}")
    for note in digit.notes:
        st.warning(note, icon="⚠️")
    x0, y0, x1, y1 = digit.box
    crop_col, recs_col, verdict_col = st.columns([1, 4, 3], vertical_alignment="center")
    crop_col.image(digit.crop, caption=f"as photographed, ({x0}, {y0})–({x1}, {y1})", clamp=True, width="stretch")
    recs_col.plotly_chart(row["recs"], key=f"up_recs_{i}_{j}", config={"displayModeBar": False})
    with verdict_col:
        for model_name, v in row["verdicts"]:
            flag = f" — ⚠️ **flagged as unusual** (above the {FLAG_PERCENTILE:.0f}th percentile)" if v.flagged else ""
            st.markdown(f"**{title(model_name)}**: error {v.score:.3f}, more unusual than **{v.percentile:.0f} %** of "
                        f"MNIST test digits{flag}. Its code is nearest to test digits labelled **{v.label}** "
                        f"({v.votes} of {K})")
        st.image(row["neighbours"], caption=f"the {K} MNIST test digits nearest in {title(MODELS[0])}'s code")


st.title("📤 Upload your own digits")
st.caption("Photos of digits on paper (one digit, a line, or a sheet with 0–9), scans, screenshots, white-on-black "
           "drawings: see how each digit becomes a 28×28 MNIST-style image, how two autoencoders rebuild it, how "
           "unusual it looks to them, and which MNIST digits its code is nearest to.")
explain(
    "Each digit is made MNIST-style (cropped, scaled into 20×20, centred by mass in 28×28), then rebuilt. Its "
    "**error** is the mean binary cross-entropy of the rebuild; its **percentile** is the share of MNIST test "
    f"digits with a smaller error, and above the {FLAG_PERCENTILE:.0f}th it is flagged as unusual. The **label** is the "
    f"vote of the {K} MNIST test digits whose codes are nearest to its code z = f(x).",
    r"\mathrm{BCE}(x,\hat x)=-\frac{1}{784}\sum_{i=1}^{784}\big[x_i\log\hat x_i+(1-x_i)\log(1-\hat x_i)\big],"
    r"\qquad \mathrm{percentile}(x)=100\cdot\frac{\#\{\text{test } t:\ \mathrm{BCE}(t)<\mathrm{BCE}(x)\}}{\#\,\text{test}}",
    r"\hat y(x)=\operatorname{majority}\{\,y_t:\ t\text{ among the }K\text{ test digits whose codes are nearest to }f(x)\,\}",
    expanded=False,
)

uploads = st.file_uploader(f"Images of handwritten digits ({', '.join(EXTENSIONS)}; up to {MAX_MB} MB each)",
                           type=list(EXTENSIONS), accept_multiple_files=True, key="up_files")
shot = None
if st.toggle("📷 Take a photo with my camera", key="up_camera_on",
             help="Hold a digit, a line of digits or a sheet up to your camera; the photo goes through the same steps."):
    shot = st.camera_input("Take a photo of your digits", key="up_camera")
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

files = ([(f.name, f.getvalue()) for f in uploads or []] + camera_files(shot)
         + [(f"sample {n}", sample_bytes(n)) for n in picked])
if not files:
    st.info("Upload one or more images of digits, take a photo, or pick a sample image above.")
    st.stop()
seen: dict[str, int] = {}
for i, (name, data) in enumerate(files):  # the same name twice gets "(2)": names key the results below
    seen[name] = seen.get(name, 0) + 1
    files[i] = (name if seen[name] == 1 else f"{name} ({seen[name]})", data)
outcomes = [processed(name, data) for name, data in files]
with stop_on_error():
    panels = {o.name: file_panel(o.name, data, (*MODELS, *extra)) for o, (_, data) in zip(outcomes, files, strict=True) if o.ok}

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
        for j, (digit, row) in enumerate(zip(o.digits, panel["digits"], strict=True)):
            show_digit(i, j, digit, row, several=len(o.digits) > 1)

if panels:
    st.subheader("Where your images land")
    left, right = st.columns([3, 2])
    named = [(label, row) for name, p in panels.items()
             for label, row in zip(digit_names(name, len(p["digits"])), p["digits"], strict=True)]
    marks = tuple((label, *row["z"]) for label, row in named)
    left.plotly_chart(map_figure(marks), key="up_latent", config={"displayModeBar": False})
    left.caption(f"{title(VAE)}: the centre of q(z|x) for each of {mnist_for_pages().described}, coloured by "
                 "digit, and for your images (stars; numbered ★1, ★2, … when there are several, named in the legend). "
                 "An image that lands among the 3s looks like a 3 to the VAE.")
    # digit name → the autoencoder's (MODELS[0]) reconstruction error
    scores = tuple((label, row["verdicts"][0][1].score) for label, row in named)
    right.plotly_chart(histogram_figure(scores), key="up_hist", config={"displayModeBar": False})
    right.caption("The anomaly score is where an image's reconstruction error falls among the test digits' errors: "
                  "far right means the autoencoder has rarely seen anything like it. A digit is flagged as unusual "
                  f"above the {FLAG_PERCENTILE:.0f}th percentile: {100 - FLAG_PERCENTILE:.0f} % of MNIST's own test "
                  "digits are.")
    note_subset()

with st.expander("How an image becomes MNIST-style"):
    st.markdown(
        """
1. **Upright**: phones store photos sideways and say so in EXIF; that is applied first.
2. **Greyscale**: colour becomes brightness; transparent pixels take the paper's colour.
3. **Polarity**: MNIST is light ink on black, so dark ink on light paper is inverted.
4. **Paper removed**: uneven lighting is evened out (a smooth surface fitted to the paper is
   subtracted), then Otsu's threshold, softened, sets paper to black; specks away from the digit go.
4½. **Every digit**: the ink's connected pieces are grouped into digits (a 5's loose bar stays with
   its 5) and read in rows, top to bottom, each left to right (at most 30 per image); a blob much
   wider than tall is probably two digits touching, and says so.
5. **As MNIST was made**: crop to the ink, scale to fit a 20×20 box keeping the aspect ratio,
   and place it in 28×28 so that the ink's centre of mass is at the centre.
"""
    )
