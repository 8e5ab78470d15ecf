"""Every digit in a photo (issue 17): pieces of ink grouped into digits (`core.lab.layout`), in reading order,
each through the MNIST-style pipeline (`core.lab.preprocess.find_digits`); boxes in the file's own pixels;
the touching-digits note; the per-image limit; and the `scipy.ndimage` steps against hand-written references."""

from __future__ import annotations

import io
from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.lab import layout
from core.lab import preprocess as P
from core.lab.ink import pieces
from core.lab.mnist_frame import _dilate_disc, centre_of_mass
from core.lab.preprocess import MAX_DIGITS, from_file
from core.lab.samples import Photo, encode, photo_bytes, random_photo, render_sheet

ONE_PIXEL_SHIFT_MAE = 0.065  # mean |x − x shifted by one column| over MNIST test digits (tests/test_upload_fidelity.py)


@pytest.fixture(scope="module")
def mnist():
    from core.lab.data import load_mnist

    m = load_mnist()
    return m.x_test.astype(np.float32) / 255.0, m.y_test


def _png(a: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", **save)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Sheets of digits


@pytest.mark.parametrize("seed", range(4))
def test_a_sheet_of_ten_digits_gives_ten_crops_in_reading_order(mnist, seed):
    x, y = mnist
    rng = np.random.default_rng(seed)
    idx = np.array([rng.choice(np.flatnonzero(y == d)) for d in rng.permutation(10)])  # a shuffled 0–9
    photo = Photo(scale=float(rng.uniform(3, 6)), margin=0.5, gradient=0.2, noise=0.02, blur=1.2, quality=85)
    pre = from_file(encode(render_sheet(x[idx], photo, cols=5, jitter=0.4, seed=seed), 85), "sheet.jpg")
    assert len(pre.digits) == 10
    assert any("10 digits found" in n for n in pre.notes)
    # Each crop is its own digit: nearer (mean absolute difference) to the digit written there than to the other nine.
    mae = np.abs(np.stack([d.image for d in pre.digits])[:, None] - x[idx][None]).mean(axis=(2, 3))  # (found, written)
    assert list(mae.argmin(axis=1)) == list(range(10)), mae.round(3)
    assert list(y[idx][mae.argmin(axis=1)]) == list(y[idx])  # so the labels come in the order written
    assert np.diag(mae).max() < 0.1  # and each is close to it
    # Reading order: the first five are the top row, each row left to right.
    boxes = np.array([d.box for d in pre.digits])
    cy, cx = (boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2
    assert cy[:5].max() < cy[5:].min()
    assert np.all(np.diff(cx[:5]) > 0) and np.all(np.diff(cx[5:]) > 0)


def test_one_digit_is_exactly_the_single_digit_pipeline(mnist):
    """Where a photo holds one digit, finding every digit changes nothing: the same 28×28 input."""
    x, _ = mnist
    rng = np.random.default_rng(3)
    for i in rng.choice(len(x), 40, replace=False):
        d = P.decode(photo_bytes(x[i], random_photo(rng), seed=int(i)), f"#{i}")
        many = P.preprocess_decoded(d)
        one = P.preprocess(d.grey, d.alpha, orientation=d.orientation, notes=d.notes, label="x")
        assert len(many.digits) == 1
        np.testing.assert_array_equal(many.image, one.image)
        np.testing.assert_array_equal(many.digits[0].image, one.image)
        assert np.abs(many.image - x[i]).mean() < 2 * ONE_PIXEL_SHIFT_MAE


def test_boxes_are_in_the_upright_files_pixels():
    """A 3000×1200 scan (decoded at 1024 wide) with three strokes drawn at known places, stored sideways
    with an EXIF tag: the boxes are where the strokes are in the upright picture, in its full-size pixels."""
    im = Image.new("L", (3000, 1200), 235)
    d = ImageDraw.Draw(im)
    drawn = [(300, 300, 600, 900), (1300, 250, 1700, 850), (2300, 350, 2650, 950)]  # (x0, y0, x1, y1)
    d.ellipse(drawn[0], outline=20, width=40)  # a 0
    d.line([(1500, 250), (1500, 850)], fill=20, width=40)  # a 1 (with its stroke's width around the line)
    d.line([(2300, 350), (2650, 350), (2400, 950)], fill=20, width=40, joint="curve")  # a 7
    expected = [drawn[0], (1480, 250, 1520, 850), (2280, 330, 2670, 970)]
    stored = im.transpose(Image.Transpose.ROTATE_90)  # turned counter-clockwise; EXIF 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    for data in (_png(np.asarray(im)), _png(np.asarray(stored), exif=exif.tobytes())):
        pre = from_file(data, "scan.png")
        assert len(pre.digits) == 3
        for digit, want in zip(pre.digits, expected, strict=True):
            assert np.abs(np.subtract(digit.box, want)).max() <= 30, (digit.box, want)  # ~3 px at the decoded size


def test_two_touching_digits_get_a_note(mnist):
    x, y = mnist
    two, three = x[np.flatnonzero(y == 2)[0]], x[np.flatnonzero(y == 3)[0]]
    pair = np.zeros((28, 46), np.float32)  # the 3 drawn over the 2's right edge: one blob of ink
    pair[:, :28] = two
    pair[:, 18:] = np.maximum(pair[:, 18:], three)
    ink = np.asarray(Image.fromarray(pair, mode="F").resize((46 * 8, 28 * 8), Image.Resampling.BICUBIC))
    paper = np.full((400, 600), 0.9, np.float32)
    paper[16:240, 100:468] -= 0.75 * np.clip(ink, 0, 1)
    pre = from_file(_png((paper * 255).astype(np.uint8)), "23.png")
    assert len(pre.digits) == 1
    assert any("probably two or more digits touching" in n for n in pre.digits[0].notes)
    # A single digit gets no such note.
    single = from_file(photo_bytes(two, Photo(scale=8)), "2.jpg")
    assert single.digits[0].notes == ()


def test_more_digits_than_the_limit_are_cut_with_a_message(mnist):
    x, _ = mnist
    n = MAX_DIGITS + 10
    sheet = render_sheet(x[:n], Photo(scale=2.5, margin=0.6, noise=0.01, blur=0.6), cols=10, jitter=0.2, seed=1)
    pre = from_file(encode(sheet, 90), "page.jpg")
    assert len(pre.digits) == MAX_DIGITS
    assert any(f"{n} digits found: only the first {MAX_DIGITS}" in note for note in pre.notes), pre.notes


def test_the_upload_outcome_lists_the_digits():
    ok, bad = P.preprocess_many([("sheet", encode(render_sheet(_bars(), Photo(scale=4), cols=3), 90)), ("bad", b"not an image")])
    assert len(ok.digits) == 3 and ok.pre.image is ok.digits[0].image
    assert bad.digits == () and bad.error


def _bars() -> np.ndarray:
    """Three different strokes (28×28 each): a bar, a ring, a cross."""
    out = np.zeros((3, 28, 28), np.float32)
    out[0, 4:24, 12:16] = 1
    yy, xx = np.mgrid[:28, :28]
    out[1][np.abs(np.hypot(yy - 14, xx - 14) - 8) < 2] = 1
    out[2, 12:16, 4:24] = out[2, 4:24, 12:16] = 1
    return out


# ---------------------------------------------------------------------------------------------
# Grouping and reading order (boxes only)


def test_parts_of_one_digit_are_grouped():
    body, bar = (40, 40, 100, 120), (50, 10, 110, 22)  # a 5's belly and its detached bar above it
    dot = (70, 70, 80, 80)  # a piece inside it
    side = (98, 20, 112, 40)  # a fragment just off its corner
    assert layout.group(np.array([body, bar, dot, side])) == [[0, 1, 2, 3]]


def test_digits_side_by_side_or_in_rows_stay_apart():
    row = [(x, 0, x + 60, 100) for x in (0, 90, 180, 270)]  # four digits in a row, 30 px apart
    below = [(x, 125, x + 60, 225) for x in (0, 90, 180, 270)]  # a second row close under it
    assert sorted(layout.group(np.array(row + below))) == [[i] for i in range(8)]
    assert layout.group(np.array([(0, 0, 60, 100), (70, 0, 130, 100)])) == [[0], [1]]  # two close digits


def test_reading_order_is_rows_then_left_to_right():
    rng = np.random.default_rng(0)
    boxes = [(c * 100 + rng.integers(-15, 15), r * 150 + rng.integers(-30, 30), 0, 0) for r in range(3) for c in range(6)]
    boxes = np.array([(x, y, x + 60, y + 100) for x, y, _, _ in boxes])
    shuffled = rng.permutation(len(boxes))
    assert [int(shuffled[i]) for i in layout.reading_order(boxes[shuffled])] == list(range(len(boxes)))


def test_a_wide_blob_looks_like_several():
    assert layout.looks_like_several((0, 0, 140, 100)) and not layout.looks_like_several((0, 0, 120, 100))


# ---------------------------------------------------------------------------------------------
# The scipy.ndimage steps against hand-written references


def _flood_fill_count(mask: np.ndarray) -> int:
    """8-connected pieces of a bool mask by breadth-first search."""
    seen, n = np.zeros_like(mask), 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        n += 1
        queue = deque([start])
        seen[start] = True
        while queue:
            r, c = queue.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1] and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        queue.append((rr, cc))
    return n


def test_pieces_match_a_flood_fill():
    rng = np.random.default_rng(1)
    for _ in range(10):
        mask = rng.random((40, 60)) < rng.uniform(0.1, 0.5)
        p = pieces(mask)
        assert p.factor == 1 and len(p) == _flood_fill_count(mask)
        assert p.area.sum() == mask.sum()
        np.testing.assert_array_equal(p.mask(np.ones(len(p), bool)), mask)
        for i in rng.choice(len(p), 3):
            piece = p.labels == i + 1
            rows, cols = np.flatnonzero(piece.any(1)), np.flatnonzero(piece.any(0))
            assert tuple(p.boxes[i]) == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
            box = tuple(int(v) for v in p.boxes[i])
            keep = np.arange(len(p)) == i
            np.testing.assert_array_equal(p.mask(keep, box), piece[box[1] : box[3], box[0] : box[2]])


def test_disc_dilation_and_centre_of_mass_match_references():
    rng = np.random.default_rng(2)
    a = rng.random((15, 11)).astype(np.float32) ** 4
    for radius in (0.8, 1.5, 2.3):
        r = int(np.ceil(radius))
        padded = np.pad(a, r)
        want = np.zeros_like(padded)
        for y in range(padded.shape[0]):  # max over the disc, by brute force
            for x in range(padded.shape[1]):
                for dy in range(-r, r + 1):
                    for dx in range(-r, r + 1):
                        if dy * dy + dx * dx <= radius * radius and 0 <= y + dy < padded.shape[0] and 0 <= x + dx < padded.shape[1]:
                            want[y, x] = max(want[y, x], padded[y + dy, x + dx])
        np.testing.assert_array_equal(_dilate_disc(a, radius), want)
    rows, cols, w = *np.indices(a.shape), a.astype(np.float64)
    np.testing.assert_allclose(centre_of_mass(a), ((rows * w).sum() / w.sum(), (cols * w).sum() / w.sum()), rtol=1e-9)
