import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import anomaly, metrics


@pytest.mark.parametrize("seed", range(4))
def test_roc_area_equals_rank_auroc(seed):
    rng = np.random.default_rng(seed)
    normal = np.round(rng.normal(0, 1, 300), 1)  # rounding makes ties
    anomalous = np.round(rng.normal(1, 1, 200), 1)
    fpr, tpr, thr = anomaly.roc_curve(normal, anomalous)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # trapezoids
    assert area == pytest.approx(metrics.auroc(normal, anomalous), abs=1e-12)
    # Each ROC point is the confusion matrix at that threshold.
    for i in (1, len(thr) // 2, len(thr) - 1):
        c = anomaly.confusion(normal, anomalous, thr[i] - 1e-9)
        assert c.recall == pytest.approx(tpr[i]) and c.false_positive_rate == pytest.approx(fpr[i])


def test_confusion_by_hand():
    c = anomaly.confusion(normal=[0.1, 0.2, 0.9], anomalous=[0.5, 0.95, 0.05, 0.8], threshold=0.3)
    assert (c.tp, c.fp, c.tn, c.fn) == (3, 1, 2, 1)
    assert c.precision == pytest.approx(3 / 4) and c.recall == pytest.approx(3 / 4)
    assert c.f1 == pytest.approx(0.75) and c.false_positive_rate == pytest.approx(1 / 3)


def test_default_threshold_flags_five_percent_of_validation():
    val = np.arange(1000, dtype=float)
    t = anomaly.default_threshold(val)
    assert np.mean(val > t) == pytest.approx(0.05, abs=0.001)


def test_normal_halves_are_disjoint_and_fixed():
    v1, t1 = anomaly.normal_images(3)
    v2, t2 = anomaly.normal_images(3)
    np.testing.assert_array_equal(v1, v2)
    assert len(v1) + len(t1) == 1010 and abs(len(v1) - len(t1)) <= 1


@pytest.mark.parametrize("kind", ["fashion", "other_digits", "noise", "rotated", "flipped"])
def test_anomaly_sets(kind):
    x = anomaly.anomalous_images(kind, digit=3, n=500)
    assert x.shape[1:] == (28, 28, 1) and 0 < len(x) <= 1000 and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1


def test_flipped_is_a_mirror_of_the_normal_test_half():
    _, test = anomaly.normal_images(None)
    flipped = anomaly.anomalous_images("flipped", None, n=10**6)
    np.testing.assert_array_equal(flipped, test[:, :, ::-1])


def test_bad_choices_are_named():
    with pytest.raises(LatentLabError, match="'rain'"):
        anomaly.anomalous_images("rain", None)
    with pytest.raises(LatentLabError, match="one-class"):
        anomaly.anomalous_images("other_digits", None)
    with pytest.raises(LatentLabError, match="'l1'"):
        anomaly.score(None, np.zeros((1, 28, 28, 1)), "l1")
