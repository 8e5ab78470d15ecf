"""Benchmark: what limits the k-NN label on other writers' digits (issue 17's goal: ≥ 90 %)?

    python bench/bench_other_writers.py [--control 1000]

`python -m core evaluate` measures each model on scikit-learn's UCI digits (43 writers, 8×8;
`core.lab.other_writers`). This script separates three things that figure mixes:

1. **the writers**: k-NN label accuracy (k = 5, against the 10,000 MNIST test codes) of the UCI digits,
   per model and in pixel space, and per digit for the conv AE;
2. **the 8×8 path**: the same figure for MNIST training digits (never the k-NN's references) turned into
   8×8 digits the way UCI made theirs (the digit scaled to fit a 32×32 binary bitmap, ink pixels counted
   in 4×4 blocks: levels 0..16), then rendered, photographed and preprocessed exactly like the UCI
   digits. If these come back near the MNIST-as-is figure, the path is not what loses the labels;
3. **the rendering**: the UCI digits again with each 8×8 count drawn as ink area instead of grey paint
   (bicubic upsampling, then the threshold that keeps exactly the counted number of ink pixels, then a
   one-pixel blur), to show how much the figure depends on how 8×8 counts are turned back into strokes.

Takes a few minutes (each set goes through the Upload pipeline digit by digit).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
if "LATENT_LAB_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["LATENT_LAB_DATA"] = str(_SHARED)

from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402

from core.lab import other_writers  # noqa: E402
from core.lab.data import load_mnist, to_float  # noqa: E402
from core.lab.mnist_frame import ink_extent  # noqa: E402
from core.lab.neighbours import knn_label  # noqa: E402
from core.lab.zoo import models_of, spec_named  # noqa: E402
from core.serving.infer import served  # noqa: E402

K = other_writers.K


def uci_style(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit (28, 28) uint8 → an 8×8 digit as UCI made theirs: the ink's box scaled to fit a 32×32
    binary bitmap (centred), ink pixels counted in 4×4 blocks (levels 0..16)."""
    a = digit.astype(np.float32) / 255.0
    crop = a[ink_extent(a)]
    h, w = crop.shape
    s = 32 / max(h, w)
    im = np.asarray(Image.fromarray(crop, "F").resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR))
    bitmap = np.zeros((32, 32), np.float32)
    top, left = (32 - im.shape[0]) // 2, (32 - im.shape[1]) // 2
    bitmap[top : top + im.shape[0], left : left + im.shape[1]] = im > 0.5
    return bitmap.reshape(8, 4, 8, 4).sum((1, 3))


def ink_area(digit8: np.ndarray) -> np.ndarray:
    """8×8 counts → (64, 64) ink: bicubic upsampling, then the threshold that keeps exactly the counted
    number of ink pixels (each 4×4 block of UCI's bitmap is 8×8 pixels here), then a one-pixel blur."""
    d = np.asarray(digit8, np.float32).reshape(8, 8) / 16.0
    big = np.asarray(Image.fromarray(d, "F").resize((64, 64), Image.Resampling.BICUBIC))
    on = max(1, int(round(d.sum() * 64)))
    ink = (big >= np.sort(big.ravel())[::-1][on - 1]).astype(np.float32)
    return np.clip(ndimage.gaussian_filter(ink, 1.0), 0.0, 1.0)


def through_the_path(digits8, labels, render=other_writers.ink_image) -> tuple[np.ndarray, np.ndarray]:
    """8×8 digits and their labels → (inputs (N, 28, 28, 1) as the Upload page sees their photos, labels)."""
    images, kept = other_writers.photographed(digits8, render)
    return images, np.asarray(labels)[kept]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--control", type=int, default=1000, help="MNIST training digits sent through the 8×8 path")
    args = ap.parse_args()

    mnist = load_mnist()
    x_test, y_test = to_float(mnist.x_test), mnist.y_test
    uci = other_writers.uci_digits()
    t0 = time.perf_counter()
    sets = {"UCI writers (evaluate's set)": other_writers.load_other_writers()}
    pick = np.random.default_rng(0).choice(len(mnist.x_train), args.control, replace=False)
    y_pick = mnist.y_train[pick]
    sets["MNIST train digits through the 8×8 path"] = through_the_path([uci_style(d) for d in mnist.x_train[pick]], y_pick)
    sets["MNIST train digits as they are"] = (to_float(mnist.x_train[pick]), y_pick)
    sets["UCI writers, counts drawn as ink area"] = through_the_path(uci.images, uci.target, ink_area)
    print(f"sets built in {time.perf_counter() - t0:.0f} s (k = {K}, references: the 10,000 MNIST test digits)\n")

    models = list(dict.fromkeys(["lesson", *models_of("draw"), *models_of("upload")]))
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    codes = {name: flat(served(spec_named(name)).encode(x_test)) for name in models}
    print(f"{'set':44s} {'pixels':>7s} " + " ".join(f"{n:>8s}" for n in models))
    per_class = {}
    for label, (x, y) in sets.items():
        row = [float(np.mean(knn_label(flat(x_test), y_test, flat(x), K) == y))]
        for name in models:
            guess = knn_label(codes[name], y_test, flat(served(spec_named(name)).encode(x)), K)
            row.append(float(np.mean(guess == y)))
            if name == "conv_ae":
                per_class[label] = [float(np.mean(guess[y == c] == c)) for c in range(10)]
        print(f"{label:44s} " + " ".join(f"{100 * v:7.1f}%" for v in row))
    print("\nconv_ae, per digit (k-NN label accuracy, %):")
    print(f"{'':44s} " + " ".join(f"{c:>4d}" for c in range(10)))
    for label, accs in per_class.items():
        print(f"{label:44s} " + " ".join(f"{100 * v:4.0f}" for v in accs))


if __name__ == "__main__":
    main()
