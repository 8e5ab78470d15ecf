"""Other people's handwriting: do the models know digits written by people who are not in MNIST?

The set is scikit-learn's bundled copy of the UCI "optical recognition of handwritten digits" data:
1,797 digits by 43 writers (none of them MNIST's), each an 8×8 image of 16 grey levels (counts of
ink pixels in 4×4 blocks of a 32×32 bitmap). Each digit is upsampled to a smooth 64×64 ink image
(bicubic), photographed as dark ink on light paper with `core.lab.samples` (a random phone-photo
setting per digit: scale, lighting, blur, noise, JPEG) and sent through the Upload page's pipeline
(`core.lab.preprocess.from_file`): exactly what a student's photo goes through.

Two figures per model (`evaluate_other_writers`):

- ``other_writers_flagged``: the fraction of these digits flagged as unusual at the Upload page's
  default threshold, the 95th percentile of the model's scores (per-image BCE) on the MNIST test set:
  a model that knows handwriting in general flags about 5 %, as it does MNIST's own test digits;
- ``other_writers_knn_acc``: how often the majority label of the k = 5 nearest MNIST test digits in the
  model's code space (a VAE's z_mean) is the digit's true label.

scikit-learn is a development dependency (requirements-dev.txt), imported only here, when asked.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from core.errors import LatentLabError
from core.lab import anomaly, inference
from core.lab.data import load_mnist, to_float
from core.lab.neighbours import knn_label

UPSAMPLE = 64  # the 8×8 digit becomes a 64×64 ink image before it is photographed
PHOTO_SEED = 17  # one fixed photo setting per digit, so the figures are the same on every run
FLAG_PERCENTILE = anomaly.FLAG_PERCENTILE  # the Upload page's threshold: the 95th percentile of MNIST test scores
K = 5  # neighbours for the k-NN label


def uci_digits():
    """scikit-learn's bundled UCI digits (a Bunch: `images` (1797, 8, 8) levels 0..16, `target` (1797,))."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise LatentLabError("the other-writers set needs scikit-learn (a development dependency): "
                             "pip install -r requirements-dev.txt") from None
    return load_digits()


def ink_image(digit8: np.ndarray) -> np.ndarray:
    """One 8×8 digit, grey levels 0..16 → a smooth (64, 64) ink image in [0, 1] (bicubic)."""
    d = np.asarray(digit8, dtype=np.float32).reshape(8, 8) / 16.0
    big = Image.fromarray(d, mode="F").resize((UPSAMPLE, UPSAMPLE), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big), 0.0, 1.0)


def photographed(digits8, render=ink_image) -> tuple[np.ndarray, np.ndarray]:
    """8×8 digits → (images (N, 28, 28, 1) float32 in [0, 1], the indices (N,) of the digits they are): each
    rendered as ink (`render`: (8, 8) → 2-D ink image), photographed with its own fixed random setting, and
    sent through the Upload page's pipeline. Digits the pipeline rejects are left out (none are, today)."""
    from core.lab import preprocess, samples

    rng = np.random.default_rng(PHOTO_SEED)
    images, kept = [], []
    for i, d in enumerate(digits8):
        photo = samples.random_photo(rng)
        try:
            pre = preprocess.from_file(samples.photo_bytes(render(d), photo, seed=PHOTO_SEED + i), f"digit {i}")
        except LatentLabError:
            continue
        images.append(pre.image)
        kept.append(i)
    return np.stack(images)[..., None].astype(np.float32), np.asarray(kept, dtype=int)


@functools.cache
def load_other_writers() -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28, 1) float32 in [0, 1], labels (N,) int) of the other writers' digits, each as
    the Upload page would see its photo (`photographed`)."""
    digits = uci_digits()
    images, kept = photographed(digits.images)
    return images, np.asarray(digits.target)[kept].astype(int)


def evaluate_other_writers(model, reference_scores: np.ndarray | None = None, score: str = "bce") -> dict[str, float]:
    """{"other_writers_flagged": ..., "other_writers_knn_acc": ...} for one model (see the module's
    docstring), measured against the full MNIST test set. `reference_scores`: the model's `score` of
    every MNIST test image, when the caller has them already."""
    mnist = load_mnist()
    x_test = to_float(mnist.x_test)
    x, y = load_other_writers()
    if reference_scores is None:
        reference_scores = anomaly.score(model, x_test, score)
    threshold = anomaly.default_threshold(reference_scores, FLAG_PERCENTILE)
    flagged = anomaly.score(model, x, score) > threshold
    guess = knn_label(inference.encode(model, x_test), mnist.y_test, inference.encode(model, x), K)
    return {"other_writers_flagged": round(float(flagged.mean()), 5),
            "other_writers_knn_acc": round(float(np.mean(guess == y)), 5)}

