"""AppTest for the Upload page. AppTest cannot drive st.file_uploader, so the sample-image buttons,
which feed their files through exactly the same path, exercise the page end to end."""

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.lab.samples import SAMPLES, SAMPLES_DIR, SHEET_DIGITS

TIMEOUT = 90  # the first run imports TensorFlow, loads two models and scores the 10 000 test digits


@pytest.fixture
def page():
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    at.switch_page("views/upload.py").run()
    assert not at.exception
    return at


def _specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(spec: dict) -> str:
    return " ".join(a.get("text", "") for a in spec["layout"].get("annotations", []))


def test_upload_page_waits_for_files(page):
    assert page.title[0].value == "📤 Upload your own digits"
    assert any("Upload one or more images" in i.value for i in page.info)
    assert {f"up_sample_{name.split('.')[0]}" for name in SAMPLES} <= {b.key for b in page.button}


def test_a_sample_photo_goes_through_the_whole_page(page):
    page.button(key="up_sample_paper_photo").click().run()
    assert not page.exception and not page.error
    specs = _specs(page)
    assert len(specs) == 4  # the step strip, the reconstructions, the latent map, the error histogram
    steps, recs, latent = specs[0], specs[1], specs[2]
    for caption in ("inverted", "paper removed", "centred by mass"):
        assert caption in _titles(steps)
    assert [t["type"] for t in recs["data"]] == ["heatmap"] * 3  # input, AE, VAE
    assert _titles(recs).count("error 0.") == 2
    verdicts = [m.value for m in page.markdown if "more unusual than" in m.value]
    assert len(verdicts) == 2 and all(re.search(r"more unusual than \*\*\d+ %\*\* of MNIST test digits", v) for v in verdicts)
    # Ten digits, then the upload's ★: WebGL too, and last, so it is drawn above the points.
    assert [t["type"] for t in latent["data"]] == ["scattergl"] * 11
    assert latent["data"][-1]["text"] == ["★"] and latent["data"][-1]["name"] == "★ sample paper_photo.jpg"
    assert page.session_state["user_digit"]["source"] == "upload sample paper_photo.jpg"


def test_all_samples_including_a_damaged_file(page):
    page.button(key="up_sample_all").click().run()
    assert not page.exception
    # The damaged file gets its own message; every other sample is still processed.
    assert [e.value for e in page.error] == [
        "sample damaged.png could not be decoded: the file is damaged or truncated (image file is truncated)"
    ]
    good = len(SAMPLES) - 1
    digits = good - 1 + len(SHEET_DIGITS)  # one digit per sample, ten on the sheet
    specs = _specs(page)
    assert len(specs) == good + digits + 2  # each file's steps, each digit's reconstructions, map, histogram
    # One numbered mark per digit on the map and the histogram, each named once in the legend.
    stars = [t for t in specs[-2]["data"] if t["name"].startswith("★")]
    assert [t["text"] for t in stars] == [[f"★{i}"] for i in range(1, digits + 1)]
    assert [a["text"] for a in specs[-1]["layout"]["annotations"]] == [f"★{i}" for i in range(1, digits + 1)]
    assert sum("more unusual than" in m.value for m in page.markdown) == 2 * digits
    notes = " ".join(c.value for c in page.caption)
    for note in ("first frame", "16-bit", "turned upright", "inverted"):
        assert note in notes

    page.button(key="up_clear").click().run()
    assert not page.exception
    assert any("Upload one or more images" in i.value for i in page.info)


def test_a_sheet_gives_one_numbered_row_per_digit_with_its_knn_label(page):
    page.button(key="up_sample_digit_sheet").click().run()
    assert not page.exception and not page.error
    assert [m.value for m in page.markdown if m.value.startswith("##### Digit")] == [f"##### Digit {j}" for j in range(1, 11)]
    assert any("10 digits found, numbered in reading order" in c.value for c in page.caption)
    verdicts = [m.value for m in page.markdown if "more unusual than" in m.value]
    assert len(verdicts) == 2 * 10  # the AE and the VAE for each digit
    labels = [int(re.search(r"labelled \*\*(\d)\*\* \((\d) of 5\)", v)[1]) for v in verdicts[::2]]  # the AE's k-NN label
    assert labels == list(range(10))  # the sheet shows 0–9 in reading order
    assert len(page.image) >= 2 * 10  # each digit's crop and its nearest test digits


def test_the_camera_takes_the_upload_path(page):
    """AppTest drives st.camera_input (Streamlit ≥ 1.67): a photo goes through the same decoding and pipeline."""
    page.toggle(key="up_camera_on").set_value(True).run()
    photo = (SAMPLES_DIR / "paper_photo.jpg").read_bytes()
    page.camera_input(key="up_camera").set_value(("photo.jpg", photo, "image/jpeg")).run()
    assert not page.exception and not page.error
    assert sum("more unusual than" in m.value for m in page.markdown) == 2
    assert page.session_state["user_digit"]["source"] == "upload camera photo"
    # Not an image: the same message an upload gets.
    page.camera_input(key="up_camera").set_value(("photo.jpg", b"eggs, milk, flour", "image/jpeg")).run()
    assert not page.exception
    assert [e.value for e in page.error] == ["camera photo is not an image this app can read (it accepts PNG, JPEG, BMP, GIF, WebP or TIFF files)"]
