import gzip

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import data


@pytest.mark.needs_full_data
def test_mnist_matches_its_readme():
    m = data.load_mnist()
    assert m.x_train.shape == (60000, 28, 28) and m.x_test.shape == (10000, 28, 28)
    assert m.x_train.dtype == np.uint8 and m.y_train.dtype == np.uint8
    assert np.bincount(m.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert (m.y_train[0], m.y_test[0]) == (5, 7)
    assert m.x_train.mean() == pytest.approx(33.3184, abs=1e-3)


@pytest.mark.needs_full_data
def test_fashion_mnist_loads_from_idx():
    f = data.load_fashion_mnist()
    assert f.x_train.shape == (60000, 28, 28) and f.x_test.shape == (10000, 28, 28)
    assert set(np.unique(f.y_test)) == set(range(10))


def test_to_float_layout():
    x = data.to_float(np.array([[[0, 255]]], dtype=np.uint8))
    assert x.shape == (1, 1, 2, 1) and x.dtype == np.float32 and x.max() == 1.0


@pytest.mark.needs_full_data
def test_fingerprint_is_content_based():
    m = data.load_mnist()
    assert m.fingerprint() == data.Split(*(a.copy() for a in (m.x_train, m.y_train, m.x_test, m.y_test))).fingerprint()


def _write_idx(path, array, truncate=0):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write((header + array.tobytes())[: len(header) + array.size - truncate])


def test_read_idx_round_trip_and_truncation(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "ok.gz", a)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "ok.gz"), a)
    _write_idx(tmp_path / "short.gz", a, truncate=5)
    with pytest.raises(LatentLabError, match="truncated"):
        data.read_idx(tmp_path / "short.gz")
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(LatentLabError, match="junk.gz"):
        data.read_idx(tmp_path / "junk.gz")


def test_offline_without_data_gives_a_clear_message(tmp_path, monkeypatch):
    """No data directory and no Keras cache: the message names the variable, the files and `prefetch`,
    and nothing tries to download."""
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline(*args, **kwargs):
        raise AssertionError("the loaders must not download: only `python -m core prefetch` does")

    monkeypatch.setattr(data, "_keras_get_file", offline)
    data.load_mnist.cache_clear()
    data.load_fashion_mnist.cache_clear()
    try:
        with pytest.raises(LatentLabError) as err:
            data.load_mnist()
        assert data.DATA_ENV in str(err.value) and "mnist.npz" in str(err.value)
        assert "python -m core prefetch" in str(err.value) and "shared/data" not in str(err.value)
        with pytest.raises(LatentLabError) as err:
            data.load_fashion_mnist()
        assert "t10k-images-idx3-ubyte.gz" in str(err.value)
    finally:
        data.load_mnist.cache_clear()
        data.load_fashion_mnist.cache_clear()


def test_pickles_are_never_loaded(tmp_path, monkeypatch):
    """An .npz holding object arrays (pickles) is refused, not executed."""
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": True}
    np.savez(tmp_path / "mnist.npz", x_train=obj, y_train=obj, x_test=obj, y_test=obj)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    data.load_mnist.cache_clear()
    try:
        with pytest.raises(LatentLabError, match="not a readable MNIST"):
            data.load_mnist()
    finally:
        data.load_mnist.cache_clear()


@pytest.mark.needs_full_data
def test_first_of_each_digit_by_scanning():
    labels = np.array([3, 1, 3, 0, 2, 9, 8, 7, 1, 6, 5, 4, 4, 0])
    first = data.first_of_each_digit(labels)
    for d in range(10):  # the definition, by a plain scan
        assert first[d] == next(i for i, y in enumerate(labels) if y == d)
    y_test = data.load_mnist().y_test
    assert list(y_test[data.first_of_each_digit(y_test)]) == list(range(10))
    with pytest.raises(LatentLabError, match=r"\[5\]"):
        data.first_of_each_digit(labels[labels != 5])
