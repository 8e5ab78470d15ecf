"""End to end in a real Chromium: upload files through the Upload page's file uploader (a good
photo, a damaged PNG and a text file named .jpg), see the good one processed and each bad one
answered with its message, and the server still serving afterwards."""

from __future__ import annotations

import re
import urllib.request

import pytest

from core.lab.samples import SAMPLES_DIR

pytestmark = pytest.mark.browser
FIRST_RUN_MS = 180_000  # the first upload loads TensorFlow and two models and scores 10 000 test digits


def test_upload_good_and_bad_files(streamlit_server, browser_page, tmp_path):  # noqa: F811
    good = tmp_path / "my_seven.jpg"
    good.write_bytes((SAMPLES_DIR / "paper_photo.jpg").read_bytes())
    damaged = tmp_path / "half.png"
    png = (SAMPLES_DIR / "white_on_black.png").read_bytes()
    damaged.write_bytes(png[: len(png) // 2])
    fake = tmp_path / "shopping.jpg"
    fake.write_text("eggs, milk, flour\n")

    page = browser_page
    page.goto(f"{streamlit_server}/upload", wait_until="domcontentloaded")
    page.get_by_text("Upload your own digits").first.wait_for(timeout=60_000)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(good), str(damaged), str(fake)])

    page.get_by_text(re.compile(r"more unusual than")).first.wait_for(timeout=FIRST_RUN_MS)
    page.get_by_text("half.png could not be decoded").wait_for(timeout=30_000)
    page.get_by_text("shopping.jpg is not an image this app can read").wait_for(timeout=30_000)
    body = page.locator("body").inner_text()
    assert body.count("more unusual than") == 2  # the good photo, under the AE and the VAE
    assert "Traceback" not in body and "Something went wrong" not in body
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.js_errors

    with urllib.request.urlopen(f"{streamlit_server}/_stcore/health", timeout=10) as response:
        assert response.read().decode().strip() == "ok"  # the server keeps serving
