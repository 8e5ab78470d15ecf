"""What the Upload page and `python -m core score` say about a digit (issue 17): score, percentile, flagged at
the page's one threshold, and the k-NN label (`core.lab.verdict`) against brute-force references; the CLI's
JSON schema exactly, on a one-digit file, a sheet of ten and unreadable files; the Draw page's k-NN line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.lab import anomaly, verdict
from core.lab.samples import SAMPLES_DIR

ROOT = Path(__file__).resolve().parent.parent
DIGIT_KEYS = {"box", "model", "score", "percentile", "flagged", "label"}


def test_the_threshold_is_the_95th_percentile_of_the_reference():
    ref = np.random.default_rng(0).gamma(2.0, 0.05, 10_000)
    t = anomaly.flag_threshold(ref)
    assert anomaly.FLAG_PERCENTILE == 95.0
    assert abs(np.mean(ref > t) - 0.05) < 1e-3


def test_verdicts_match_brute_force():
    rng = np.random.default_rng(1)
    x_test, y_test = rng.random((300, 28, 28), dtype=np.float32), rng.integers(0, 10, 300)
    proj = rng.normal(size=(784, 6)).astype(np.float32)

    def reconstruct(x):  # a stand-in "model": a blurred copy, (N, 28, 28, 1)
        return np.clip(0.8 * x + 0.1, 0, 1)

    def encode(x):  # a random linear code, (N, 6)
        return x.reshape(len(x), -1) @ proj

    ref = verdict.reference(reconstruct, encode, x_test, y_test)
    x = rng.random((7, 28, 28), dtype=np.float32)
    got = verdict.judge(x, reconstruct, encode, ref, k=5)
    for xi, v in zip(x, got, strict=True):
        p = np.clip(reconstruct(xi), 1e-7, 1 - 1e-7)
        bce = float(-(xi * np.log(p) + (1 - xi) * np.log(1 - p)).mean())
        assert v.score == pytest.approx(bce, rel=1e-6)
        scores = [float(-(t * np.log(np.clip(reconstruct(t), 1e-7, 1 - 1e-7)) + (1 - t) * np.log(1 - np.clip(reconstruct(t), 1e-7, 1 - 1e-7))).mean()) for t in x_test]
        assert v.percentile == pytest.approx(100 * np.mean(np.array(scores) < v.score))
        assert v.flagged == (v.score > np.percentile(scores, 95))
        d = ((encode(x_test) - encode(xi[None])) ** 2).sum(1)
        order = np.argsort(d, kind="stable")[:5]
        assert v.neighbours == tuple(int(i) for i in order)
        counts = np.bincount(y_test[order], minlength=10)
        assert counts[v.label] == counts.max() == v.votes


# ---------------------------------------------------------------------------------------------
# python -m core score


def _check_schema(result: dict) -> None:
    assert set(result) == {"files"} and isinstance(result["files"], list)
    for f in result["files"]:
        assert set(f) == {"name", "error", "digits"}
        assert isinstance(f["name"], str) and (f["error"] is None or isinstance(f["error"], str))
        assert isinstance(f["digits"], list)
        if f["error"] is not None:
            assert f["digits"] == []
        for d in f["digits"]:
            assert set(d) == DIGIT_KEYS
            assert isinstance(d["box"], list) and len(d["box"]) == 4 and all(type(v) is int for v in d["box"])
            x0, y0, x1, y1 = d["box"]
            assert 0 <= x0 < x1 and 0 <= y0 < y1
            assert isinstance(d["model"], str)
            assert type(d["score"]) is float and type(d["percentile"]) is float and 0 <= d["percentile"] <= 100
            assert type(d["flagged"]) is bool and type(d["label"]) is int and 0 <= d["label"] <= 9


def test_score_writes_exactly_the_schema(tmp_path, capsys):
    from core.cli import main

    damaged = tmp_path / "half.png"
    damaged.write_bytes((SAMPLES_DIR / "damaged.png").read_bytes())
    files = [str(SAMPLES_DIR / "paper_photo.jpg"), str(SAMPLES_DIR / "digit_sheet.jpg"), str(damaged), str(tmp_path / "missing.jpg")]
    out = tmp_path / "scores.json"
    assert main(["score", *files, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    _check_schema(result)
    one, sheet, bad, missing = result["files"]
    assert [f["name"] for f in result["files"]] == files
    assert one["error"] is None and [d["label"] for d in one["digits"]] == [7]  # MNIST test digit 0, a 7
    assert sheet["error"] is None and [d["label"] for d in sheet["digits"]] == list(range(10))
    assert {d["model"] for d in one["digits"] + sheet["digits"]} == {"conv_ae"}  # the Upload page's first model
    assert "damaged or truncated" in bad["error"] and bad["digits"] == []
    assert "cannot be read" in missing["error"] and missing["digits"] == []
    # Flagged exactly above the page's threshold, among the same reference scores.
    from core.lab.data import mnist_for_pages, to_float
    from core.lab.zoo import spec_named
    from core.serving.infer import served

    m = served(spec_named("conv_ae"))
    ref = verdict.reference(m.reconstruct, m.encode, to_float(mnist_for_pages().x_test), mnist_for_pages().y_test)
    for d in one["digits"] + sheet["digits"]:
        assert d["flagged"] == (d["score"] > ref.threshold)
    assert "digit_sheet.jpg: 10 digits, read as 0123456789" in capsys.readouterr().out


def test_score_with_another_model_and_no_tensorflow(tmp_path):
    """`python -m core score` runs the shipped models through ONNX Runtime: it never imports TensorFlow."""
    out = tmp_path / "vae.json"
    code = ("import sys; from core.cli import main; rc = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; sys.exit(rc)")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, "score", str(SAMPLES_DIR / "white_on_black.png"), "--model", "vae_2d",
                    "--json", str(out)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    result = json.loads(out.read_text())
    _check_schema(result)
    (f,) = result["files"]
    assert f["error"] is None and [d["model"] for d in f["digits"]] == ["vae_2d"]


def test_score_refuses_unknown_models(tmp_path, capsys):
    from core.cli import main

    with pytest.raises(SystemExit):
        main(["score", "x.png", "--json", str(tmp_path / "o.json"), "--model", "nope"])
    assert "invalid choice" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The Draw page's "what digit" line


def test_draw_page_says_which_digits_the_code_is_closest_to():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=90).run()
    at.switch_page("views/draw.py").run()
    at.number_input(key="draw_example_index").set_value(0)
    at.toggle(key="draw_use_example").set_value(True).run()  # MNIST test digit 0, a 7
    at.toggle(key="draw_inside").set_value(True).run()
    assert not at.exception and not at.error
    line = next(m.value for m in at.markdown if "closest to test digits" in m.value)
    assert "labelled **7** (5 of 5 neighbours)" in line
    strips = [e for e in at.get("bidi_component") if e.key == "draw_neighbours"]
    panels = json.loads(strips[0].proto.json)["panels"]
    assert [p["title"] for p in panels] == ["a 7"] * 5 and all((p["w"], p["h"]) == (28, 28) for p in panels)
    from views.common import warm_up_in_background

    warm_up_in_background().join(timeout=120)  # exiting while TensorFlow is still being imported can abort the process
