"""Decoding uploaded image files safely: bytes in, a greyscale array (and its transparency) out.

Every way a file can be bad ends in one `LatentLabError` whose message names the file and the
problem; nothing else escapes `decode`. The guards, in the order they run:

1. bytes: empty files and files over `MAX_BYTES` (the same limit as `server.maxUploadSize` in
   .streamlit/config.toml, so a file Streamlit accepts is never refused here for its size);
2. format: only the parsers in `FORMATS` are ever tried (a smaller attack surface than "anything
   Pillow knows"); anything else is "not an image";
3. pixels: the header's width × height is checked against `MAX_PIXELS` *before* any pixel is
   decoded (`Image.open` is lazy), which stops decompression bombs: a 50 kB PNG can claim
   50 000 × 50 000 pixels, 2.5 GB once decoded. Pillow's own bomb guard is a second line;
4. decoding: truncated or corrupt data raises inside Pillow with one of many exception types,
   all turned into "damaged or truncated".

Large photos are decoded small: a JPEG is decoded at 1/2, 1/4 or 1/8 scale by the DCT itself
(`draft`), which makes a 12-megapixel photo many times cheaper, and anything still larger than
`WORK_SIDE` is reduced before it becomes a float array. The digit ends up 20 pixels tall, so
~1000 pixels is plenty.

Legitimate but unusual files are converted and described in `notes`: the first frame of an
animation, 16-bit greyscale (scaled by 65535, not clipped at 255), CMYK, palettes.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import LatentLabError

MAX_MB = 10  # = server.maxUploadSize in .streamlit/config.toml (Streamlit counts MiB: MB × 1024²)
MAX_BYTES = MAX_MB * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 megapixels: more than any phone camera, 160 MB decoded as RGBA
WORK_SIDE = 1024  # the long side, in pixels, of the image the pipeline works on

# The only parsers Pillow may try, by its names for them.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
# Pillow's format name → what the user calls it. MPO is how Pillow names the JPEGs that many phones
# write (a JPEG with extra pictures appended, e.g. a depth map); its JPEG parser returns them.
FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "BMP": "BMP", "GIF": "GIF", "WEBP": "WebP", "TIFF": "TIFF"}
EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff")  # for st.file_uploader(type=...)
KINDS = "PNG, JPEG, BMP, GIF, WebP or TIFF"

# What Pillow raises on hostile or damaged data: OSError for truncation ("image file is truncated"),
# SyntaxError from several parsers ("not a TIFF file"), ValueError and struct.error from header
# fields that do not add up, EOFError, IndexError and KeyError from tables that point nowhere,
# MemoryError for absurd allocations. Each of them means "this file cannot be decoded".
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, KeyError, TypeError,
    ZeroDivisionError, OverflowError, MemoryError, RuntimeError, Image.DecompressionBombError,
)

EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how the camera was held
# 16-bit modes store 0..65535: dividing by 65535 keeps the full range (clipping at 255 would turn
# almost every pixel white).
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
_MODE_NOTES = {"P": "palette image: its colours converted to greyscale", "CMYK": "CMYK colour: converted to RGB, then greyscale"}


@dataclass(frozen=True, eq=False)
class Decoded:
    """One decoded image file, as stored (not yet turned upright), at most WORK_SIDE on its long side."""

    name: str
    grey: np.ndarray  # (H, W) float32 in [0, 1], luminance (ITU-R 601), 0 = black
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1] opacity, or None where every pixel is opaque
    orientation: int  # EXIF orientation 1..8 (1 = upright); the pipeline applies it
    format: str  # "PNG", "JPEG", ... (the user's name for it)
    size: tuple[int, int]  # (width, height) as stored in the file, before any reduction
    notes: tuple[str, ...] = ()  # what the user should know about how the file was read


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def decode(data: bytes, name: str = "the file") -> Decoded:
    """Image file bytes → `Decoded`, or a `LatentLabError` that names `name` and what is wrong."""
    if len(data) == 0:
        raise LatentLabError(f"{name} is empty (0 bytes): there is no image in it")
    if len(data) > MAX_BYTES:
        raise LatentLabError(f"{name} is {len(data):,} bytes ({_mb(len(data))}); the limit is {MAX_MB} MB "
                             f"({MAX_BYTES:,} bytes) per file")
    try:
        # Pillow's own guard raises DecompressionBombError past twice its MAX_IMAGE_PIXELS (~179 MP) and
        # only warns below that; our MAX_PIXELS is lower, so the size check in `_decode_open` decides.
        # (Not `warnings.catch_warnings()`: it changes process-wide state, and sessions run in threads.)
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as im:
            return _decode_open(im, name)
    except UnidentifiedImageError:
        kind = _sniff(data)
        if kind:  # the right magic number, but no parser could make sense of what follows
            raise LatentLabError(f"{name} starts like a {kind} file but could not be decoded: the file is damaged or truncated") from None
        raise LatentLabError(f"{name} is not an image this app can read (it accepts {KINDS} files)") from None
    except Image.DecompressionBombError as err:
        claimed = re.search(r"\((\d+) pixels\)", str(err))  # Pillow says "Image size (N pixels) exceeds ..."
        what = f"{int(claimed[1]) / 1e6:,.0f} megapixels" if claimed else "too many pixels"
        raise LatentLabError(f"{name} claims {what}, too many to decode safely (a 'decompression bomb'); "
                             f"the limit is {MAX_PIXELS // 1_000_000} megapixels") from None
    except LatentLabError:
        raise
    except _DECODE_ERRORS as err:
        raise LatentLabError(f"{name} could not be decoded: the file is damaged or truncated ({_short(err)})") from None


_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP",
          b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def _sniff(data: bytes) -> str | None:
    """The format a file's first bytes announce, if it is one we accept."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)


def _short(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text if len(text) <= 120 else text[:117] + "…"


def _decode_open(im: Image.Image, name: str) -> Decoded:
    kind = FORMAT_NAMES.get(im.format or "", im.format or "?")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise LatentLabError(f"{name} has no pixels ({w}×{h})")
    if w * h > MAX_PIXELS:  # from the header alone: nothing has been decoded yet
        raise LatentLabError(f"{name} is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                             f"{MAX_PIXELS // 1_000_000} megapixels (larger files could exhaust the server's memory)")
    notes = []
    # `is_animated` looks for a second frame only; `n_frames` would walk every frame of a hostile file.
    if getattr(im, "is_animated", False) and im.format != "MPO":  # an MPO's extra pictures are previews or depth maps
        what = {"TIFF": "a multi-page TIFF", "GIF": "an animated GIF", "WEBP": "an animated WebP", "PNG": "an animated PNG"}
        noun = "page" if im.format == "TIFF" else "frame"
        notes.append(f"{what.get(im.format, 'an animation')}: only the first {noun} is used")
        im.seek(0)
    orientation = _orientation(im)

    if im.format in ("JPEG", "MPO") and im.mode in ("RGB", "L", "YCbCr"):
        # DCT scaling: decode straight to greyscale at 1/2, 1/4 or 1/8 size, keeping the long side ≥ ¾·WORK_SIDE.
        scale = 0.75 * WORK_SIDE / max(w, h)
        if scale < 1:
            im.draft("L", (max(1, int(w * scale)), max(1, int(h * scale))))
    im.load()
    # Decided before `_reduce`, which may convert the mode and forgets the format.
    sixteen_bit = im.mode in _SIXTEEN_BIT or (im.mode == "I" and im.format == "PNG")
    notes.append("16-bit greyscale: scaled from 0–65535" if sixteen_bit else _MODE_NOTES.get(im.mode, ""))
    im = _reduce(im)
    grey, alpha, stretch_note = _grey_alpha(im, name, sixteen_bit)
    notes = [n for n in [*notes, stretch_note] if n]
    if alpha is not None and float(alpha.min()) >= 1.0:
        alpha = None  # an alpha channel that is opaque everywhere changes nothing
    return Decoded(name, grey, alpha, orientation, kind, (w, h), tuple(notes))


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(EXIF_ORIENTATION, 1)
    except _DECODE_ERRORS:  # a damaged EXIF block is not worth refusing the picture for
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reduce(im: Image.Image) -> Image.Image:
    """Shrink so the long side is ≤ WORK_SIDE: first by an integer box factor (cheap), then resampling."""
    long_side = max(im.size)
    if long_side <= WORK_SIDE:
        return im
    if im.mode in ("P", "1"):  # palette indices cannot be averaged; expand them first
        im = im.convert("RGBA" if im.has_transparency_data else "L")
    elif im.mode in _SIXTEEN_BIT:  # Pillow cannot resample 16-bit modes; 32-bit integers keep every value
        im = im.convert("I")
    if im.mode not in ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F", "YCbCr", "La", "RGBa", "PA"):
        return im  # rare modes are reduced after conversion to floats, in `_grey_alpha`
    factor = long_side // WORK_SIDE
    if factor >= 2:
        im = im.reduce(factor)
    if max(im.size) > WORK_SIDE:
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    return im


def _grey_alpha(im: Image.Image, name: str, sixteen_bit: bool) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """A loaded image in any mode → (grey (H, W) float32 [0, 1], alpha or None, a note if the
    values had to be stretched to [0, 1], or None)."""
    mode, note, alpha = im.mode, None, None
    if sixteen_bit:
        grey = np.asarray(im, dtype=np.float32) / 65535.0
    elif mode in ("I", "F"):
        grey = np.asarray(im, dtype=np.float64)
        grey = np.nan_to_num(grey, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(grey.min()), float(grey.max())
        if mode == "F" and 0.0 <= lo and hi <= 1.0:
            grey = grey.astype(np.float32)
        else:
            grey = ((grey - lo) / (hi - lo) if hi > lo else np.zeros_like(grey)).astype(np.float32)
            note = f"{'32-bit integer' if mode == 'I' else 'floating-point'} pixels: stretched from {lo:g}…{hi:g} to black…white"
    else:
        if mode == "P":
            im = im.convert("RGBA" if im.has_transparency_data else "RGB")
        elif mode == "CMYK":
            im = im.convert("RGB")
        elif mode == "1":
            im = im.convert("L")
        elif mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in mode or "a" in mode else "RGB")  # YCbCr, LAB, HSV, RGBX, La, RGBa, PA
        if im.mode in ("LA", "RGBA"):
            alpha = np.asarray(im.getchannel("A"), dtype=np.float32) / 255.0
        grey = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    if grey.ndim != 2 or grey.size == 0:
        raise LatentLabError(f"{name} decoded to an unusable array of shape {grey.shape}")
    if max(grey.shape) > WORK_SIDE:  # a rare mode `_reduce` could not shrink in Pillow
        step = int(np.ceil(max(grey.shape) / WORK_SIDE))
        grey = grey[::step, ::step]
        alpha = alpha[::step, ::step] if alpha is not None else None
    return np.ascontiguousarray(grey), alpha, note


# EXIF orientation → how to turn the stored pixels upright, as numpy operations on (H, W) arrays.
# The same table as PIL.ImageOps.exif_transpose (tested against it).
_UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left–right
    3: lambda a: a[::-1, ::-1],  # upside down
    4: lambda a: a[::-1, :],  # mirrored top–bottom
    5: lambda a: a.T,  # mirrored along the main diagonal
    6: lambda a: np.rot90(a, -1),  # camera held rotated: turn 90° clockwise
    7: lambda a: np.rot90(a, 2).T,  # mirrored along the other diagonal
    8: lambda a: np.rot90(a, 1),  # turn 90° counter-clockwise
}
ORIENTATION_NAMES = {
    2: "mirrored left–right", 3: "rotated 180°", 4: "mirrored top–bottom", 5: "transposed",
    6: "rotated 90° clockwise", 7: "transversed", 8: "rotated 90° counter-clockwise",
}


def upright(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation `orientation` (1..8) to a 2-D array, returning a contiguous copy."""
    if orientation not in _UPRIGHT:
        raise LatentLabError(f"EXIF orientation must be 1..8, got {orientation!r}")
    return np.ascontiguousarray(_UPRIGHT[orientation](a))
