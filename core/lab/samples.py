"""MNIST test digits rendered as photos of paper: the inputs of the fidelity test, the benchmark's
12-megapixel photo, and the sample images in assets/samples/ that the Upload page offers.

A "photo" is the digit upscaled (bicubic), inverted to dark ink on light paper, placed off-centre
on a larger sheet, blurred a little (focus), lit unevenly, with sensor noise, a warm paper tint and
JPEG compression. Everything is drawn from a seeded generator, so the same call gives the same file.

`python -m core.lab.samples` rewrites assets/samples/ (a few kB each; nothing is downloaded).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"
PAPER_TINT = np.array([1.0, 0.97, 0.90], dtype=np.float32)  # warm office light on white paper (R, G, B)


@dataclass(frozen=True)
class Photo:
    """How to render one digit as a photo."""

    scale: float = 8.0  # upscaling of the 28×28 digit: the digit's box is 28·scale pixels
    margin: float = 0.6  # paper around the digit's box on each side, as a fraction of the box
    shift: tuple[float, float] = (0.0, 0.0)  # (down, right) offset of the digit, as fractions of the margin, in [-1, 1]
    paper: float = 0.88  # brightness of the paper
    ink: float = 0.15  # brightness of a full-ink stroke
    blur: float = 1.0  # Gaussian blur radius, in photo pixels
    noise: float = 0.02  # standard deviation of per-pixel sensor noise
    gradient: float = 0.0  # the lighting falls off by this fraction from the top-left to the bottom-right corner
    quality: int = 85  # JPEG quality; 0 writes a PNG instead
    size: tuple[int, int] | None = None  # (width, height) of the sheet; None: from scale and margin


def random_photo(rng: np.random.Generator) -> Photo:
    """A photo setting drawn from the ranges the fidelity test covers (a phone held over a page)."""
    return Photo(
        scale=float(rng.uniform(4, 12)), margin=float(rng.uniform(0.2, 1.0)),
        shift=(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))),
        paper=float(rng.uniform(0.75, 0.95)), ink=float(rng.uniform(0.05, 0.3)),
        blur=float(rng.uniform(0.5, 2.0)), noise=float(rng.uniform(0.005, 0.03)),
        gradient=float(rng.uniform(0.0, 0.3)), quality=int(rng.integers(70, 95)),
    )


def render(digit: np.ndarray, photo: Photo, seed: int = 0) -> Image.Image:
    """MNIST digit (28, 28) in [0, 1] (or uint8) → an RGB photo of it (Pillow image)."""
    digit = np.asarray(digit, dtype=np.float32)
    if digit.max() > 1.0:
        digit = digit / 255.0
    rng = np.random.default_rng(seed)
    box = max(1, round(28 * photo.scale))
    ink = np.clip(np.asarray(Image.fromarray(digit, mode="F").resize((box, box), Image.Resampling.BICUBIC)), 0, 1)
    pad = round(box * photo.margin)
    w, h = photo.size or (box + 2 * pad, box + 2 * pad)
    # The digit's top-left corner: centred, then moved by `shift` × the room left on that side.
    top = round((h - box) / 2 * (1 + photo.shift[0]))
    left = round((w - box) / 2 * (1 + photo.shift[1]))
    top, left = int(np.clip(top, 0, max(0, h - box))), int(np.clip(left, 0, max(0, w - box)))
    coverage = np.zeros((h, w), dtype=np.float32)
    coverage[top : top + box, left : left + box] = ink[: h - top, : w - left]
    return _photograph(coverage, photo, rng)


def render_sheet(digits: np.ndarray, photo: Photo, cols: int = 5, jitter: float = 0.3, seed: int = 0) -> Image.Image:
    """MNIST digits (N, 28, 28) in [0, 1] (or uint8) written on one sheet in rows of `cols`, in reading
    order: each in a cell of 28·scale·(1 + margin) pixels, moved by up to `jitter` × the room around it
    in its cell (up or down, left or right). An RGB photo of the sheet, as `render` makes."""
    digits = np.asarray(digits, dtype=np.float32)
    if digits.max() > 1.0:
        digits = digits / 255.0
    rng = np.random.default_rng(seed)
    box = max(1, round(28 * photo.scale))
    cell = round(box * (1 + photo.margin))
    room = (cell - box) // 2
    rows = -(-len(digits) // cols)
    coverage = np.zeros((rows * cell + 2 * room, cols * cell + 2 * room), dtype=np.float32)
    for k, digit in enumerate(digits):
        ink = np.clip(np.asarray(Image.fromarray(digit, mode="F").resize((box, box), Image.Resampling.BICUBIC)), 0, 1)
        dy, dx = (round(room * jitter * float(v)) for v in rng.uniform(-1, 1, 2))
        top, left = room + (k // cols) * cell + room + dy, room + (k % cols) * cell + room + dx
        np.maximum(coverage[top : top + box, left : left + box], ink, out=coverage[top : top + box, left : left + box])
    return _photograph(coverage, photo, rng)


def _photograph(coverage: np.ndarray, photo: Photo, rng: np.random.Generator) -> Image.Image:
    """Ink coverage (H, W) in [0, 1] → an RGB photo of it on paper: blur, lighting, tint, noise."""
    h, w = coverage.shape
    tone = photo.paper - (photo.paper - photo.ink) * coverage  # (H, W): dark ink on light paper
    if photo.blur > 0:
        # Pillow blurs 8-bit images only; the photo is 8-bit in the end anyway.
        grey8 = Image.fromarray((np.clip(tone, 0, 1) * 255 + 0.5).astype(np.uint8), mode="L")
        tone = np.asarray(grey8.filter(ImageFilter.GaussianBlur(photo.blur)), dtype=np.float32) / 255.0
    if photo.gradient:
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
        tone = tone * (1 - photo.gradient * (x + y) / 2)
    rgb = tone[..., None] * PAPER_TINT  # (H, W, 3)
    rgb = rgb + rng.normal(0, photo.noise, rgb.shape).astype(np.float32) if photo.noise else rgb
    return Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), mode="RGB")


def encode(im: Image.Image, quality: int = 85, **save_args) -> bytes:
    """A Pillow image → JPEG bytes at `quality`, or PNG bytes when quality is 0."""
    buf = io.BytesIO()
    if quality:
        im.save(buf, "JPEG", quality=quality, **save_args)
    else:
        im.save(buf, "PNG", optimize=True, **save_args)
    return buf.getvalue()


def photo_bytes(digit: np.ndarray, photo: Photo, seed: int = 0) -> bytes:
    return encode(render(digit, photo, seed), photo.quality)


# ---------------------------------------------------------------------------------------------
# The sample images on the Upload page: (file name, MNIST test index, what it shows)

SAMPLES = {
    "paper_photo.jpg": "a phone photo of a digit on paper: dark ink, uneven light, JPEG",
    "sideways_exif.jpg": "a photo stored sideways, with an EXIF tag that says so",
    "transparent.png": "a dark digit on a transparent background (RGBA PNG)",
    "white_on_black.png": "a screenshot of a white-on-black drawing, like MNIST itself",
    "scan_16bit.png": "a 16-bit greyscale scan",
    "animated.gif": "an animated GIF: only its first frame is used",
    "damaged.png": "a file cut off half-way, to see how a broken upload is reported",
    "digit_sheet.jpg": "a phone photo of a sheet with 0–9 written in two rows: ten digits, found in reading order",
}
SAMPLE_DIGITS = {  # the MNIST test index each sample shows: 0 is a 7, 1 a 2, 4 a 4, 7 a 9, 8 a 5, 18 a 3
    "paper_photo.jpg": 0, "sideways_exif.jpg": 18, "transparent.png": 8, "white_on_black.png": 1,
    "scan_16bit.png": 4, "animated.gif": 7, "damaged.png": 1, "digit_sheet.jpg": 3,
}
# The sheet's ten digits, in reading order: the first test digit of each of 0–9.
SHEET_DIGITS = (3, 2, 1, 18, 4, 8, 11, 0, 61, 7)


def write_samples(directory: Path = SAMPLES_DIR) -> list[Path]:
    """Render every sample in SAMPLES into `directory`, with an index.json of what each shows."""
    from core.lab.data import load_mnist

    x = load_mnist().x_test.astype(np.float32) / 255.0
    directory.mkdir(parents=True, exist_ok=True)
    files = {}

    photo = Photo(scale=9, margin=0.5, shift=(0.3, -0.4), gradient=0.35, noise=0.025, blur=1.2, quality=80)
    files["paper_photo.jpg"] = photo_bytes(x[SAMPLE_DIGITS["paper_photo.jpg"]], photo, seed=1)

    # Stored rotated 90° counter-clockwise; EXIF orientation 6 says "turn 90° clockwise to view".
    upright = render(x[SAMPLE_DIGITS["sideways_exif.jpg"]], Photo(scale=8, margin=0.4, shift=(-0.2, 0.3), gradient=0.15), seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6
    files["sideways_exif.jpg"] = encode(upright.transpose(Image.Transpose.ROTATE_90), 85, exif=exif.tobytes())

    digit = np.asarray(Image.fromarray(x[SAMPLE_DIGITS["transparent.png"]], mode="F").resize((224, 224), Image.Resampling.BICUBIC))
    alpha = (np.clip(digit, 0, 1) * 255).astype(np.uint8)
    rgba = np.zeros((224, 224, 4), dtype=np.uint8)
    rgba[..., :3] = (20, 40, 120)  # dark blue ink, opaque only where the stroke is
    rgba[..., 3] = alpha
    files["transparent.png"] = encode(Image.fromarray(rgba, mode="RGBA"), 0)

    big = Image.fromarray((x[SAMPLE_DIGITS["white_on_black.png"]] * 255).astype(np.uint8), mode="L").resize((280, 280), Image.Resampling.NEAREST)
    files["white_on_black.png"] = encode(big, 0)

    scan = render(x[SAMPLE_DIGITS["scan_16bit.png"]], Photo(scale=6, margin=0.3, noise=0.01, blur=0.8, quality=0), seed=3)
    grey16 = (np.asarray(scan.convert("L"), dtype=np.float32) / 255.0 * 65535).astype(np.uint16)
    files["scan_16bit.png"] = encode(Image.fromarray(grey16), 0)

    frames = [Image.fromarray((x[i] * 255).astype(np.uint8), mode="L").resize((112, 112), Image.Resampling.NEAREST)
              for i in (SAMPLE_DIGITS["animated.gif"], 2)]  # a 9, then a 1
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=600, loop=0)
    files["animated.gif"] = buf.getvalue()
    files["damaged.png"] = files["white_on_black.png"][: len(files["white_on_black.png"]) // 2]
    sheet = Photo(scale=5, margin=0.5, paper=0.86, ink=0.12, blur=1.2, noise=0.02, gradient=0.25, quality=85)
    files["digit_sheet.jpg"] = encode(render_sheet(x[list(SHEET_DIGITS)], sheet, jitter=0.3, seed=4), sheet.quality)

    written = []
    for name, data in files.items():
        (directory / name).write_bytes(data)
        written.append(directory / name)
    index = {name: {"shows": SAMPLES[name], "mnist_test_index": SAMPLE_DIGITS[name]} for name in SAMPLES}
    (directory / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return written


if __name__ == "__main__":
    for path in write_samples():
        print(f"{path.relative_to(SAMPLES_DIR.parent.parent)}  {path.stat().st_size:>6} bytes")
