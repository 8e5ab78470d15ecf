"""Shared test set-up: data directory, a tiny training spec, an isolated model cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Browser fixtures (one Streamlit server and one Chromium for the whole run) live in one plugin, so
# every test module shares the same session-scoped instances.
pytest_plugins = ["tests.browser_support"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests read MNIST from LATENT_LAB_DATA; default to the course's shared copy beside the checkout.
if "LATENT_LAB_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["LATENT_LAB_DATA"] = str(SHARED_DATA)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Models trained during tests (Training lab, store tests) go to a throw-away cache, never ~/.cache.
os.environ.setdefault("LATENT_LAB_CACHE", tempfile.mkdtemp(prefix="latent-lab-test-cache-"))

# Training, `evaluate` and the quality floors need the full MNIST and Fashion-MNIST; the pages do not
# (they fall back to the test subsets in assets/data). Without the full data, such tests skip, saying why.
FULL_DATA_REASON = (
    "needs the full MNIST and Fashion-MNIST, which are not on this machine: set LATENT_LAB_DATA to a folder "
    "holding mnist.npz and fashion-mnist/, or run `python -m core prefetch` once while online"
)


def _skip_without_full_data() -> None:
    from core.lab.data import full_data_available  # numpy only: cheap

    if not full_data_available():
        pytest.skip(FULL_DATA_REASON)


def pytest_runtest_setup(item):
    """Tests marked `needs_full_data` skip with FULL_DATA_REASON when the full data is not here."""
    if item.get_closest_marker("needs_full_data") is not None:
        _skip_without_full_data()


@pytest.fixture(scope="session")
def needs_full_data():
    """The same skip, for fixtures (a marker cannot be put on a fixture)."""
    _skip_without_full_data()


@pytest.fixture
def app():
    """The whole app in AppTest, after its first run (Home). The first run in a process imports
    TensorFlow and loads models, hence the long timeout."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def tiny_spec():
    """A spec that trains in a few seconds (a few hundred images, one epoch)."""
    from core.lab.spec import ModelSpec

    return ModelSpec("lesson", epochs=1, batch_size=128, train_size=512)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty user cache, so tests never touch ~/.cache or the shipped assets."""
    d = tmp_path / "cache"
    monkeypatch.setenv("LATENT_LAB_CACHE", str(d))
    return d


def pytest_sessionfinish(session, exitstatus):
    """Let the Home page's background warm-up finish before the interpreter exits: a daemon thread still
    importing TensorFlow at exit can abort the process ("terminate called"), which would turn a green
    run red."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "latent-lab-warm-up":
            thread.join(timeout=300)
