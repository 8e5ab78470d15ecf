"""Anomaly lab: score histograms, a threshold, precision/recall and ROC, galleries, your input.

Scores are computed once per (model, normal class, anomaly set, score) and cached for the server;
the threshold and everything that depends on it live in one `st.fragment`, so moving the slider
reruns only that panel (metrics, confusion matrix, histogram line, ROC point), not the page.
"""

import numpy as np
import streamlit as st

from core.figures.latent_map import tiles_figure
from core.figures.plots import confusion_figure, roc_figure, score_histogram
from core.figures.tiles import tile, tile_centres
from core.lab import anomaly, metrics
from core.lab.spec import ModelSpec
from core.lab.zoo import models_of, one_class_spec
from views.canvas import image_strip
from views.common import (
    USER_DIGIT_KEY,
    explain,
    forget,
    keras_model,
    note_subset,
    persist,
    read_only,
    served,
    spec_of,
    stop_on_error,
    title,
    trained_models,
)

ALL_DIGIT_MODELS = models_of("anomaly")
ONE_CLASS = "one_class"  # the shipped one-class VAE of the chosen digit (core.lab.zoo.one_class_spec)
GALLERY = 8
MISTAKES = 10  # images per mistakes gallery (false positives, false negatives)
# The page opens on a case whose score distributions overlap, so moving the threshold trades one kind
# of mistake for the other: a one-class model of this digit against the other digits (AUROC ≈ 0.94;
# all digits against Fashion-MNIST separate almost perfectly and teach nothing about thresholds).
MODES = ("One digit only", "All digits")
DEFAULT_DIGIT = 3


def _spec(model_name: str, digit: int | None) -> ModelSpec:
    """The shipped one-class model of `digit`, a shipped model by name, or a Training-lab model by name."""
    return one_class_spec(digit) if model_name == ONE_CLASS else spec_of(model_name)


def _model(model_name: str, digit: int | None):
    return keras_model(_spec(model_name, digit))


def _trained_for(digit: int | None) -> list[str]:
    """Training-lab models trained on this page's normal data: all digits, or exactly `digit`."""
    wanted = () if digit is None else (digit,)
    return [label for label, spec in trained_models().items() if spec.digits == wanted]


@st.cache_data(show_spinner="Scoring the test images (once per model and setting)…", max_entries=64)
def cached_scores(model_name: str, digit: int | None, anomaly_set: str, score_kind: str) -> dict:
    """Scores of normal validation, normal test and anomalous images; computed once per server."""
    model = _model(model_name, digit)
    val, test = anomaly.normal_images(digit)
    anom = anomaly.anomalous_images(anomaly_set, digit)
    return {
        "val": anomaly.score(model, val, score_kind), "test": anomaly.score(model, test, score_kind),
        "anom": anomaly.score(model, anom, score_kind),
    }


@st.cache_resource(show_spinner=False, max_entries=16)
def scored_images(digit: int | None, anomaly_set: str) -> tuple[np.ndarray, np.ndarray]:
    """The normal test images and the anomalous images, in the order `cached_scores` scores them (read-only,
    shared by every session: the mistakes galleries pick from them on every threshold move)."""
    return read_only(anomaly.normal_images(digit)[1]), read_only(anomaly.anomalous_images(anomaly_set, digit))


def mistakes_gallery(images: np.ndarray, scores: np.ndarray, wrong: np.ndarray, most_first: bool, key: str) -> None:
    """Up to MISTAKES of the images where `wrong` holds, the most confident mistakes first, each with its score."""
    (idx,) = np.nonzero(wrong)
    if not len(idx):
        st.caption("None at this threshold.")
        return
    idx = idx[np.argsort(-scores[idx] if most_first else scores[idx], kind="stable")][:MISTAKES]
    image_strip([images[i][..., 0] for i in idx], [f"{scores[i]:.4f}" for i in idx], key=key, height=64)


@st.cache_data(show_spinner=False, max_entries=256)
def user_score(model_name: str, digit: int | None, score_kind: str, image_bytes: bytes) -> float:
    """The score of the user's drawing or upload (28×28 float32, as bytes: a plain hashable key), once
    per image and setting, not on every threshold move."""
    image = np.frombuffer(image_bytes, np.float32).reshape(28, 28)
    return float(anomaly.score(_model(model_name, digit), image, score_kind)[0])


@st.cache_resource(show_spinner=False, max_entries=64)
def gallery_figures(model_name: str, digit: int | None, anomaly_set: str, score_kind: str) -> dict:
    """Figures of the most and least anomalous images among normal-test + anomalous, above their
    reconstructions, each score under its column. Built once and shared read-only by every session.
    One tiled PNG per gallery rather than a heatmap per image: these pictures never change."""
    s = cached_scores(model_name, digit, anomaly_set, score_kind)
    images = np.concatenate([anomaly.normal_images(digit)[1], anomaly.anomalous_images(anomaly_set, digit)])
    scores = np.concatenate([s["test"], s["anom"]])
    order = np.argsort(scores)
    picks = {"least": order[:GALLERY], "most": order[::-1][:GALLERY]}
    model = served(_spec(model_name, digit))
    figures = {}
    for k, i in picks.items():
        rows = np.stack([images[i][..., 0], model.reconstruct(images[i])[..., 0]])  # (2, GALLERY, 28, 28)
        figures[k] = tiles_figure(tile(rows), (tile_centres(GALLERY), [f"{v:.3f}" for v in scores[i]]),
                                  (tile_centres(2), ["input", "rebuilt"]), height=200)
    return figures


@st.fragment
def threshold_panel(model_name: str, digit: int | None, anomaly_set: str, score_kind: str,
                    user_mark: tuple[str, float] | None) -> None:
    """The slider and all it moves. Inside a fragment, a threshold change reruns only this."""
    s = cached_scores(model_name, digit, anomaly_set, score_kind)  # a cache hit: the arrays, no model call
    normal_name = "all digits" if digit is None else f"digit {digit}"
    default = anomaly.default_threshold(s["val"])
    lo, hi = float(min(s["test"].min(), s["anom"].min())), float(np.percentile(np.r_[s["test"], s["anom"]], 99.5))
    threshold = st.slider(
        "Threshold: flag as anomalous when the score is above", lo, max(hi, default * 1.01), default,
        step=(hi - lo) / 500 or None, format="%.4f",
        key=persist(f"an_threshold_{model_name}_{digit}_{anomaly_set}_{score_kind}"),
        help="Starts at the 95th percentile of normal *validation* scores: 5 % of normal images get flagged.",
    )

    c = anomaly.confusion(s["test"], s["anom"], threshold)
    auroc = metrics.auroc(s["test"], s["anom"])
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric("Precision", f"{c.precision:.3f}", help="Of the flagged images, the share that really are anomalous.")
    m2.metric("Recall", f"{c.recall:.3f}", help="Of the anomalies, the share that got flagged.")
    m3.metric("F1", f"{c.f1:.3f}")
    m4.metric("False-positive rate", f"{c.false_positive_rate:.3f}", help="Share of normal images wrongly flagged.")
    m5.metric("AUROC", f"{auroc:.4f}", help="Chance that a random anomaly scores higher than a random normal image.")
    with st.container(key="an_threshold_used"):  # the threshold these figures were computed at
        st.caption(f"At threshold t = {threshold:.4f}: {c.tp + c.fp} of {c.tp + c.fp + c.tn + c.fn} held-out "
                   f"images flagged ({c.tp} anomalies, {c.fp} normal).")

    marks = {}
    if user_mark is not None:
        source, user_score = user_mark
        marks[source] = user_score
        pct = metrics.percentile_of(user_score, s["test"])
        verdict = "flagged as anomalous" if user_score > threshold else "accepted as normal"
        st.info(f"**{source[:1].upper() + source[1:]}** scores {user_score:.4f}: more unusual than {pct:.1f} % of "
                f"normal test images ({normal_name}) — {verdict} at this threshold.")

    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(score_histogram(s["test"], s["anom"], threshold, anomaly.SCORE_LABELS[score_kind],
                                        normal_name, anomaly.ANOMALY_SHORT[anomaly_set], marks),
                        key="an_hist", config={"displayModeBar": False})
    with right:
        fpr, tpr, _ = anomaly.roc_curve(s["test"], s["anom"])
        st.plotly_chart(roc_figure(fpr, tpr, auroc, (c.false_positive_rate, c.recall)), key="an_roc",
                        config={"displayModeBar": False})
    matrix, galleries = st.columns([2, 3])
    matrix.plotly_chart(confusion_figure(c.tp, c.fp, c.tn, c.fn), key="an_confusion", config={"displayModeBar": False})
    matrix.caption(f"Normal: {len(s['test'])} held-out MNIST test images ({normal_name}); the threshold's default "
                   f"comes from the other {len(s['val'])}. Anomalous: {len(s['anom'])} images.")
    normal_images, anomalous_images = scored_images(digit, anomaly_set)
    with galleries:
        st.markdown(f"**False positives ({c.fp})**: normal images ({normal_name}) flagged — highest scores first")
        mistakes_gallery(normal_images, s["test"], s["test"] > threshold, True, "an_false_positives")
        st.markdown(f"**False negatives ({c.fn})**: anomalies ({anomaly.ANOMALY_SHORT[anomaly_set]}) let through — "
                    "lowest scores first")
        mistakes_gallery(anomalous_images, s["anom"], s["anom"] <= threshold, False, "an_false_negatives")


st.title("🚨 Anomaly lab")
st.caption("Train on what is normal; flag what the model cannot rebuild.")
explain(
    "Each image's **score** is its reconstruction error (or −ELBO); a score above the threshold flags the image "
    "as anomalous, a *positive*. Counting the four outcomes on held-out images gives the confusion matrix — "
    "**TP** anomalies flagged, **FP** normal images flagged, **TN** normal images passed, **FN** anomalies missed — "
    "and the four figures below are ratios of those counts (AUROC sums up every threshold at once).",
    r"s_{\mathrm{MSE}}(x)=\tfrac{1}{784}\sum_{i=1}^{784}(x_i-\hat x_i)^2 \qquad "
    r"\text{flag } x \iff s(x) > t",
    r"\text{precision}=\frac{TP}{TP+FP}\quad \text{recall}=\frac{TP}{TP+FN}\quad "
    r"F_1=\frac{2\,\text{precision}\cdot\text{recall}}{\text{precision}+\text{recall}}\quad "
    r"\text{FPR}=\frac{FP}{FP+TN}",
)

with st.sidebar:
    st.header("What is normal")
    # A new mode starts from its own defaults: its anomaly sets differ, and so does the score that suits it.
    mode = st.radio("Normal data", MODES, key=persist("an_mode"), on_change=forget, args=("an_set", "an_score"))
    digit = (st.selectbox("Normal digit", list(range(10)), index=DEFAULT_DIGIT, key=persist("an_digit"))
             if mode == "One digit only" else None)
    mine = _trained_for(digit)  # Training-lab models that learnt exactly this normal data
    if digit is None:
        model_name = st.selectbox("Model", [*ALL_DIGIT_MODELS, *mine], format_func=title, key=persist("an_model"),
                                  help="Models you trained in the Training lab (on all digits) are listed too.")
    else:
        model_name = ONE_CLASS
        if mine:
            model_name = st.selectbox("Model", [ONE_CLASS, *mine], key=persist("an_oc_model"),
                                      format_func=lambda n: f"Shipped VAE (8-D) trained on the {digit}s" if n == ONE_CLASS else n)
        if model_name == ONE_CLASS:
            st.caption(f"A VAE (8-D latent) trained only on the {digit}s of the training set.")
    st.header("What is anomalous")
    sets = [k for k in anomaly.ANOMALY_SETS if digit is not None or k != "other_digits"]
    anomaly_set = st.selectbox("Anomalies", sets, format_func=anomaly.ANOMALY_SETS.get, key=persist("an_set"),
                               index=sets.index("other_digits") if digit is not None else 0)
    is_vae = _spec(model_name, digit).is_vae
    score_kind = st.selectbox("Score", [k for k in anomaly.SCORES if is_vae or k != "neg_elbo"],
                              index=1 if digit is not None else 0,  # MSE separates digits best (see core.lab.zoo)
                              format_func=anomaly.SCORE_LABELS.get, key=persist("an_score"))

user_mark = None  # (name, score) of the user's latest drawing or upload, marked on the histogram
with stop_on_error():
    cached_scores(model_name, digit, anomaly_set, score_kind)
    user = st.session_state.get(USER_DIGIT_KEY)
    if user is not None:
        user_mark = (user["source"], user_score(model_name, digit, score_kind, np.asarray(user["image"], np.float32).tobytes()))

threshold_panel(model_name, digit, anomaly_set, score_kind, user_mark)
note_subset(fashion=anomaly_set == "fashion")

with st.expander("The most and least anomalous images, with their reconstructions", expanded=True):
    g = gallery_figures(model_name, digit, anomaly_set, score_kind)
    for key, label in (("most", "Most anomalous"), ("least", "Least anomalous")):
        st.plotly_chart(g[key], key=f"an_gallery_{key}", config={"displayModeBar": False})
        st.caption(f"{label} (each score under its column).")

st.divider()
st.subheader("Why reconstruction error finds anomalies")
st.markdown(
    """
The model only ever practised rebuilding normal images, so its code can describe *those* well and
little else. Feed it something unlike its training data and it rebuilds the nearest thing it knows —
the error is large, and that error is the score.

**Choosing a threshold** is a trade. Move it left and you catch more anomalies (recall rises) but flag
more normal images (false positives rise). The ROC curve shows every possible trade at once; AUROC
summarises it in one number that does not depend on the threshold. A common start is to accept a
fixed false-alarm rate on normal data you held back — here 5 %, the 95th percentile of validation scores.

**What false positives cost** depends on the job: a flagged card payment is a text message to the
customer, a flagged scan is a radiologist's time. When anomalies are rare, even a 5 % false-alarm rate can
mean most alarms are false, which is why precision matters as much as recall.
"""
)
