"""core.figures.tiles: tiling and enlargement place every pixel; PNG and GIF bytes decode back to the
right size, frame count and pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image

from core.errors import LatentLabError
from core.figures import tiles


def _frames(n: int) -> np.ndarray:
    rng = np.random.default_rng(4)
    return rng.random((n, 28, 28)).astype(np.float32)


def test_tile_places_each_image_and_centres_are_right():
    images = _frames(6).reshape(2, 3, 28, 28)
    out = tiles.tile(images, pad=2, pad_value=0.25)
    assert out.shape == (2 * 30 + 2, 3 * 30 + 2)
    assert_allclose(out[32:60, 62:90], images[1, 2])
    assert np.all(out[:2] == 0.25) and np.all(out[:, 30:32] == 0.25)
    c = tiles.tile_centres(3)
    assert_allclose(c, [2 + 13.5, 32 + 13.5, 62 + 13.5])


def test_upscale_is_nearest_neighbour():
    img = np.arange(6).reshape(2, 3)
    big = tiles.upscale(img, 4)
    assert big.shape == (8, 12)
    assert np.all(big[4:8, 8:12] == img[1, 2])


def test_png_strip_decodes_to_the_right_size_and_pixels():
    frames = _frames(5)
    data = tiles.strip_png(frames, scale=3)
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and im.mode == "L"
    assert im.size == ((5 * 30 + 2) * 3, 32 * 3)
    pixels = np.asarray(im)[::3, ::3]  # undo the nearest-neighbour scale
    assert np.array_equal(pixels, tiles.to_uint8(tiles.tile(frames[None])))


@pytest.mark.parametrize(("bounce", "expected"), [(True, 2 * 7 - 2), (False, 7)])
def test_gif_has_one_frame_per_step_and_loops(bounce, expected):
    frames = _frames(7)
    im = Image.open(io.BytesIO(tiles.gif_bytes(frames, scale=2, bounce=bounce)))
    assert im.format == "GIF" and im.n_frames == expected
    assert im.size == (56, 56) and im.info.get("loop") == 0
    order = list(range(7)) + (list(range(5, 0, -1)) if bounce else [])
    for k, i in enumerate(order):
        im.seek(k)
        got = np.asarray(im.convert("L"))[::2, ::2]
        assert np.array_equal(got, tiles.to_uint8(frames[i])), f"frame {k} should be step {i}"
        assert im.info.get("duration") == tiles.GIF_MS


def test_inline_png_is_a_data_url_of_the_enlarged_image():
    import base64

    img = _frames(1)[0]
    uri = tiles.png_data_uri(img, scale=8)
    assert uri.startswith("data:image/png;base64,")
    im = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert im.size == (224, 224)
    assert np.array_equal(np.asarray(im)[::8, ::8], tiles.to_uint8(img))
    assert tiles.png_data_uri(tiles.to_uint8(img)) == uri  # uint8 input is taken as it is


def test_gif_rejects_a_non_stack():
    with pytest.raises(LatentLabError, match=r"shape \(N, height, width\), got \(28, 28\)"):
        tiles.gif_bytes(np.zeros((28, 28)))
