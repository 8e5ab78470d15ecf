import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab import noise

GREY = np.full((200, 28, 28), 0.5, dtype=np.float32)


def test_gaussian_statistics_and_clipping():
    y = noise.gaussian(GREY, 0.1, seed=0)
    d = y - GREY
    assert abs(d.mean()) < 0.002 and d.std() == pytest.approx(0.1, rel=0.02)  # no clipping at 0.5±0.1
    z = noise.gaussian(GREY, 2.0, seed=0)
    assert z.min() == 0.0 and z.max() == 1.0  # heavy noise is clipped into [0, 1]
    # Clipped to the edges with the probabilities of a normal tail: P(0.5 + 2ε > 1) = P(ε > 0.25).
    assert (z == 1.0).mean() == pytest.approx(0.4013, abs=0.01)


def test_salt_and_pepper_rate_and_balance():
    y = noise.salt_and_pepper(GREY, 0.2, seed=1)
    changed = y != GREY
    assert changed.mean() == pytest.approx(0.2, abs=0.005)
    assert (y == 0).mean() == pytest.approx((y == 1).mean(), abs=0.005)
    assert set(np.unique(y[changed])) <= {0.0, 1.0}


def test_mask_fraction_blocks_and_shape():
    ones = np.ones((500, 28, 28, 1), dtype=np.float32)
    y = noise.mask_blocks(ones, 0.3, seed=2, block=4)
    assert y.shape == ones.shape
    assert (y == 0).mean() == pytest.approx(0.3, abs=0.01)
    blocks = y[..., 0].reshape(500, 7, 4, 7, 4)
    # Every 4×4 block is all kept or all erased.
    assert np.all(blocks.min(axis=(2, 4)) == blocks.max(axis=(2, 4)))


@pytest.mark.parametrize("kind, level", [("gaussian", 0.5), ("salt_and_pepper", 0.3), ("mask", 0.4)])
def test_seeded_and_pure(kind, level):
    x = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    before = x.copy()
    a, b = noise.corrupt(x, kind, level, seed=5), noise.corrupt(x, kind, level, seed=5)
    c = noise.corrupt(x, kind, level, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, before)  # the input is never modified
    assert a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(noise.corrupt(x, kind, 0.0, seed=5), x)  # level 0 = no change


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: noise.corrupt(GREY, "speckle", 0.1), ["'speckle'", "gaussian", "mask"]),
        (lambda: noise.gaussian(GREY, -1), ["-1"]),
        (lambda: noise.salt_and_pepper(GREY, 1.5), ["1.5"]),
        (lambda: noise.mask_blocks(GREY, 0.1, block=5), ["5"]),
    ],
)
def test_bad_values_are_named(call, words):
    with pytest.raises(LatentLabError) as err:
        call()
    assert all(w in str(err.value) for w in words)
