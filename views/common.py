"""What every page shares: models by spec, the trained-model picker, the user's digit, errors.

Not a page itself. The folder is `views/`, not `pages/`: Streamlit treats a `pages/` folder next to the
entry script as legacy multipage mode, which a deep link on a fresh server could fall into.
Pages get models only through `served` (numpy in, numpy out: `core.serving.infer`) or, for lab
functions over whole test sets, `keras_model`; both are keyed by the model's `ModelSpec`.
"""

from __future__ import annotations

import contextlib

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.lab.preprocess import Outcome, preprocess_many
from core.lab.spec import ModelSpec
from core.lab.zoo import SHIPPED, TITLES, WARM_UP, name_of, spec_named
from core.serving import runtime
from core.serving.infer import Served, server

runtime.install()  # before any page runs a model (see core/serving/runtime.py)

USER_DIGIT_KEY = "user_digit"  # session key: the latest 28×28 input the user drew or uploaded


def served(spec: ModelSpec) -> Served:
    """The model for `spec`, shared by every session of this server (never mutate it)."""
    return server().served(spec)


def keras_model(spec: ModelSpec):
    """The Keras model itself, for `core.lab` functions that take one (scores, codes, −ELBO)."""
    return server().model(spec)


def model_store():
    """The server's `core.serving.store.ModelStore` (records, entries, availability)."""
    return server().store


@st.cache_resource(show_spinner=False)
def warm_up_in_background():
    """Once per server, on the first visit to the Home page: a daemon thread imports TensorFlow and
    loads the models the other pages open with (`core.lab.zoo.WARM_UP`), so a class that lands on Home
    and then opens another page does not wait there. A page that asks for a
    model still loading waits for that one load, never a second one. Returns the thread."""
    import logging
    import threading

    def run() -> None:
        try:
            for name in WARM_UP:
                served(spec_named(name))
                keras_model(spec_named(name))
        except Exception:  # noqa: BLE001 (the page that needs the model loads it again and shows the error)
            logging.getLogger(__name__).exception("warming up the shipped models failed")

    thread = threading.Thread(target=run, name="latent-lab-warm-up", daemon=True)
    thread.start()
    return thread


def trained_models() -> dict[str, ModelSpec]:
    """Models users trained on this server (Training lab), display name → spec, newest first."""
    out: dict[str, ModelSpec] = {}
    for record in model_store().entries(include_shipped=False):
        spec = ModelSpec.from_dict(record["spec"])
        name = name_of(spec)
        # Specs that differ only in what a name leaves out (seed, learning rate, …) get numbered.
        out[name if name not in out else f"{name} #{sum(n.startswith(name) for n in out) + 1}"] = spec
    return out


def pick_trained_models(key: str, label: str = "Also compare models trained in the Training lab",
                        fits=lambda spec: True) -> list[tuple[str, ModelSpec]]:
    """The multiselect of Training-lab models that pages offer beside their shipped ones; only models
    for which `fits(spec)` holds are offered. Returns the chosen (name, spec) pairs."""
    mine = {name: spec for name, spec in trained_models().items() if fits(spec)}
    chosen = st.multiselect(label, list(mine), key=key, disabled=not mine,
                            placeholder="choose models" if mine else "none trained yet")
    return [(name, mine[name]) for name in chosen if name in mine]


def spec_of(choice: str) -> ModelSpec:
    """A shipped model's name or a trained model's display name (`trained_models`) → its spec."""
    if choice in SHIPPED:
        return SHIPPED[choice]
    spec = trained_models().get(choice)
    if spec is None:
        raise LatentLabError(f"the trained model {choice!r} is no longer on this server; choose another model")
    return spec


def read_only(array: np.ndarray) -> np.ndarray:
    """For arrays kept in st.cache_resource, shared by every session (st.cache_data would unpickle a
    fresh copy on every call instead): make writes fail loudly. Returns `array`."""
    array.flags.writeable = False
    return array


@st.cache_data(show_spinner=False)
def mnist_test_digit(index: int) -> tuple[np.ndarray, int]:
    """MNIST test image `index` of the pages' test set (`mnist_test_count`) as float32 (28, 28) in [0, 1],
    and its label."""
    from core.lab.data import mnist_for_pages

    mnist = mnist_for_pages()
    if not 0 <= index < len(mnist.x_test):
        raise LatentLabError(f"test digit index must be in 0..{len(mnist.x_test) - 1}, got {index}")
    return mnist.x_test[index].astype(np.float32) / 255.0, int(mnist.y_test[index])


@st.cache_resource(show_spinner="Scoring and encoding the MNIST test digits (once per model)…", max_entries=16)
def mnist_reference(model_name: str):
    """A model's scores (per-image BCE) and codes of every MNIST test digit the pages show, with their
    labels (`core.lab.verdict.Reference`): what uploads and drawings are judged against, once per model
    per server. `model_name`: a shipped model's name or a trained model's display name."""
    from core.lab import verdict
    from core.lab.data import mnist_for_pages, to_float

    model, mnist = served(spec_of(model_name)), mnist_for_pages()
    ref = verdict.reference(model.reconstruct, model.encode, to_float(mnist.x_test), mnist.y_test)
    for array in (ref.scores, ref.codes, ref.labels):
        read_only(array)
    return ref


def judged(model_name: str, x: np.ndarray) -> list:
    """The Upload page's verdict on digits x (M, 28, 28) or one (28, 28) under `model_name`: score,
    percentile, flagged, k-NN label and neighbours (`core.lab.verdict.Verdict`s)."""
    from core.lab import verdict

    model = served(spec_of(model_name))
    return verdict.judge(x, model.reconstruct, model.encode, mnist_reference(model_name))


def mnist_test_count() -> int:
    """How many MNIST test digits the pages show: 10 000, or the shipped subset's 2 000 without the full data."""
    from core.lab.data import mnist_for_pages

    return len(mnist_for_pages().y_test)


def note_subset(fashion: bool = False) -> None:
    """One quiet caption when the page shows the test subset shipped with the app (no full data here)."""
    from core.lab.data import fashion_for_pages, mnist_for_pages, subset_note

    note = subset_note(mnist_for_pages(), *([fashion_for_pages()] if fashion else []))
    if note:
        st.caption(f"ℹ️ {note}")


def title(name: str) -> str:
    """A shipped model's title, or the name itself (trained models' names are already titles)."""
    return TITLES.get(name, name)


def remember_user_digit(image: np.ndarray, source: str) -> None:
    st.session_state[USER_DIGIT_KEY] = {"image": image, "source": source}


_KEPT = "_kept:"  # session keys of the copies `persist` keeps, one per widget key


def persist(key: str) -> str:
    """A widget key whose value survives a visit to another page; use it as `key=persist("dn_seed")`.

    Streamlit forgets the state of widgets that a run did not draw, so leaving a page resets its widgets.
    This is the documented remedy: keep a copy under another key (which Streamlit never drops) while the
    widget is drawn, and put it back before the widget is drawn again. Called where the widget is
    created, so a fragment's own reruns keep the copy current too. Not for buttons or file uploaders
    (their values cannot be set)."""
    kept = _KEPT + key
    if key in st.session_state:
        st.session_state[kept] = st.session_state[key]
    elif kept in st.session_state:
        st.session_state[key] = st.session_state[kept]
    return key


def forget(*keys: str) -> None:
    """Drop widgets' values and `persist`'s copies of them, so they start again from their defaults (e.g. in
    a callback, when another setting changes what their defaults should be)."""
    for key in keys:
        st.session_state.pop(key, None)
        st.session_state.pop(_KEPT + key, None)


def explain(text: str, *equations: str, expanded: bool = True) -> None:
    """The page's "What am I seeing and why": at most three sentences (`text`, markdown) and the
    equations (LaTeX) that produced the numbers on screen."""
    with st.expander("What am I seeing, and why?", expanded=expanded):
        st.markdown(text)
        for equation in equations:
            st.latex(equation)


@st.cache_resource(show_spinner=False, max_entries=64)
def processed(name: str, data: bytes) -> Outcome:
    """One uploaded file or camera photo decoded and preprocessed (`preprocess_many`: its own message if it
    cannot be read), once per name and bytes: a rerun of the page does not decode the photo again."""
    return preprocess_many([(name, data)])[0]


def show_error(err: Exception) -> None:
    """A user-facing message; LatentLabError texts are written for users already."""
    st.error(str(err) if isinstance(err, LatentLabError) else f"Something went wrong: {err}")


@contextlib.contextmanager
def stop_on_error():
    """A LatentLabError raised in the block is shown as the page's message (`show_error`), and this run of
    the page ends there (st.stop): what follows would need what failed."""
    try:
        yield
    except LatentLabError as err:
        show_error(err)
        st.stop()
