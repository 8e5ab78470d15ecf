"""core.lab.augment and the spec's `Augment`: distortions of handwriting, never mirrors or quarter turns,
seeded, kept in the spec (and so in the manifest) without moving any existing key."""

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab.augment import affine_matrices, augment, stroke_width
from core.lab.data import mnist_for_pages, to_float
from core.lab.mnist_frame import centre_of_mass
from core.lab.spec import Augment, ModelSpec
from core.lab.zoo import SHIPPED

NONE = Augment(rotation=0, shear=0, scale=(1, 1), shift=0, stroke=0, elastic_alpha=0)  # distorts nothing
STRONG = Augment(rotation=15, shear=0.3, scale=(0.85, 1.15), shift=2, stroke=0.5, elastic_alpha=34, elastic_sigma=4)


@pytest.fixture(scope="module")
def digits():
    mnist = mnist_for_pages()
    return to_float(mnist.x_test[:300]), mnist.y_test[:300]


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image Pearson correlation of two batches (N, 28, 28, 1)."""
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def test_shapes_dtype_and_range(digits):
    x, _ = digits
    out = augment(x, STRONG, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, x)


def test_a_recipe_of_zeros_changes_nothing(digits):
    x, _ = digits
    np.testing.assert_array_equal(augment(x, NONE, np.random.default_rng(0)), x)
    np.testing.assert_array_equal(augment(x, Augment(fraction=0.0), np.random.default_rng(0)), x)


def test_the_same_seed_gives_the_same_images(digits):
    x, _ = digits
    a, b = (augment(x, STRONG, np.random.default_rng(7)) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, augment(x, STRONG, np.random.default_rng(8)))
    rng = np.random.default_rng(7)  # one stream running on: the next batch (epoch) gets new distortions
    assert not np.array_equal(augment(x, STRONG, rng), augment(x, STRONG, rng))


def test_fraction_distorts_that_share_of_images(digits):
    x, _ = digits
    out = augment(x, Augment(fraction=0.5), np.random.default_rng(0))
    changed = np.any(out != x, axis=(1, 2, 3)).mean()
    assert 0.4 < changed < 0.6


def test_distorted_digits_stay_themselves_never_mirrored_or_turned(digits):
    """Each distorted digit looks far more like its own original than like that digit mirrored or
    turned by 90° (the Anomalies page's anomalies), except digits that look the same mirrored (0, 1, 8).
    Compared blurred (σ = 2 pixels), so that a stroke moved by a pixel still counts as the same stroke."""
    from scipy import ndimage

    x, y = digits
    blur = lambda a: ndimage.gaussian_filter(a, (0, 2, 2, 0))  # noqa: E731
    out = blur(augment(x, STRONG, np.random.default_rng(1)))
    same, mirrored, turned = (_corr(out, blur(ref)) for ref in (x, x[:, :, ::-1], np.rot90(x, 1, axes=(1, 2))))
    asym = ~np.isin(y, (0, 1, 8))
    assert np.median(same) > 0.7  # measured: 0.80
    # Measured over seeds 0–3: 0.89–0.93 and 0.95–0.98 (some 2s, 5s and 7s look nearly symmetric blurred).
    assert (same > mirrored)[asym].mean() >= 0.85 and (same > turned)[asym].mean() >= 0.93
    assert np.median(same) - np.median(mirrored[asym]) > 0.15 and np.median(same) - np.median(turned[asym]) > 0.25


def test_affine_maps_are_within_the_recipe():
    rng = np.random.default_rng(0)
    rot, _ = affine_matrices(Augment(rotation=15, shear=0, scale=(1, 1), shift=0), 500, rng)
    angles = np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)  # a rotation: no mirror (det −1), no zoom
    assert np.abs(angles).max() <= 15 and np.abs(angles).max() > 12
    zoom, shift = affine_matrices(Augment(rotation=0, shear=0.3, scale=(0.85, 1.15), shift=2), 500, rng)
    assert np.all(np.linalg.det(zoom) > 0)  # never a mirror
    assert 0.85**2 - 1e-9 <= np.linalg.det(zoom).min() and np.linalg.det(zoom).max() <= 1.15**2 + 1e-9  # shear keeps area
    assert np.abs(shift).max() <= 2


def test_shift_moves_the_ink_by_that_many_pixels(digits):
    """An integer shift moves the digit exactly (compared with numpy's roll)."""
    x, _ = digits
    aug = Augment(rotation=0, shear=0, scale=(1, 1), shift=2, stroke=0)
    rng = np.random.default_rng(3)
    _, shift = affine_matrices(aug, len(x), np.random.default_rng(3))
    out = augment(x, aug, rng)
    i = int(np.argmax(np.abs(shift).min(1)))  # the image moved furthest on both axes
    moved = np.subtract(centre_of_mass(out[i, ..., 0]), centre_of_mass(x[i, ..., 0]))
    np.testing.assert_allclose(moved, shift[i], atol=0.35)  # ink at the border may be cut off


def test_stroke_width_thickens_and_thins_by_a_pixel(digits):
    x, _ = digits
    img = x[:50, ..., 0]
    thick, same, thin = (stroke_width(img, np.full(50, c)) for c in (1, 0, -1))
    np.testing.assert_array_equal(same, img)
    assert np.all(thick >= img) and np.all(thin <= img)
    assert 1.3 < (thick > 0.5).sum() / (img > 0.5).sum() < 2.2  # about one pixel wider than MNIST's ~2-pixel strokes
    assert 0.2 < (thin > 0.5).sum() / (img > 0.5).sum() < 0.8


def test_augment_round_trips_through_the_spec_and_keeps_old_keys():
    spec = ModelSpec("vae", latent_dim=2, augment=STRONG)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["augment"]["scale"] == [0.85, 1.15] and spec.to_dict()["augment"]["elastic_alpha"] == 34.0
    plain = ModelSpec("vae", latent_dim=2)
    assert "augment" not in plain.to_dict()  # no augmentation is left out: every old dict and key stays
    assert spec.key != plain.key and ModelSpec("vae", latent_dim=2, augment=Augment()).key != spec.key
    assert ModelSpec("vae", latent_dim=2, augment=Augment(rotation=15)).key == ModelSpec(
        "vae", latent_dim=2, augment=Augment(rotation=15.0)).key  # canonical floats
    assert "augmented" in spec.label


@pytest.mark.parametrize("kwargs, word", [
    ({"rotation": 90}, "rotation"), ({"scale": (1.2, 0.8)}, "scale"), ({"shear": -0.1}, "shear"),
    ({"stroke": 2}, "stroke"), ({"elastic_sigma": 0}, "elastic_sigma"),
])
def test_bad_augment_values_are_named(kwargs, word):
    with pytest.raises(LatentLabError, match=word):
        Augment(**kwargs)


def test_unknown_augment_fields_are_rejected():
    with pytest.raises(LatentLabError, match="mirror"):
        ModelSpec.from_dict({"kind": "vae", "augment": {"mirror": True}})


def test_the_conv_ae_learns_handwriting_and_the_lesson_keeps_its_recipe():
    """Issue 17: the conv AE (Draw, Upload, the Anomalies page's default) is trained augmented; the lesson
    model stays exactly the lesson's. The 2-D VAE is not (yet): augmented, it missed its −ELBO floor."""
    from core.lab.zoo import models_of

    assert {"conv_ae", "vae_2d"} <= set(models_of("draw")) & set(models_of("upload"))
    assert SHIPPED["conv_ae"].augment is not None and SHIPPED["conv_ae"].augment.rotation < 45
    assert SHIPPED["lesson"].augment is None and SHIPPED["vae_2d"].augment is None


def test_training_distorts_inputs_and_targets_alike_from_one_seeded_stream():
    from core.lab.training import _dataset, _validation_dataset

    spec = ModelSpec("conv_ae", latent_dim=4, batch_size=16, seed=3, augment=STRONG)
    x = np.random.default_rng(0).random((48, 28, 28, 1)).astype(np.float32) * (np.indices((28, 28)).sum(0) < 20)[..., None]
    batches = list(_dataset(spec, x).as_numpy_iterator())
    assert len(batches) == 3
    for inputs, targets in batches:
        np.testing.assert_array_equal(inputs, targets)  # the model rebuilds what it is shown
        assert not any(np.array_equal(inputs[0], xi) for xi in x)
    again = list(_dataset(spec, x).as_numpy_iterator())
    np.testing.assert_array_equal(again[2][0], batches[2][0])
    (vx, vy), = _validation_dataset(spec, x).as_numpy_iterator()
    np.testing.assert_array_equal(vx, x)  # validation images are never distorted
