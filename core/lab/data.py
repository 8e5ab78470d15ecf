"""MNIST and Fashion-MNIST loading, offline-first.

Two kinds of data, two loaders:

- **the full data sets** (`load_mnist`, `load_fashion_mnist`), which training and `evaluate` need,
  from the first of
  1. the directory named by ``LATENT_LAB_DATA`` (``mnist.npz`` in Keras's layout, and
     ``fashion-mnist/*-ubyte.gz`` as the original IDX files);
  2. Keras's download cache (``~/.keras/datasets``, or ``$KERAS_HOME/datasets``);
  and otherwise a `LatentLabError` naming the user's options. Nothing here downloads behind the user's
  back (a page or a training run must not hang on the network of an offline classroom): the one download
  is `prefetch` (``python -m core prefetch``), through Keras's own ``get_file``, into Keras's cache.
- **what the pages show** (`mnist_for_pages`, `fashion_for_pages`): the full test set when the full
  data is here, else the compact test subsets shipped in ``assets/data/`` (see its README), so every
  page works offline on first run. `PageImages.subset` says which, for the page's caption.

Arrays are returned as uint8 (N, 28, 28), pixel 0 = background and 255 = ink, exactly as stored.
Nothing here ever un-pickles: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import LatentLabError

DATA_ENV = "LATENT_LAB_DATA"
MNIST_FILE = "mnist.npz"
FASHION_DIR = "fashion-mnist"
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# Keras's own download locations (the same ones `keras.datasets.*.load_data` uses), used by `prefetch`.
_KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_KERAS_FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_KERAS_DATASETS = "datasets"  # Keras's cache_subdir for data sets, under its home (~/.keras or $KERAS_HOME)

# The shipped test subsets (`make_subset` writes them; assets/data/README.md says what they are).
SUBSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "data"
SUBSET_FILES = {"mnist": "mnist-test-subset.npz", "fashion": "fashion-mnist-test-subset.npz"}
SUBSET_MANIFEST = "subsets.json"  # per file: how it was made, label counts, sha256 of its arrays
SUBSET_PER_CLASS = {"mnist": 200, "fashion": 100}  # the first N test images of each class, in index order
FULL_TEST_SIZE = 10_000  # both test sets


@dataclass(frozen=True)
class Split:
    """One dataset: uint8 images (N, 28, 28) and uint8 labels (N,) for train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def fingerprint(self) -> str:
        """sha256 over all four arrays: names the exact data a model was trained on."""
        h = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def _missing_message(what: str, files: str) -> str:
    """Why the full data is not here, and the user's two ways to get it, in the user's terms."""
    data_dir = os.environ.get(DATA_ENV)
    where = f"{DATA_ENV}={data_dir!r} does not contain them" if data_dir else f"{DATA_ENV} is not set"
    return (
        f"{what} is needed in full here (training and evaluation), and it is not on this machine: {where}, "
        f"and Keras's download cache ({_keras_home() / _KERAS_DATASETS}) does not hold it. Either put {files} in "
        f"a folder and set the environment variable {DATA_ENV} to that folder, or run `python -m core prefetch` "
        "once while online (it downloads the data into Keras's cache). The pages work without it, on the test "
        "subset shipped with the app."
    )


def _check_images(x: np.ndarray, y: np.ndarray, source: str) -> None:
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],):
        raise LatentLabError(
            f"{source} does not hold 28x28 uint8 images with one label each "
            f"(got images {x.shape} {x.dtype}, labels {y.shape})"
        )


def _read_npz(path: Path) -> Split:
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError) as e:
        raise LatentLabError(f"{path} is not a readable MNIST .npz in Keras's layout: {e}") from e
    split = Split(**arrays)
    _check_images(split.x_train, split.y_train, str(path))
    _check_images(split.x_test, split.y_test, str(path))
    return split


def read_idx(path: Path) -> np.ndarray:
    """Parse one (optionally gzipped) IDX file of unsigned bytes into an array.

    Format: 2 zero bytes, a type byte (0x08 = uint8), a dimension count, then big-endian int32 sizes.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise LatentLabError(f"cannot read IDX file {path}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise LatentLabError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise LatentLabError(f"{path} is truncated: header says {dims}, data has {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _read_idx_dir(directory: Path) -> Split:
    split = Split(**{k: read_idx(directory / name) for k, name in FASHION_FILES.items()})
    _check_images(split.x_train, split.y_train, str(directory))
    _check_images(split.x_test, split.y_test, str(directory))
    return split


def _data_dir() -> Path | None:
    value = os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None


def _keras_home() -> Path:
    """Keras's home folder, as `keras.utils.get_file` picks it (without importing Keras): $KERAS_HOME,
    else ~/.keras, else /tmp/.keras when the home directory is not writable."""
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = Path("~").expanduser()
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def _full_mnist_file() -> Path | None:
    """Where the full MNIST is on this computer (LATENT_LAB_DATA first, then Keras's cache), or None."""
    d = _data_dir()
    for path in ([d / MNIST_FILE] if d is not None else []) + [_keras_home() / _KERAS_DATASETS / MNIST_FILE]:
        if path.is_file():
            return path
    return None


def _full_fashion_dir() -> Path | None:
    """The folder holding the four Fashion-MNIST IDX files (LATENT_LAB_DATA first, then Keras's cache), or None."""
    d = _data_dir()
    for folder in ([d / FASHION_DIR] if d is not None else []) + [_keras_home() / _KERAS_DATASETS / FASHION_DIR]:
        if all((folder / n).is_file() for n in FASHION_FILES.values()):
            return folder
    return None


def full_data_available() -> bool:
    """True when both full data sets are on this computer (training and `evaluate` can run)."""
    return _full_mnist_file() is not None and _full_fashion_dir() is not None


def require_full_mnist() -> Path:
    """The full MNIST's file, or the `LatentLabError` that names the user's options (a cheap check,
    before queueing a training run that would fail)."""
    path = _full_mnist_file()
    if path is None:
        raise LatentLabError(_missing_message("MNIST", f"`{MNIST_FILE}` (Keras's layout)"))
    return path


@functools.lru_cache(maxsize=1)
def load_mnist() -> Split:
    """Full MNIST (60k train, 10k test) as uint8; see the module docstring for the load order."""
    return _read_npz(require_full_mnist())


@functools.lru_cache(maxsize=1)
def load_fashion_mnist() -> Split:
    """Fashion-MNIST (the out-of-distribution set) as uint8, same load order as MNIST."""
    folder = _full_fashion_dir()
    if folder is None:
        files = ", ".join(f"`{FASHION_DIR}/{n}`" for n in FASHION_FILES.values())
        raise LatentLabError(_missing_message("Fashion-MNIST", files))
    return _read_idx_dir(folder)


def _keras_get_file(fname: str, origin: str, file_hash: str | None = None, subdir: str = _KERAS_DATASETS) -> Path:
    """Keras's download-and-cache (a file already in the cache is not downloaded again)."""
    import keras  # lazy: TensorFlow is heavy and only `prefetch` downloads

    return Path(keras.utils.get_file(fname, origin=origin, file_hash=file_hash, cache_subdir=subdir))


def prefetch() -> dict[str, Path]:
    """Download the full MNIST and Fashion-MNIST into Keras's cache, unless they are already on this
    computer. Returns {"mnist": the .npz, "fashion": the folder of IDX files}."""
    found = {"mnist": _full_mnist_file(), "fashion": _full_fashion_dir()}
    try:
        if found["mnist"] is None:
            found["mnist"] = _keras_get_file(MNIST_FILE, _KERAS_MNIST_URL, _KERAS_MNIST_SHA256)
        if found["fashion"] is None:
            sub = f"{_KERAS_DATASETS}/{FASHION_DIR}"
            found["fashion"] = [_keras_get_file(n, _KERAS_FASHION_URL + n, subdir=sub) for n in FASHION_FILES.values()][0].parent
    except Exception as e:  # noqa: BLE001 - any download failure: offline, proxy, bad hash
        raise LatentLabError(
            f"could not download the data from {_KERAS_MNIST_URL.rsplit('/', 1)[0]}/ ({type(e).__name__}: {e}). "
            f"Connect to the internet and try again, or copy `{MNIST_FILE}` and `{FASHION_DIR}/` into a folder "
            f"and set the environment variable {DATA_ENV} to that folder."
        ) from e
    load_mnist.cache_clear()
    load_fashion_mnist.cache_clear()
    return found


# ---------------------------------------------------------------------------------------------
# What the pages show: the full test set when it is here, else the shipped subset


@dataclass(frozen=True)
class PageImages:
    """Test images a page shows: uint8 (N, 28, 28), labels (N,), each image's place in the full test
    set `index` (N,), and where they came from. `subset` is True for the subset shipped in assets/data."""

    dataset: str  # "MNIST" or "Fashion-MNIST"
    x_test: np.ndarray
    y_test: np.ndarray
    index: np.ndarray
    subset: bool
    source: str  # where the images came from, in the user's words

    @property
    def count(self) -> str:
        """The number of images as pages write it: "2 000", "10 000"."""
        return f"{len(self.y_test):,}".replace(",", " ")

    @property
    def described(self) -> str:
        """ "the 10 000 MNIST test images", or "2 000 of the 10 000 MNIST test images" for the subset."""
        full = f"{FULL_TEST_SIZE:,}".replace(",", " ")
        return f"{self.count} of the {full} {self.dataset} test images" if self.subset else f"the {self.count} {self.dataset} test images"


def _read_subset(name: str, dataset: str) -> PageImages:
    path = SUBSET_DIR / SUBSET_FILES[name]
    try:
        with np.load(path, allow_pickle=False) as d:
            x, y, index = d["x_test"], d["y_test"], d["index"]
    except (OSError, KeyError, ValueError) as e:
        raise LatentLabError(f"the {dataset} test subset shipped with the app ({path.name}) is missing or damaged: {e}") from e
    _check_images(x, y, str(path))
    for a in (x, y, index):  # shared by every page and session through the lru_cache below
        a.flags.writeable = False
    return PageImages(dataset, x, y, index, subset=True,
                      source=f"the subset shipped with the app (assets/data/{path.name})")


def _for_pages(name: str, subset: str, full: Path | None, load) -> PageImages:
    """The full test set of a dataset if its files are here (`full`), else the shipped subset."""
    if full is None:
        return _read_subset(subset, name)
    split = load()
    return PageImages(name, split.x_test, split.y_test, np.arange(len(split.y_test)), subset=False, source=str(full))


@functools.lru_cache(maxsize=1)
def mnist_for_pages() -> PageImages:
    """The MNIST test images the pages show: the full test set if the full data is here, else the subset."""
    return _for_pages("MNIST", "mnist", _full_mnist_file(), load_mnist)


@functools.lru_cache(maxsize=1)
def fashion_for_pages() -> PageImages:
    """The Fashion-MNIST test images the pages show (the anomaly set): full test set, else the subset."""
    return _for_pages("Fashion-MNIST", "fashion", _full_fashion_dir(), load_fashion_mnist)


def subset_note(*shown: PageImages) -> str | None:
    """One quiet line for a page that shows the shipped subset(s); None when it shows the full test sets."""
    subsets = [p for p in shown if p.subset]
    if not subsets:
        return None
    return (f"This page uses {' and '.join(p.described for p in subsets)}, shipped with the app, because the full "
            f"data is not on this server (set {DATA_ENV}, or run `python -m core prefetch` while online).")


# ---------------------------------------------------------------------------------------------
# Making the subsets (`python -m core make-subset`)


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` images of each class 0..9 in `labels` (N,), in index order."""
    labels = np.asarray(labels)
    short = {c: int(np.sum(labels == c)) for c in range(10) if np.sum(labels == c) < per_class}
    if short:
        raise LatentLabError(f"fewer than {per_class} images of class(es) {short} among {len(labels)} labels")
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)]))


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over named arrays (name, dtype, shape, bytes; names in sorted order): the same for the
    same content, whatever the .npz file's zip timestamps."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def make_subset(out: Path = SUBSET_DIR) -> dict[str, dict]:
    """Write the test subsets (`SUBSET_FILES`) from the full test sets, and their manifest
    (`SUBSET_MANIFEST`). Returns the manifest: per file, what it holds and the sha256 of its arrays."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    full_names = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
    for name, full in (("mnist", load_mnist()), ("fashion", load_fashion_mnist())):
        index = first_per_class(full.y_test, SUBSET_PER_CLASS[name])
        arrays = {"x_test": full.x_test[index], "y_test": full.y_test[index], "index": index.astype(np.uint16)}
        path = out / SUBSET_FILES[name]
        np.savez_compressed(path, **arrays)
        manifest[SUBSET_FILES[name]] = {
            "from": f"{full_names[name]} test set (10 000 images)",
            "rule": f"the first {SUBSET_PER_CLASS[name]} test images of each class 0..9, in index order",
            "images": len(index), "label_counts": np.bincount(arrays["y_test"], minlength=10).tolist(),
            "arrays_sha256": arrays_sha256(arrays), "bytes": path.stat().st_size,
        }
    (out / SUBSET_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) → float32 (N, 28, 28, 1) in [0, 1], the models' input layout."""
    return (x.astype(np.float32) / 255.0)[..., None]


def first_of_each_digit(labels: np.ndarray) -> np.ndarray:
    """The index of the first image of each digit 0..9 in `labels` (N,): int (10,), in digit order.

    The pages' fixed row of examples (e.g. `first_of_each_digit(load_mnist().y_test)`)."""
    labels = np.asarray(labels)
    missing = [d for d in range(10) if not np.any(labels == d)]
    if missing:
        raise LatentLabError(f"no image of digit(s) {missing} among {len(labels)} labels")
    return np.array([np.flatnonzero(labels == d)[0] for d in range(10)])


def as_batch(x: np.ndarray) -> np.ndarray:
    """Any of one image (28, 28), images (N, 28, 28) or (N, 28, 28, 1) → float32 (N, 28, 28, 1),
    the shape every model here takes."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[1:] != (28, 28, 1):
        raise LatentLabError(f"images must be 28×28, got an array of shape {x.shape}")
    return x
