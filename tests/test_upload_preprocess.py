"""The upload pipeline: file decoding (modes, EXIF, limits) and preprocessing (polarity, lighting,
specks, centring), including property-based tests over generated images."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageOps

from core.errors import LatentLabError
from core.lab import preprocess as P
from core.lab.images import MAX_BYTES, WORK_SIDE, decode, upright
from core.lab.ink import otsu
from core.lab.mnist_frame import SIZE, STEP_SIDE, centre_of_mass
from core.lab.preprocess import from_canvas, from_file, mnist_style

ROOT = Path(__file__).resolve().parent.parent
ONE_PIXEL_SHIFT_MAE = 0.065  # mean |x − x shifted by one column| over MNIST test digits (tests/test_upload_fidelity.py)


def _digit(size: int = 112) -> np.ndarray:
    """A digit-like '6' (uint8 (size, size), white on black): a ring with a tail going up-right."""
    im = Image.new("L", (size, size))
    d = ImageDraw.Draw(im)
    s = size / 112
    d.ellipse([30 * s, 50 * s, 80 * s, 96 * s], outline=255, width=round(9 * s))
    d.line([(34 * s, 70 * s), (70 * s, 14 * s)], fill=255, width=round(9 * s))
    return np.asarray(im)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


REFERENCE = from_file(_save(Image.fromarray(_digit()), "PNG"), "reference.png").image  # white on black, plain


def _close(a: np.ndarray, b: np.ndarray = REFERENCE, tol: float = 0.02) -> None:
    assert a.shape == (SIZE, SIZE) and a.dtype == np.float32
    assert np.abs(a - b).mean() < tol, np.abs(a - b).mean()


def _is_centred(x: np.ndarray) -> None:
    """Centre of mass within half a pixel of (14, 14) on each axis, unless the ink touches the
    edge that stopped the shift (MNIST's rule: never push ink over the edge)."""
    r, c = centre_of_mass(x)
    ink = x > 0
    for com, lines in ((r, ink.any(axis=1)), (c, ink.any(axis=0))):
        ok = abs(com - 14) <= 0.5 + 1e-4 or (com > 14 and lines[0]) or (com < 14 and lines[-1])
        assert ok, (r, c)


# ---------------------------------------------------------------------------------------------
# Limits and decoding


def test_byte_limit_matches_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == MAX_BYTES  # Streamlit counts MiB


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20  # asymmetric, so every transform differs
    im = Image.fromarray(a)
    im.getexif()[0x0112] = orientation
    assert np.array_equal(upright(a, orientation), np.asarray(ImageOps.exif_transpose(im)))


def test_sideways_photo_is_turned_upright():
    im = Image.fromarray(255 - _digit())  # dark on light, as on paper
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90° clockwise to view": the pixels are stored turned counter-clockwise
    data = _save(im.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=92, exif=exif.tobytes())
    pre = from_file(data, "sideways.jpg")
    _close(pre.image)
    assert any("upright" in n for n in pre.notes)
    assert [c for c, _ in pre.steps][:2] == ["input, 112×112 JPEG, as stored", "upright (greyscale)"]


def _sixteen_bit() -> bytes:
    # Ink at 2 000 and paper at 60 000 of 65 535: clipping at 255 would make every pixel white.
    a = np.where(_digit() > 127, 2000, 60000).astype(np.uint16)
    return _save(Image.fromarray(a), "PNG")


def _cmyk() -> bytes:
    k = _digit()  # black ink = K channel
    return _save(Image.fromarray(np.stack([np.zeros_like(k)] * 3 + [k], axis=-1), mode="CMYK"), "JPEG", quality=95)


def _palette(transparent: bool) -> bytes:
    im = Image.fromarray(255 - _digit()).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    if not transparent:
        return _save(im, "PNG")
    light = int(np.asarray(im)[0, 0])  # the paper's palette index becomes transparent
    return _save(im, "PNG", transparency=light)


def _animated(fmt: str) -> bytes:
    frames = [Image.fromarray(_digit()), Image.fromarray(np.zeros((112, 112), np.uint8))]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _rgba(ink_rgb: tuple[int, int, int]) -> bytes:
    a = np.zeros((112, 112, 4), np.uint8)
    a[..., :3], a[..., 3] = ink_rgb, _digit()  # opaque only where the stroke is
    return _save(Image.fromarray(a, mode="RGBA"), "PNG")


UNUSUAL = {  # name → (bytes, a note it must carry or None)
    "16bit.png": (_sixteen_bit(), "16-bit"),
    "cmyk.jpg": (_cmyk(), "CMYK"),
    "palette.png": (_palette(False), "palette"),
    "palette_transparent.png": (_palette(True), "palette"),
    "animated.gif": (_animated("GIF"), "first frame"),
    "animated.webp": (_animated("WEBP"), "first frame"),
    "pages.tiff": (_animated("TIFF"), "first page"),
    "dark_on_transparent.png": (_rgba((10, 10, 60)), None),
    "light_on_transparent.png": (_rgba((250, 250, 250)), None),
    "grey_alpha.png": (_save(Image.fromarray(np.stack([255 - _digit(), np.full((112, 112), 255, np.uint8)], -1), mode="LA"), "PNG"), None),
    "bilevel.bmp": (_save(Image.fromarray(_digit()).convert("1"), "BMP"), None),
    "float.tiff": (_save(Image.fromarray(_digit().astype(np.float32) / 255.0, mode="F"), "TIFF"), None),
    "int32.tiff": (_save(Image.fromarray(_digit().astype(np.int32) * 1000, mode="I"), "TIFF"), "stretched"),
    "dark_on_light.webp": (_save(Image.fromarray(255 - _digit()), "WEBP", lossless=True), "inverted"),
}


@pytest.mark.parametrize("name", list(UNUSUAL))
def test_unusual_but_legitimate_files_are_processed(name):
    data, note = UNUSUAL[name]
    pre = from_file(data, name)
    _close(pre.image, tol=0.03)
    if note:
        assert any(note in n for n in pre.notes), pre.notes


def test_sixteen_bit_is_scaled_by_65535():
    d = decode(_sixteen_bit(), "16bit.png")
    assert sorted(np.unique(d.grey).round(4)) == [round(2000 / 65535, 4), round(60000 / 65535, 4)]


def test_big_images_are_decoded_small():
    big = Image.new("L", (4000, 3000), 255)  # a 12-megapixel scan
    big.paste(Image.fromarray(255 - _digit(112)).resize((3000, 3000)), (500, 0))
    for fmt in ("JPEG", "PNG"):
        d = decode(_save(big, fmt), f"big.{fmt}")
        assert d.size == (4000, 3000) and max(d.grey.shape) <= WORK_SIDE
        assert max(d.grey.shape) >= 0.75 * WORK_SIDE  # still plenty of pixels for a 20-pixel digit
        _close(P.preprocess_decoded(d).image, tol=0.03)
    assert len(_save(big, "PNG")) < MAX_BYTES


@pytest.mark.parametrize("mode", ["L", "I;16", "P", "1", "LA", "RGBA", "CMYK", "F", "I", "YCbCr"])
def test_big_images_in_every_mode_are_reduced_and_read_alike(mode):
    """Above WORK_SIDE each mode takes the reduction path (Pillow cannot resample some of them)."""
    base = Image.new("L", (2400, 1600), 230)
    base.paste(Image.fromarray(255 - _digit(112)).resize((1200, 1200)), (600, 200))
    a = np.asarray(base)
    im = {"I;16": lambda: Image.fromarray(a.astype(np.uint16) * 257), "F": lambda: Image.fromarray(a.astype(np.float32) / 255),
          "I": lambda: Image.fromarray(a.astype(np.int32) * 1000)}.get(mode, lambda: base.convert(mode))()
    fmt = {"CMYK": "JPEG", "YCbCr": "JPEG", "F": "TIFF", "I": "TIFF"}.get(mode, "PNG")
    data = _save(im, fmt, **({"compression": "tiff_deflate"} if fmt == "TIFF" else {}))
    d = decode(data, f"big_{mode}")
    assert max(d.grey.shape) <= WORK_SIDE and d.size == (2400, 1600)
    _close(P.preprocess_decoded(d).image, tol=0.03)


# ---------------------------------------------------------------------------------------------
# The pipeline


def test_polarity_is_decided_from_the_pixels():
    light_paper = from_file(_save(Image.fromarray(255 - _digit()), "PNG"), "paper.png")
    _close(light_paper.image)
    assert any("inverted" in c for c, _ in light_paper.steps)
    assert not any("inverted" in c for c, _ in from_file(_save(Image.fromarray(_digit()), "PNG"), "x.png").steps)


def test_grey_paper_and_uneven_lighting():
    """Grey ink on grey paper, with a lamp on one side: the same digit comes out."""
    ink = _digit().astype(np.float32) / 255
    x = np.linspace(0, 1, ink.shape[1])[None, :]
    photo = (0.75 - 0.45 * ink) * (1.0 - 0.5 * x)  # the right-hand paper is darker than the left-hand ink
    pre = P.preprocess(photo.astype(np.float32))
    _close(pre.image, tol=0.03)
    assert "uneven lighting evened out" in pre.notes


def test_specks_away_from_the_digit_are_dropped():
    noisy = _digit().copy()
    for r, c in [(5, 5), (100, 8), (8, 104), (104, 100), (60, 108)]:
        noisy[r : r + 2, c : c + 2] = 255  # dust: 2×2 specks in the corners and at an edge
    pre = from_file(_save(Image.fromarray(noisy), "PNG"), "dusty.png")
    _close(pre.image, tol=0.005)
    assert any("specks dropped" in c for c, _ in pre.steps)


def test_a_detached_stroke_is_kept():
    """A 5 whose top bar does not touch the rest: both pieces are the digit."""
    im = Image.new("L", (100, 100))
    d = ImageDraw.Draw(im)
    d.line([(35, 15), (75, 15)], fill=255, width=7)  # the bar
    d.arc([28, 40, 78, 90], 200, 160, fill=255, width=7)  # the belly, not touching it
    d.line([(35, 25), (33, 50)], fill=255, width=7)
    pre = from_file(_save(im, "PNG"), "five.png")
    assert not any("specks" in c for c, _ in pre.steps)
    assert pre.image[:8].sum() > 10  # the bar is at the top of the 28×28 image


def test_canvas_with_transparent_background_equals_opaque_black():
    strokes = _digit(280)
    opaque = np.zeros((280, 280, 4), np.uint8)
    opaque[..., :3], opaque[..., 3] = strokes[..., None], 255
    transparent = np.zeros((280, 280, 4), np.uint8)
    transparent[..., :3], transparent[..., 3] = 255, strokes
    a, b = from_canvas(opaque).image, from_canvas(transparent).image
    assert np.abs(a - b).max() < 0.02
    _close(a, tol=0.03)


def test_steps_are_small_captioned_images():
    pre = from_file(_save(Image.fromarray(255 - _digit(600)), "JPEG"), "photo.jpg")
    captions = [c for c, _ in pre.steps]
    assert captions[0].startswith("input") and captions[-1] == "centred by mass in 28×28"
    assert [c.split(" ")[0] for c in captions[-3:]] == ["cropped", "scaled", "centred"]
    for caption, img in pre.steps:
        assert img.ndim == 2 and max(img.shape) <= STEP_SIDE, caption
        assert 0.0 <= img.min() and img.max() <= 1.0, caption


def test_otsu_matches_exhaustive_search():
    """Otsu's threshold against a brute-force maximisation of the between-class variance."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        v = np.concatenate([rng.normal(0.2, 0.05, 3000), rng.normal(rng.uniform(0.5, 0.9), 0.08, int(rng.integers(100, 2000)))])
        t = otsu(v)
        candidates = np.linspace(v.min(), v.max(), 2001)[1:-1]

        def between(c, v=v):
            lo, hi = v[v < c], v[v >= c]
            return len(lo) * len(hi) * (lo.mean() - hi.mean()) ** 2

        best = candidates[np.argmax([between(c) for c in candidates])]
        assert between(t) >= 0.999 * between(best)


def test_mnist_style_is_unchanged_for_clean_ink():
    ink = _digit().astype(np.float32) / 255
    assert np.abs(mnist_style(ink).image - P.preprocess(ink, ink="light").image).mean() < 0.01


# ---------------------------------------------------------------------------------------------
# Properties: any image in → a 28×28 float32 image in [0, 1] with its ink centred (or a clear error)


@st.composite
def pictures(draw) -> tuple[bytes, str]:
    """A random 'photo' of strokes: any size and aspect, either polarity, any grey levels, noise,
    lighting, transparency and file format."""
    h, w = draw(st.integers(8, 360), label="height"), draw(st.integers(8, 360), label="width")
    paper = draw(st.floats(0, 1), label="paper")
    ink = draw(st.floats(0, 1).filter(lambda v: abs(v - paper) >= 0.3), label="ink")
    im = Image.new("L", (w, h), round(paper * 255))
    d = ImageDraw.Draw(im)
    for _ in range(draw(st.integers(1, 4), label="strokes")):
        pts = [(draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))) for _ in range(2)]
        width = draw(st.integers(1, max(1, min(h, w) // 6)), label="stroke width")
        if draw(st.booleans(), label="ellipse"):
            box = [min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts)]
            d.ellipse(box, outline=round(ink * 255), width=width)
        else:
            d.line(pts, fill=round(ink * 255), width=width)
    a = np.asarray(im, dtype=np.float32) / 255
    gradient = draw(st.floats(0, 0.4), label="lighting")
    a = a * (1 - gradient * np.linspace(0, 1, w)[None, :])
    noise = draw(st.floats(0, 0.05), label="noise")
    a = a + np.random.default_rng(draw(st.integers(0, 2**16))).normal(0, noise, a.shape)
    grey = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "BMP", "WEBP", "TIFF", "GIF", "RGBA"]), label="format")
    if fmt == "RGBA":  # ink opaque, paper transparent
        rgba = Image.merge("RGBA", [grey] * 3 + [Image.fromarray((np.abs(a - paper) > 0.15).astype(np.uint8) * 255)])
        return _save(rgba, "PNG"), "strokes.png"
    return _save(grey, fmt), f"strokes.{fmt.lower()}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pictures())
def test_any_picture_gives_a_centred_mnist_image(picture):
    data, name = picture
    try:
        pre = from_file(data, name)
    except LatentLabError as err:  # only ever for pictures without a usable digit
        assert str(err).startswith(name) and "no ink" in str(err)
        return
    x = pre.image
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 20 + 1  # fits the 20×20 box (LANCZOS may bleed a pixel)
    _is_centred(x)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.integers(0, 2**32 - 1))
def test_any_array_gives_an_image_or_a_clear_error(h, w, seed):
    """Arbitrary greyscale arrays, including 1×1, 1×N and pure noise."""
    a = np.random.default_rng(seed).random((h, w), dtype=np.float32) ** 3
    try:
        x = P.preprocess(a).image
    except LatentLabError as err:
        assert "no ink" in str(err)
        return
    assert x.shape == (28, 28) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    _is_centred(x)


# ---------------------------------------------------------------------------------------------
# The sample images in assets/samples


def test_samples_are_what_the_generator_makes(tmp_path):
    from core.lab.samples import SAMPLES, SAMPLES_DIR, write_samples

    write_samples(tmp_path)
    for name in SAMPLES:
        shipped, fresh = (SAMPLES_DIR / name).read_bytes(), (tmp_path / name).read_bytes()
        try:  # compare pixels, not bytes: encoders may differ between library builds
            a, b = decode(shipped, name).grey, decode(fresh, name).grey
        except LatentLabError:  # the damaged sample: it must be damaged in the same way
            assert len(shipped) == len(fresh)
            continue
        assert a.shape == b.shape and np.abs(a - b).max() < 0.05, name


def test_samples_come_back_as_their_mnist_digits():
    from core.lab.data import load_mnist
    from core.lab.samples import SAMPLE_DIGITS, SAMPLES, SAMPLES_DIR

    x = load_mnist().x_test.astype(np.float32) / 255.0
    for name in SAMPLES:
        if name == "damaged.png":
            with pytest.raises(LatentLabError, match="damaged"):
                from_file((SAMPLES_DIR / name).read_bytes(), name)
            continue
        pre = from_file((SAMPLES_DIR / name).read_bytes(), name)
        assert np.abs(pre.image - x[SAMPLE_DIGITS[name]]).mean() < ONE_PIXEL_SHIFT_MAE, name
