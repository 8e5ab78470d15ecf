"""Images of digits as pictures: tiling a grid of them into one image, 8-bit conversion, crisp
enlargement, and PNG / animated GIF bytes (for inline `data:` URLs and downloads).

Images are 2-D float arrays in [0, 1] (or uint8), shown MNIST-style: white ink on black.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from core.errors import LatentLabError

GIF_MS = 120  # per frame: 10 steps there and back in ~2.4 s, slow enough to follow one stroke morphing


def tile(images: np.ndarray, pad: int = 2, pad_value: float = 0.25) -> np.ndarray:
    """(rows, cols, h, w) images → one (rows·(h+pad) + pad, cols·(w+pad) + pad) image, with a
    grey gutter (`pad_value`) so neighbouring black backgrounds stay apart."""
    images = np.asarray(images, np.float32)
    if images.ndim == 3:  # a single row
        images = images[None]
    rows, cols, h, w = images.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, np.float32)
    for i in range(rows):
        for j in range(cols):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = images[i, j]
    return out


def tile_centres(count: int, size: int = 28, pad: int = 2) -> np.ndarray:
    """Pixel coordinates of the centres of `count` tiles along one axis of `tile`'s output."""
    return pad + np.arange(count) * (size + pad) + (size - 1) / 2


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8 0..255 (clipped, rounded); uint8 input is returned as it is."""
    if np.asarray(image).dtype == np.uint8:
        return np.asarray(image)
    return np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement (h, w) → (h·factor, w·factor): crisp pixels at any size."""
    image = np.asarray(image)
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def png_bytes(image: np.ndarray, scale: int = 4) -> bytes:
    """A greyscale PNG of a [0, 1] (or uint8) image (h, w), enlarged `scale`× without blurring."""
    buf = io.BytesIO()
    Image.fromarray(upscale(to_uint8(image), scale), mode="L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_data_uri(image: np.ndarray, scale: int = 8) -> str:
    """The image as an inline `data:` URL (a few kB): the browser shows it without a second request."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, scale)).decode("ascii")


def strip_png(frames: np.ndarray, scale: int = 4, pad: int = 2) -> bytes:
    """The interpolation strip as one PNG: frames (N, 28, 28) side by side."""
    return png_bytes(tile(np.asarray(frames)[None], pad=pad), scale)


def gif_bytes(frames: np.ndarray, scale: int = 6, ms_per_frame: int = GIF_MS, bounce: bool = True) -> bytes:
    """An endlessly looping animated GIF of frames (N, 28, 28) in [0, 1].

    With `bounce` it plays there and back (A → B → A) without repeating the end frames, so the loop
    has no jump: N frames become 2N − 2."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or len(frames) < 1:
        raise LatentLabError(f"an animation needs frames of shape (N, height, width), got {frames.shape}")
    order = list(range(len(frames))) + (list(range(len(frames) - 2, 0, -1)) if bounce else [])
    pictures = [Image.fromarray(upscale(to_uint8(frames[i]), scale), mode="L") for i in order]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame,
                     loop=0, disposal=1, optimize=False)  # optimize=False: identical frames must stay frames
    return buf.getvalue()
