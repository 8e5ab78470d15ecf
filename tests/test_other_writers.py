"""core.lab.other_writers: other people's digits, photographed and preprocessed like an upload."""

import numpy as np
import pytest

from core.lab import other_writers
from core.lab.mnist_frame import centre_of_mass

pytest.importorskip("sklearn", reason="the other-writers set needs scikit-learn (requirements-dev.txt)")


def test_ink_image_is_a_smooth_upsampled_digit():
    from sklearn.datasets import load_digits

    d = load_digits().images[0]  # (8, 8), grey levels 0..16
    ink = other_writers.ink_image(d)
    assert ink.shape == (64, 64) and 0.0 <= ink.min() and ink.max() <= 1.0
    small = ink.reshape(8, 8, 8, 8).mean((1, 3))  # back to 8×8 by block means
    assert np.corrcoef(small.ravel(), d.ravel())[0, 1] > 0.95


def test_the_set_goes_through_the_upload_pipeline(monkeypatch):
    """A few digits (the full set takes a minute): 28×28 MNIST-style inputs, centred by mass, labels kept."""
    from sklearn import datasets

    full = datasets.load_digits()
    few = type(full)(images=full.images[:12], target=full.target[:12])
    monkeypatch.setattr(other_writers, "uci_digits", lambda: few)
    # The uncached function: the full set another test (or evaluate) loaded stays cached (a minute to build).
    x, y = other_writers.load_other_writers.__wrapped__()
    assert x.shape == (12, 28, 28, 1) and x.dtype == np.float32 and list(y) == list(full.target[:12])
    assert x.min() >= 0.0 and x.max() == pytest.approx(1.0)
    for img in x[..., 0]:
        assert np.allclose(centre_of_mass(img), (14, 14), atol=1.0)  # where MNIST puts it
        rows, cols = np.nonzero(img > 0.1)
        assert max(np.ptp(rows), np.ptp(cols)) <= 21  # fits MNIST's 20×20 box


def test_evaluate_reports_both_figures(monkeypatch):
    """The flagged rate uses the 95th percentile of the MNIST test scores; the k-NN label the test codes."""
    rng = np.random.default_rng(0)
    y = np.arange(10).repeat(3)

    class Fake:  # reconstruction and codes of a model that knows nothing: scores and labels are chance
        pass

    monkeypatch.setattr(other_writers, "load_other_writers", lambda: (rng.random((30, 28, 28, 1), np.float32), y))
    monkeypatch.setattr(other_writers.anomaly, "score", lambda model, x, kind: np.asarray(x).reshape(len(x), -1).mean(1))
    monkeypatch.setattr(other_writers.inference, "encode", lambda model, x: np.asarray(x).reshape(len(x), -1)[:, :4])
    monkeypatch.setattr(other_writers, "load_mnist", lambda: type("M", (), {"x_test": (rng.random((200, 28, 28)) * 40).astype(np.uint8),
                                                                          "y_test": rng.integers(0, 10, 200)})())
    out = other_writers.evaluate_other_writers(Fake())
    assert set(out) == {"other_writers_flagged", "other_writers_knn_acc"}
    assert out["other_writers_flagged"] == 1.0  # uniform noise is far brighter than these dim "digits"
    assert 0.0 <= out["other_writers_knn_acc"] <= 1.0
