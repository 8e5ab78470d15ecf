"""Offline on first run: no network, no LATENT_LAB_DATA, no Keras cache.

- the test subsets in assets/data are what their README says (shape, balance, the sha256 of their arrays);
- the pages' data falls back to them, and every page runs without an exception or an error, saying
  quietly that it shows the subset (in a fresh interpreter: this one may hold the full data in its caches);
- training, `evaluate` and the CLI stop with one `LatentLabError` that names the user's options, and
  nothing tries to download.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import data

ROOT = Path(__file__).resolve().parent.parent
SUBSETS = {"mnist-test-subset.npz": (2000, 200), "fashion-mnist-test-subset.npz": (1000, 100)}  # images, per class
README = data.SUBSET_DIR / "README.md"
PAGE_TIMEOUT = 600  # every page, once, in a fresh interpreter (TensorFlow's import, models, the subset's scores)


def _cached_loaders():
    return (data.load_mnist, data.load_fashion_mnist, data.mnist_for_pages, data.fashion_for_pages)


def _offline_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh machine with no data and no Keras cache."""
    for d in ("data", "home", "keras", "cache"):
        (tmp / d).mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("LATENT_LAB_QUEUE_URL", "KERAS_HOME")}
    return env | {
        "LATENT_LAB_DATA": str(tmp / "data"), "HOME": str(tmp / "home"), "KERAS_HOME": str(tmp / "keras"),
        "LATENT_LAB_CACHE": str(tmp / "cache"), "LATENT_LAB_LOCAL_WORKER": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
    }


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """This process as a fresh machine: empty data folder, home and Keras home; any download fails the test."""
    for k, v in _offline_env(tmp_path).items():
        monkeypatch.setenv(k, v)

    def no_download(*args, **kwargs):
        pytest.fail(f"something tried to download: {args} {kwargs}")

    monkeypatch.setattr(data, "_keras_get_file", no_download)
    for f in _cached_loaders():
        f.cache_clear()
    yield tmp_path
    for f in _cached_loaders():  # the next test loads with its own environment
        f.cache_clear()


def _arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """The README's definition, written out again: name, dtype, shape, bytes, names in sorted order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _subset(file: str) -> dict[str, np.ndarray]:
    with np.load(data.SUBSET_DIR / file, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


# ---------------------------------------------------------------------------------------------
# The shipped subsets


@pytest.mark.parametrize("file", SUBSETS)
def test_the_subsets_are_what_their_readme_says(file):
    n, per_class = SUBSETS[file]
    arrays = _subset(file)
    assert set(arrays) == {"x_test", "y_test", "index"}
    x, y, index = arrays["x_test"], arrays["y_test"], arrays["index"]
    assert x.shape == (n, 28, 28) and x.dtype == np.uint8
    assert y.shape == (n,) and y.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == [per_class] * 10
    assert index.shape == (n,) and np.all(np.diff(index.astype(int)) > 0) and index.max() < data.FULL_TEST_SIZE
    manifest = json.loads((data.SUBSET_DIR / data.SUBSET_MANIFEST).read_text())[file]
    digest = _arrays_sha256(arrays)
    assert manifest["arrays_sha256"] == digest == data.arrays_sha256(arrays)
    assert manifest["images"] == n and manifest["label_counts"] == [per_class] * 10
    readme = README.read_text()
    assert f"`{file}`: arrays sha256 `{digest}`" in readme


def test_the_subsets_are_small_and_carry_their_licences():
    total = sum((data.SUBSET_DIR / f).stat().st_size for f in SUBSETS)
    assert total < 1_000_000, f"{total / 1024:.0f} KB"
    readme = README.read_text()
    for notice in ("CC BY-SA 3.0", "Yann LeCun and Corinna Cortes", "Zalando Research", "Copyright (c) 2017 Zalando SE",
                   "Permission is hereby granted, free of charge", "python -m core make-subset"):
        assert notice in readme, notice


@pytest.mark.needs_full_data
@pytest.mark.parametrize("file, full", [("mnist-test-subset.npz", "mnist"), ("fashion-mnist-test-subset.npz", "fashion")])
def test_the_subsets_are_the_first_of_each_class_of_the_full_test_sets(file, full):
    n, per_class = SUBSETS[file]
    split = {"mnist": data.load_mnist, "fashion": data.load_fashion_mnist}[full]()
    taken = {c: 0 for c in range(10)}
    expected = []
    for i, label in enumerate(split.y_test):  # the rule, by a plain scan
        if taken[int(label)] < per_class:
            taken[int(label)] += 1
            expected.append(i)
    arrays = _subset(file)
    assert arrays["index"].tolist() == expected
    np.testing.assert_array_equal(arrays["x_test"], split.x_test[expected])
    np.testing.assert_array_equal(arrays["y_test"], split.y_test[expected])


# ---------------------------------------------------------------------------------------------
# Loading with no full data


def test_pages_fall_back_to_the_subsets(offline):
    assert not data.full_data_available()
    mnist, fashion = data.mnist_for_pages(), data.fashion_for_pages()
    assert mnist.subset and fashion.subset
    assert (len(mnist.x_test), len(fashion.x_test)) == (2000, 1000)
    assert mnist.described == "2 000 of the 10 000 MNIST test images"
    note = data.subset_note(mnist, fashion)
    assert "2 000 of the 10 000 MNIST" in note and "1 000 of the 10 000 Fashion-MNIST" in note
    with pytest.raises(ValueError):  # shared by every session: read-only
        mnist.x_test[0, 0, 0] = 1


@pytest.mark.needs_full_data
def test_pages_use_the_full_test_sets_when_they_are_here():
    for f in _cached_loaders():
        f.cache_clear()
    mnist = data.mnist_for_pages()
    assert not mnist.subset and len(mnist.x_test) == data.FULL_TEST_SIZE
    assert data.subset_note(mnist, data.fashion_for_pages()) is None


def _assert_names_the_options(message: str) -> None:
    assert data.DATA_ENV in message and "mnist.npz" in message and "python -m core prefetch" in message
    assert "shared/data" not in message


def test_training_and_evaluate_need_the_full_data_and_say_how_to_get_it(offline, monkeypatch):
    import keras

    from core.lab.evaluate import evaluate
    from core.lab.models import build_lesson
    from core.lab.spec import ModelSpec
    from core.lab.training import train

    def no_download(*args, **kwargs):
        pytest.fail(f"Keras was asked to download: {args} {kwargs}")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    spec = ModelSpec("lesson", epochs=1, batch_size=128, train_size=512)
    with pytest.raises(LatentLabError) as err:
        train(spec)
    _assert_names_the_options(str(err.value))
    assert err.value.__cause__ is None  # nothing underneath: no network error was tried
    with pytest.raises(LatentLabError) as err:
        evaluate(build_lesson(spec), spec)
    _assert_names_the_options(str(err.value))
    with pytest.raises(LatentLabError) as err:
        data.load_fashion_mnist()
    assert "t10k-images-idx3-ubyte.gz" in str(err.value) and "python -m core prefetch" in str(err.value)


def test_prefetch_offline_says_what_to_do(offline, monkeypatch):
    def offline_download(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(data, "_keras_get_file", offline_download)
    with pytest.raises(LatentLabError, match="Connect to the internet") as err:
        data.prefetch()
    assert data.DATA_ENV in str(err.value)


def test_the_cli_without_the_full_data_ends_in_the_message(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "core", "train", "--kind", "lesson", "--epochs", "1", "--batch-size", "128",
         "--train-size", "512", "--out", str(tmp_path / "models")],
        cwd=ROOT, env=_offline_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.startswith("error: MNIST is needed in full") or "\nerror: MNIST is needed in full" in out.stderr
    _assert_names_the_options(out.stderr)
    assert "Traceback" not in out.stderr


# ---------------------------------------------------------------------------------------------
# Every page, offline, in a fresh interpreter


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("offline")
    out = subprocess.run([sys.executable, "-m", "tests.offline_pages"], cwd=ROOT, env=_offline_env(tmp),
                         capture_output=True, text=True, timeout=PAGE_TIMEOUT)
    assert out.returncode == 0, out.stderr[-5000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


PAGES = ("home", "lesson", "draw", "denoise", "anomaly", "anomaly_all_digits", "anomaly_fashion", "latent", "upload", "train")
SUBSET_NOTE = "2 000 of the 10 000 MNIST test images"


def test_nothing_reaches_for_the_network(pages):
    assert pages["network"] == []


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_offline_without_an_error(pages, page):
    shown = pages[page]
    assert shown["exceptions"] == [] and shown["errors"] == []
    assert not any("not available" in i for i in shown["infos"])


@pytest.mark.parametrize("page", ["draw", "denoise", "anomaly", "anomaly_all_digits", "anomaly_fashion", "latent", "upload"])
def test_pages_that_show_data_say_it_is_the_subset(pages, page):
    notes = [c for c in pages[page]["captions"] if "shipped with the app" in c]
    assert len(notes) == 1 and SUBSET_NOTE in notes[0], pages[page]["captions"]
    if page == "anomaly_fashion":  # Fashion-MNIST as the anomalies: also a subset
        assert "1 000 of the 10 000 Fashion-MNIST test images" in notes[0]


def test_test_digit_pickers_stop_at_the_subset(pages):
    maxima = {**pages["draw"]["number_input_max"], **pages["denoise"]["number_input_max"],
              **pages["latent"]["number_input_max"]}
    assert {k: maxima[k] for k in ("draw_example_index", "dn_index", "lt_idx_a", "lt_idx_b")} == dict.fromkeys(
        ("draw_example_index", "dn_index", "lt_idx_a", "lt_idx_b"), 1999)


def test_the_upload_map_counts_the_digits_it_shows(pages):
    assert any(f"for each of {SUBSET_NOTE}" in c for c in pages["upload"]["captions"])


def test_starting_a_training_offline_names_the_options(pages):
    (message,) = pages["train_start"]["errors"]
    _assert_names_the_options(message)
    assert pages["train_start"]["exceptions"] == []


@pytest.mark.needs_full_data
def test_make_subset_rewrites_the_same_arrays(tmp_path, capsys):
    from core.cli import main

    assert main(["make-subset", "--out", str(tmp_path)]) == 0
    assert "arrays sha256" in capsys.readouterr().out
    shipped = json.loads((data.SUBSET_DIR / data.SUBSET_MANIFEST).read_text())
    made = json.loads((tmp_path / data.SUBSET_MANIFEST).read_text())
    assert {f: e["arrays_sha256"] for f, e in made.items()} == {f: e["arrays_sha256"] for f, e in shipped.items()}
