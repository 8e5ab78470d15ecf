"""MNIST and Fashion-MNIST loading, offline-first.

Load order for each dataset:
1. the directory named by ``LATENT_LAB_DATA`` (``mnist.npz`` in Keras's layout, and
   ``fashion-mnist/*-ubyte.gz`` as the original IDX files);
2. Keras's own download cache (``~/.keras/datasets``), downloading from Keras's mirror if needed;
3. otherwise a `LatentLabError` that says which files to put where.

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
# Keras's own download locations (the same ones `keras.datasets.*.load_data` uses).
_KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_KERAS_FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


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
    data_dir = os.environ.get(DATA_ENV)
    where = f"{DATA_ENV}={data_dir!r} does not contain them" if data_dir else f"{DATA_ENV} is not set"
    return (
        f"{what} is not available: {where}, and Keras could not download it (no internet?). "
        f"Put {files} in a directory and set the environment variable {DATA_ENV} to that directory "
        f"(for example `export {DATA_ENV}=../shared/data`)."
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


def _keras_get_file(fname: str, origin: str, file_hash: str | None = None, subdir: str = "datasets") -> Path:
    """Keras's download-and-cache; any failure (offline, bad hash) becomes None-like via exception."""
    import keras  # lazy: TensorFlow is heavy and not needed when the data directory is set

    return Path(keras.utils.get_file(fname, origin=origin, file_hash=file_hash, cache_subdir=subdir))


@functools.lru_cache(maxsize=1)
def load_mnist() -> Split:
    """Full MNIST (60k train, 10k test) as uint8; see the module docstring for the load order."""
    d = _data_dir()
    if d is not None and (d / MNIST_FILE).is_file():
        return _read_npz(d / MNIST_FILE)
    try:
        path = _keras_get_file(MNIST_FILE, _KERAS_MNIST_URL, _KERAS_MNIST_SHA256)
    except Exception as e:  # noqa: BLE001 - any download failure means "not available offline"
        raise LatentLabError(_missing_message("MNIST", f"`{MNIST_FILE}` (Keras's layout)")) from e
    return _read_npz(path)


@functools.lru_cache(maxsize=1)
def load_fashion_mnist() -> Split:
    """Fashion-MNIST (the out-of-distribution set) as uint8, same load order as MNIST."""
    d = _data_dir()
    if d is not None and all((d / FASHION_DIR / n).is_file() for n in FASHION_FILES.values()):
        return _read_idx_dir(d / FASHION_DIR)
    try:
        paths = [
            _keras_get_file(n, _KERAS_FASHION_URL + n, subdir="datasets/fashion-mnist")
            for n in FASHION_FILES.values()
        ]
    except Exception as e:  # noqa: BLE001
        files = ", ".join(f"`{FASHION_DIR}/{n}`" for n in FASHION_FILES.values())
        raise LatentLabError(_missing_message("Fashion-MNIST", files)) from e
    return _read_idx_dir(paths[0].parent)


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
