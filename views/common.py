"""Helpers shared by pages: the one model store per server, cached model loads, session state.

Not a page itself. The folder is `views/`, not `pages/`: Streamlit treats a `pages/` folder next to the
entry script as legacy multipage mode, which a deep link on a fresh server could fall into.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.lab.zoo import SHIPPED, TITLES, spec_named

USER_DIGIT_KEY = "user_digit"  # session key: the latest 28×28 input the user drew or uploaded


@st.cache_resource(show_spinner=False)
def model_store():
    """The server's one ModelStore. Every page that uses a model comes here first, so this is also
    where Streamlit's post-run Keras clean-up is switched off, once per process (see below)."""
    from core.serving.store import ModelStore

    _keep_keras_state_between_runs()
    # New models get their test metrics measured once, so the Training lab's list can show them.
    return ModelStore(evaluate_after_training=True)


@st.cache_resource(show_spinner=False)
def job_board():
    """The server's training jobs (one thread per spec, shared by every session)."""
    from core.serving.jobs import JobBoard

    return JobBoard(model_store())


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit calling keras.backend.clear_session() after every script run.

    Streamlit's ScriptRunner does that (`_clean_problem_modules`, for scripts that rebuild models
    on each run). It swaps out Keras's global state and clears TensorFlow's kernel cache from
    whichever thread just ran a script, under any training job's thread; and every rerun's first
    model call then rebuilt its kernels (~45 ms measured, even for a compiled graph that takes ~2 ms).
    Seen here: with the Train page polling every 0.7 s, a job on a fresh server sat in "Preparing
    data…" (stuck tracing its first train step, per py-spy) for 4 minutes. This app never relies on that clean-up (models
    live in st.cache_resource), so it keeps only the other half: closing matplotlib figures."""
    import sys

    from streamlit.runtime.scriptrunner import script_runner

    def close_pyplot_figures() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    if getattr(script_runner, "_clean_problem_modules", None) is not None:
        script_runner._clean_problem_modules = close_pyplot_figures


# Shipped models the other pages open with (Denoise, Anomalies, Latent, Upload): what the Home page
# loads in the background. The Draw page needs none of them (numpy forward packs).
WARM_UP_MODELS = ("conv_ae", "vae_2d", "ae_2d", "denoise")


@st.cache_resource(show_spinner=False)
def warm_up_in_background():
    """Once per server, on the first visit to the Home page: a daemon thread imports TensorFlow (2–6 s
    on a 2-core server) and loads `WARM_UP_MODELS` into the store, so a class that lands on Home and
    then opens Latent or Denoise does not wait for them there. The store is thread-safe: a page that
    asks for a model still loading waits for that one load, never a second one. Returns the thread."""
    import logging
    import threading

    store = model_store()

    def run() -> None:
        try:
            for name in WARM_UP_MODELS:
                store.get(spec_named(name))
        except Exception:  # noqa: BLE001 (the page that needs the model loads it again and shows the error)
            logging.getLogger(__name__).exception("warming up the shipped models failed")
            return
        _freeze_long_lived(None)  # TensorFlow and the models, out of the collector's scans

    thread = threading.Thread(target=run, name="latent-lab-warm-up", daemon=True)
    thread.start()
    return thread


def trained_models() -> dict[str, object]:
    """Models users trained on this server (Training lab), label → spec, newest first."""
    from core.lab.spec import ModelSpec

    specs = [ModelSpec.from_dict(r["spec"]) for r in model_store().entries(include_shipped=False)]
    return {f"{s.label} ({s.key[:6]})": s for s in specs}


def read_only(array: np.ndarray) -> np.ndarray:
    """For arrays kept in st.cache_resource, shared by every session (st.cache_data would unpickle a
    fresh copy on every call instead): make writes fail loudly. Returns `array`."""
    array.flags.writeable = False
    return array


def _freeze_long_lived(model):
    """Called once per model load: move every object alive now (TensorFlow, Keras, the models: some
    400 000 of them) out of the garbage collector's sight, then return `model`. Every full collection
    would rescan them all: ~0.3 s each on a 2-core server. Streamlit used to run one after every
    script run (runner.postScriptGC, now off in .streamlit/config.toml); Python's own collector still
    runs full collections as objects pile up. Frozen objects are never freed, which is right for
    models kept for the server's life (shipped ones)."""
    import gc

    gc.collect()
    gc.freeze()
    return model


@st.cache_resource(show_spinner="Loading the model…", max_entries=32)
def model_for(spec):
    """Any model by spec (shared by every session; ModelSpec is frozen, so hashable). Not frozen from
    the collector (see below): these can be evicted, and a few thousand objects each scan quickly."""
    return model_store().get(spec)


@st.cache_resource(show_spinner="Loading the model…")
def shipped_model(name: str):
    """One loaded copy per server process, shared by every session (never mutate it)."""
    return _freeze_long_lived(model_store().get(spec_named(name)))


@st.cache_resource(show_spinner=False, max_entries=64)
def compiled(_model, key: str):
    """`core.serving.infer.Compiled` for a loaded model, once per server; `key` names the model (its spec key,
    or a shipped name), since the model itself is not hashed. For pages that call a model per rerun."""
    from core.serving.infer import Compiled

    return Compiled(_model)


def model_named(name: str):
    """A shipped model by name (`SHIPPED`), or a Training-lab model by its label in `trained_models()`:
    one resolver for pages that offer both in one list."""
    if name in SHIPPED:
        return shipped_model(name)
    spec = trained_models().get(name)
    if spec is None:
        raise LatentLabError(f"the trained model {name!r} is no longer on this server; choose another model")
    return model_for(spec)


@st.cache_resource(show_spinner="Loading the one-class model…")
def one_class_model(digit: int):
    """The autoencoder trained on digit `digit` alone (shared by every session)."""
    from core.lab.zoo import one_class_spec

    return _freeze_long_lived(model_store().get(one_class_spec(digit)))


@st.cache_data(show_spinner=False)
def mnist_test_digit(index: int) -> tuple[np.ndarray, int]:
    """MNIST test image `index` as float32 (28, 28) in [0, 1], and its label."""
    from core.lab.data import load_mnist

    mnist = load_mnist()
    if not 0 <= index < len(mnist.x_test):
        raise LatentLabError(f"test digit index must be in 0..{len(mnist.x_test) - 1}, got {index}")
    return mnist.x_test[index].astype(np.float32) / 255.0, int(mnist.y_test[index])


def title(name: str) -> str:
    return TITLES.get(name, name)


def remember_user_digit(image: np.ndarray, source: str) -> None:
    st.session_state[USER_DIGIT_KEY] = {"image": image, "source": source}


def show_error(err: Exception) -> None:
    """A user-facing message; LatentLabError texts are written for users already."""
    st.error(str(err) if isinstance(err, LatentLabError) else f"Something went wrong: {err}")


@st.cache_resource(show_spinner=False)
def freeze_after_warm_up(page: str) -> bool:
    """`_freeze_long_lived` once per server process and page, called at the end of a page's first run:
    what that run made to stay (compiled graphs traced on first call, cached arrays and figures) joins
    the frozen objects, so the collector's full collections do not rescan it. The
    first run's own leftovers are collected first; what is frozen is never freed, so this runs once."""
    return _freeze_long_lived(True)


__all__ = ["SHIPPED", "model_store", "shipped_model", "model_named", "trained_models", "one_class_model", "compiled", "freeze_after_warm_up", "read_only", "warm_up_in_background", "mnist_test_digit", "title", "remember_user_digit", "show_error"]
