import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab.mnist_frame import SIZE, centre_of_mass
from core.lab.preprocess import from_canvas, mnist_style


def _canvas_with_bar(top, left, h, w, size=280):
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[top : top + h, left : left + w, :3] = 255
    return rgba


def test_output_is_mnist_shaped_and_centred():
    pre = from_canvas(_canvas_with_bar(10, 200, 150, 30))  # a tall bar in the top-right corner
    x = pre.image
    assert x.shape == (SIZE, SIZE) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == pytest.approx(1.0, abs=0.05)
    r, c = centre_of_mass(x)
    assert abs(r - 14) <= 0.5 and abs(c - 14) <= 0.5
    rows = np.flatnonzero(x.max(axis=1) > 0.1)
    cols = np.flatnonzero(x.max(axis=0) > 0.1)
    assert rows[-1] - rows[0] + 1 == 20  # the long side fills the 20-pixel box
    assert 3 <= cols[-1] - cols[0] + 1 <= 6  # aspect ratio 150:30 kept (20:4)
    assert [caption for caption, _ in pre.steps][0].startswith("input")


def test_position_and_size_do_not_matter():
    a = from_canvas(_canvas_with_bar(20, 20, 100, 40)).image
    b = from_canvas(_canvas_with_bar(150, 120, 50, 20)).image  # same shape, half size, elsewhere
    assert np.abs(a - b).mean() < 0.02


def test_blank_canvas_is_a_clear_error():
    with pytest.raises(LatentLabError, match="no ink"):
        from_canvas(np.zeros((280, 280, 4), dtype=np.uint8))


def test_rejects_wrong_shapes():
    with pytest.raises(LatentLabError, match=r"\(5,\)"):
        from_canvas(np.zeros(5))
    with pytest.raises(LatentLabError, match="2-D"):
        mnist_style(np.zeros((2, 2, 2)))


def test_mnist_digit_survives_unchanged_in_shape():
    """An MNIST digit is already MNIST-style: re-preprocessing it moves it by at most a pixel."""
    from core.lab.data import load_mnist

    x = load_mnist().x_test[:20].astype(np.float32) / 255
    diffs = [np.abs(mnist_style(d).image - d).mean() for d in x]
    assert np.median(diffs) < 0.06
