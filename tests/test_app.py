"""AppTest: each page runs without an exception and shows its key widgets."""

import json

import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 90  # the first run imports TensorFlow and loads models


@pytest.fixture
def app():
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def test_home_page(app):
    assert app.title[0].value.startswith("🧬 Latent Lab")
    assert any("Draw" in m.value for m in app.markdown)


def test_draw_page_waits_for_a_drawing(app):
    app.switch_page("views/draw.py").run()
    assert not app.exception
    assert app.title[0].value == "✏️ Draw a digit"
    assert any("Draw a digit on the canvas" in i.value for i in app.info)
    assert app.toggle(key="draw_use_example").value is False


def test_draw_page_reconstructs_a_test_digit(app):
    app.switch_page("views/draw.py").run()
    app.number_input(key="draw_example_index").set_value(3)
    app.toggle(key="draw_use_example").set_value(True).run()
    assert not app.exception
    assert not app.error
    charts = app.get("plotly_chart")
    assert len(charts) >= 1
    fig = json.loads(charts[0].proto.spec)
    # Four panels: the input and three reconstructions, each titled with its error.
    assert [t["type"] for t in fig["data"]] == ["heatmap"] * 4
    assert sum("error 0." in a["text"] for a in fig["layout"]["annotations"]) == 3
    assert app.session_state["user_digit"]["source"].startswith("MNIST test #3")


def test_denoise_page_reacts_to_noise_settings(app):
    app.switch_page("views/denoise.py").run()
    assert not app.exception and not app.error
    assert app.title[0].value == "🧽 Denoising lab"

    def panel_titles():
        spec = app.get("plotly_chart")[0].proto.spec
        assert [t["type"] for t in json.loads(spec)["data"]] == ["heatmap"] * 4  # clean, noisy, plain, denoising
        return spec

    before = panel_titles()
    assert before.count("PSNR") == 3 and before.count("SSIM") == 3
    app.slider(key="dn_level_gaussian").set_value(0.9).run()
    assert not app.exception
    assert panel_titles() != before
    app.selectbox(key="dn_kind").set_value("mask").run()
    assert not app.exception and not app.error
    assert "fraction of 4×4 blocks erased" in app.get("plotly_chart")[1].proto.spec


def test_denoise_page_uses_the_users_drawing(app):
    import numpy as np

    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 13:15] = 1.0
    app.session_state["user_digit"] = {"image": digit, "source": "your drawing"}
    app.switch_page("views/denoise.py").run()
    app.radio(key="dn_source").set_value("My drawing or upload").run()
    assert not app.exception and not app.error
    assert "your drawing" in app.get("plotly_chart")[0].proto.spec


def test_anomaly_page_threshold_moves_the_metrics(app):
    app.switch_page("views/anomaly.py").run()
    assert not app.exception and not app.error
    assert app.title[0].value == "🚨 Anomaly lab"
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {"Precision", "Recall", "F1", "False-positive rate", "AUROC"}
    assert float(metrics["AUROC"]) > 0.99  # conv AE, MNIST vs Fashion-MNIST
    # Default threshold = 95th percentile of normal validation scores → about 5 % false positives.
    assert abs(float(metrics["False-positive rate"]) - 0.05) < 0.02
    slider = next(s for s in app.slider if s.key.startswith("an_threshold_"))
    slider.set_value(slider.min + (slider.max - slider.min) * 0.02).run()
    after = {m.label: m.value for m in app.metric}
    assert float(after["False-positive rate"]) > 0.5 and float(after["Recall"]) == 1.0
    assert after["AUROC"] == metrics["AUROC"]  # the ROC does not depend on the threshold


def test_anomaly_page_one_class_and_elbo(app):
    app.switch_page("views/anomaly.py").run()
    app.selectbox(key="an_model").set_value("vae_2d").run()
    app.selectbox(key="an_score").set_value("neg_elbo").run()
    assert not app.exception and not app.error
    app.radio(key="an_mode").set_value("One digit only").run()
    app.selectbox(key="an_digit").set_value(1).run()
    app.selectbox(key="an_set").set_value("other_digits").run()
    assert not app.exception and not app.error
    assert float({m.label: m.value for m in app.metric}["AUROC"]) > 0.95
