"""A corpus of malformed and hostile files: each gets one clear message that names the file, and
nothing but `LatentLabError` ever leaves `core.lab.preprocess.from_file`.

The files are built here, byte by byte, rather than committed: each is a few lines that say what
is wrong with it. Legitimate-but-unusual files (16-bit, CMYK, palette, animated) are processed,
with a note, in tests/test_upload_preprocess.py.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import LatentLabError
from core.lab.images import MAX_BYTES, MAX_PIXELS, decode
from core.lab.preprocess import from_file, preprocess_many

# Pillow warns about what these files are (huge headers, bad TIFF tags) before we refuse them.
pytestmark = [pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


def _digit(size: int = 64) -> np.ndarray:
    """A white ring on black (uint8), something digit-like to build files from."""
    yy, xx = np.mgrid[0:size, 0:size] - size / 2
    r = np.hypot(yy / 1.3, xx)
    return ((np.abs(r - size / 4) < size / 14) * 255).astype(np.uint8)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type + data."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int, extra: bytes = b"") -> bytes:
    """A PNG whose header claims width × height 8-bit greyscale pixels, with one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


def _gif_claiming(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width × height, with one 1×1 frame."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00" + b"\x3b")


def corpus() -> dict[str, tuple[bytes, str]]:
    """File name → (its bytes, a regex its error message must match)."""
    ring = Image.fromarray(_digit())
    png, jpeg = _save(ring, "PNG"), _save(ring.convert("RGB"), "JPEG", quality=90)
    webp, tiff, bmp = _save(ring, "WEBP"), _save(ring, "TIFF"), _save(ring, "BMP")
    damaged = "damaged or truncated"
    not_image = "not an image"
    text_bomb = _chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"A" * 20_000_000))  # 20 MB of text in 20 kB
    sof = jpeg.index(b"\xff\xc0")
    return {
        "empty.png": (b"", "empty"),
        "notes.txt": (b"Remember to buy milk.\n" * 20, not_image),
        "page.html.jpg": (b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", not_image),
        "drawing.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="9"/></svg>', not_image),
        "report.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", not_image),
        "program.exe.png": (b"MZ\x90\x00" + bytes(500), not_image),
        "archive.zip.gif": (b"PK\x03\x04" + bytes(200), not_image),
        "random_bytes.bmp": (np.random.default_rng(0).bytes(4096), not_image),
        "too_big.png": (png + bytes(MAX_BYTES + 1 - len(png)), r"10,485,761 bytes .* the limit is 10 MB"),
        "signature_only.png": (png[:8], damaged),
        "truncated.png": (png[: len(png) // 2], damaged),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], damaged),
        "truncated.webp": (webp[: len(webp) // 2], damaged),
        "truncated.tiff": (tiff[:200], damaged),
        "truncated.bmp": (bmp[:100], damaged),
        "bad_crc.png": (png[:29] + bytes([png[29] ^ 0xFF]) + png[30:], damaged),
        "bad_jpeg_frame.jpg": (jpeg[: sof + 5] + b"\x00\x00\x00\x00" + jpeg[sof + 9 :], r"damaged|no pixels"),
        "zero_width.png": (_png_claiming(0, 10), r"damaged|no pixels"),
        "bomb_50000x50000.png": (_png_claiming(50_000, 50_000), r"2,500 megapixels.*decompression bomb"),
        "bomb_8000x6000.png": (_png_claiming(8000, 6000), r"48 megapixels; the limit is 40"),
        "bomb_65535x65535.gif": (_gif_claiming(65535, 65535), r"megapixels|decompression bomb"),
        "text_bomb.png": (_png_claiming(64, 64, text_bomb), damaged),
        "blank_white.png": (_save(Image.new("L", (200, 200), 255), "PNG"), "no ink.*blank"),
        "blank_black.jpg": (_save(Image.new("RGB", (200, 200)), "JPEG"), "no ink.*blank"),
        "blank_transparent.png": (_save(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), "PNG"), "no ink.*blank"),
        "plain_paper_photo.jpg": (
            _save(Image.fromarray((200 + np.random.default_rng(1).normal(0, 4, (300, 400))).clip(0, 255).astype(np.uint8)),
                  "JPEG", quality=80), "no ink.*(blank|faint)"),
    }


CORPUS = corpus()


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_bad_file_gets_its_message(name):
    data, pattern = CORPUS[name]
    with pytest.raises(LatentLabError, match=pattern) as err:
        from_file(data, name)
    message = str(err.value)
    assert message.startswith(name), message  # the message says which file
    assert "Traceback" not in message and len(message) < 300


def test_bad_files_do_not_stop_the_good_ones():
    good = _save(Image.fromarray(_digit()), "PNG")
    files = [("good_1.png", good)] + [(n, d) for n, (d, _) in CORPUS.items()] + [("good_2.png", good)]
    outcomes = preprocess_many(files)
    assert [o.name for o in outcomes] == [n for n, _ in files]
    assert outcomes[0].ok and outcomes[-1].ok
    assert all(not o.ok and o.error.startswith(o.name) for o in outcomes[1:-1])


def test_pixel_limit_is_checked_before_decoding(monkeypatch):
    """The bomb is refused from its header: Pillow's decoder is never asked for its pixels."""
    def boom(self):
        raise AssertionError("load() was called on a decompression bomb")

    monkeypatch.setattr(Image.Image, "load", boom)
    with pytest.raises(LatentLabError, match="megapixels"):
        decode(_png_claiming(10_000, 10_000), "bomb.png")
    assert 10_000 * 10_000 > MAX_PIXELS


# Mutation fuzzing: damage valid files at random and check that only LatentLabError comes out.
_SEEDS = {
    "png": _save(Image.fromarray(_digit(32)), "PNG"),
    "jpeg": _save(Image.fromarray(_digit(32)).convert("RGB"), "JPEG", quality=80),
    "gif": _save(Image.fromarray(_digit(32)), "GIF"),
    "bmp": _save(Image.fromarray(_digit(32)), "BMP"),
    "tiff": _save(Image.fromarray(_digit(32)), "TIFF", compression="tiff_deflate"),
    "webp": _save(Image.fromarray(_digit(32)), "WEBP"),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(_SEEDS)), data=st.data())
def test_damaged_files_raise_only_latent_lab_errors(kind, data):
    raw = bytearray(_SEEDS[kind])
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        pos = data.draw(st.integers(0, len(raw) - 1), label="position")
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "zero"]), label="op")
        if op == "flip":
            raw[pos] ^= data.draw(st.integers(1, 255), label="mask")
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
        else:
            raw[pos : pos + 4] = b"\0\0\0\0"
        if not raw:
            break
    try:
        pre = from_file(bytes(raw), f"fuzzed.{kind}")
    except LatentLabError as err:
        assert str(err).startswith(f"fuzzed.{kind}")
        return
    assert pre.image.shape == (28, 28) and pre.image.dtype == np.float32
    assert 0.0 <= pre.image.min() and pre.image.max() <= 1.0
