"""AppTest: each page runs without an exception and shows its key widgets."""

import base64
import json

import numpy as np
import pytest

TIMEOUT = 90  # the first run imports TensorFlow and loads models


def test_home_page(app):
    assert app.title[0].value.startswith("🧬 Latent Lab")
    assert any("Draw" in m.value for m in app.markdown)


def test_home_page_loads_the_other_pages_models_in_the_background(app):
    from core.lab.zoo import WARM_UP, spec_named
    from core.serving.infer import server
    from views.common import warm_up_in_background

    thread = warm_up_in_background()  # the one the Home page started (cached once per process)
    assert thread.name == "latent-lab-warm-up"
    thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()
    assert all(server().loaded(spec_named(name)) and server().store.loaded(spec_named(name)) for name in WARM_UP)


def test_draw_page_waits_for_a_drawing(app):
    app.switch_page("views/draw.py").run()
    assert not app.exception
    assert app.title[0].value == "✏️ Draw a digit"
    assert any("Draw a digit on the canvas" in i.value for i in app.info)
    assert app.toggle(key="draw_use_example").value is False


def _strip(app, key):
    """The data an image strip (views/canvas) was given: {height, panels: [{title, note, w, h, pixels}]}."""
    strips = [e for e in app.get("bidi_component") if e.key == key]
    assert len(strips) == 1, [e.key for e in app.get("bidi_component")]
    return json.loads(strips[0].proto.json)


def _assert_reconstructions(app):
    panels = _strip(app, "draw_reconstructions")["panels"]
    # Four panels: the input and three reconstructions, each 28×28 with its error.
    assert [p["title"] for p in panels][0] == "what the model sees"
    assert [(p["w"], p["h"]) for p in panels] == [(28, 28)] * 4
    assert sum(p["note"].startswith("error 0.") for p in panels) == 3
    assert len(_strip(app, "draw_steps")["panels"]) >= 1


def test_draw_page_reconstructs_a_test_digit(app):
    app.switch_page("views/draw.py").run()
    app.number_input(key="draw_example_index").set_value(3)
    app.toggle(key="draw_use_example").set_value(True).run()
    assert not app.exception
    assert not app.error
    _assert_reconstructions(app)
    assert app.session_state["user_digit"]["source"].startswith("MNIST test #3")


def test_draw_page_shows_each_code_and_samples_from_the_vaes_posterior(app):
    app.switch_page("views/draw.py").run()
    app.number_input(key="draw_example_index").set_value(3)
    app.toggle(key="draw_use_example").set_value(True).run()
    assert not app.exception and not app.error
    assert not any("draw_codes" in c.proto.id for c in app.get("plotly_chart"))  # off by default: a class's CPU
    app.toggle(key="draw_inside").set_value(True).run()
    assert not app.exception and not app.error
    codes = json.loads(next(c for c in app.get("plotly_chart") if c.proto.id.endswith("draw_codes") or
                            "draw_codes" in c.proto.id).proto.spec)
    bars = codes["data"]
    def values(v):  # plotly writes numpy arrays as {"dtype", "bdata": base64}
        return np.frombuffer(base64.b64decode(v["bdata"]), v["dtype"]) if isinstance(v, dict) else np.asarray(v)

    assert [len(values(b["y"])) for b in bars] == [16, 64, 2]  # the three codes, number by number
    assert [a["text"] for a in codes["layout"]["annotations"]] == [
        "Lesson AE (dense, 16-D code): code", "Conv AE (64-D code): code", "VAE (2-D latent): μ ± σ"]
    assert [("error_y" in b and b["error_y"].get("visible", False)) for b in bars] == [False, False, True]
    samples = _strip(app, "draw_vae_samples")["panels"]
    assert [p["title"] for p in samples] == ["decoded μ", *[f"z ~ q(z|x) #{k}" for k in range(1, 6)]]
    app.button(key="draw_resample").click().run()  # fresh ε: new samples, the same decoded mean
    assert not app.exception
    again = _strip(app, "draw_vae_samples")["panels"]
    assert again[0] == samples[0] and again[1:] != samples[1:]
    assert app.session_state["draw_sample_seed"] == 1


def test_draw_page_shows_the_same_from_onnx_and_from_keras(app, monkeypatch):
    """Shipped models answer from ONNX Runtime; without their ONNX files (missing or stale) the serving
    layer uses the Keras models, and the page shows the same reconstructions and errors."""
    import streamlit as st

    from core.serving import infer

    def show_digit_3(server):
        monkeypatch.setattr(infer, "_server", server)
        st.cache_data.clear()  # the page's cached reconstructions, so the next run asks the models again
        app.switch_page("views/draw.py").run()
        app.number_input(key="draw_example_index").set_value(3)
        app.toggle(key="draw_use_example").set_value(True).run()
        assert not app.exception and not app.error
        return _strip(app, "draw_reconstructions")["panels"]

    onnx, keras = infer.Server(prefer_onnx=True), infer.Server(prefer_onnx=False)
    from_onnx = show_digit_3(onnx)
    from_keras = show_digit_3(keras)
    from core.lab.zoo import FAST_PATH, spec_named

    assert {onnx.served(spec_named(n)).engine for n in FAST_PATH} == {"onnx"}
    assert {keras.served(spec_named(n)).engine for n in FAST_PATH} == {"keras"}
    assert [p["note"] for p in from_keras] == [p["note"] for p in from_onnx]
    for a, b in zip(from_keras, from_onnx, strict=True):
        assert a["title"] == b["title"]
        # 8-bit pixels of the reconstructions; ONNX matches Keras within 1e-5, so at most 1 grey level apart.
        pa, pb = (np.frombuffer(base64.b64decode(p["pixels"]), np.uint8).astype(int) for p in (a, b))
        assert np.abs(pa - pb).max() <= 1


def _one_stroke(**more) -> dict:
    """What the pad (views/canvas/canvas.js) sends after one stroke: the ink's crop as grey levels."""
    ink = np.zeros((120, 40), np.uint8)
    ink[8:112, 10:30] = 255
    return {"w": 40, "h": 120, "ink": base64.b64encode(ink.tobytes()).decode(), "strokes": 1, "seq": 1, **more}


def test_draw_page_leaves_a_drawing_the_pad_answers_to_the_pad(app, monkeypatch):
    """A drawing the pad marks `browser` (it runs the shipped models itself) costs the server no model
    call: its strip names the pad's panels (`lead`) and adds none of its own. The user's digit is still
    kept for the other pages. If the server cannot serve the browser the models, it answers in full."""
    from core.lab import compare
    from core.lab.zoo import FAST_PATH
    from core.serving import browser

    monkeypatch.setattr(browser, "in_browser", lambda names: browser.InBrowser(runtime="app/static/ort/x.mjs"))
    calls, reconstruct_all = [], compare.reconstruct_all
    monkeypatch.setattr(compare, "reconstruct_all", lambda models, x: calls.append(list(models)) or reconstruct_all(models, x))
    app.session_state["draw_canvas"] = {"drawing": _one_stroke(seq=7, browser=True)}
    app.switch_page("views/draw.py").run()
    assert not app.exception and not app.error
    strip = _strip(app, "draw_reconstructions")
    assert (strip["lead"], strip["seq"], strip["panels"], strip["follow"]) == (1 + len(FAST_PATH), 7, [], True)
    assert calls == []  # no model ran on the server
    assert app.session_state["user_digit"]["source"] == "your drawing"
    assert app.session_state["user_digit"]["image"].shape == (28, 28)

    monkeypatch.setattr(browser, "in_browser", lambda names: browser.InBrowser(reason="no runtime"))
    app.session_state["draw_canvas"] = {"drawing": _one_stroke(seq=8, browser=True)}
    app.run()
    assert not app.exception and not app.error
    assert _strip(app, "draw_reconstructions")["lead"] == 0
    _assert_reconstructions(app)


def test_draw_page_reconstructs_what_the_pad_sends(app):
    app.session_state["draw_canvas"] = {"drawing": _one_stroke(browser=False)}
    app.switch_page("views/draw.py").run()
    assert not app.exception and not app.error
    _assert_reconstructions(app)
    assert app.session_state["user_digit"]["source"] == "your drawing"
    assert app.session_state["user_digit"]["image"].shape == (28, 28)

    app.session_state["draw_canvas"] = {"drawing": {"w": 40, "h": 120, "ink": "broken"}}
    app.run()
    assert not app.exception
    assert any("not valid base64" in e.value for e in app.error)


def test_denoise_page_reacts_to_noise_settings(app):
    app.switch_page("views/denoise.py").run()
    assert not app.exception and not app.error
    assert app.title[0].value == "🧽 Denoising lab"

    def panel_titles():
        spec = app.get("plotly_chart")[0].proto.spec
        # clean, noisy, the pair (one architecture trained on clean / noisy digits), the conv AE
        assert [t["type"] for t in json.loads(spec)["data"]] == ["heatmap"] * 5
        return spec

    before = panel_titles()
    assert before.count("PSNR") == 4 and before.count("SSIM") == 4
    table = app.dataframe[0].value  # what differs: the pair shares everything but its training inputs
    pair = table.iloc[:2]
    assert pair["architecture"].nunique() == 1 and list(pair["numbers in the code"]) == [1568, 1568]
    assert list(pair["trained on"]) == ["clean digits", "digits + Gaussian noise σ = 0.5"]
    assert any(r"\mathrm{PSNR}" in e.value for e in app.latex)  # the equation behind the numbers
    app.slider(key="dn_level_gaussian").set_value(0.9).run()
    assert not app.exception
    assert panel_titles() != before
    app.selectbox(key="dn_kind").set_value("mask").run()
    assert not app.exception and not app.error
    # Compare decoded text, not the JSON's escaping (plotly's writer gives "×" as "\u00d7" without orjson).
    level_chart = json.loads(app.get("plotly_chart")[1].proto.spec)
    assert "fraction of 4×4 blocks erased" in json.dumps(level_chart, ensure_ascii=False)


def test_denoise_page_uses_the_users_drawing(app):
    import numpy as np

    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 13:15] = 1.0
    app.session_state["user_digit"] = {"image": digit, "source": "your drawing"}
    app.switch_page("views/denoise.py").run()
    app.radio(key="dn_source").set_value("My drawing or upload").run()
    assert not app.exception and not app.error
    assert "your drawing" in app.get("plotly_chart")[0].proto.spec


def test_anomaly_page_opens_on_overlapping_distributions(app):
    """The default case teaches thresholds: one digit (a one-class VAE) against the other digits, whose
    scores overlap, with the mistakes at the current threshold shown as galleries with their scores."""
    app.switch_page("views/anomaly.py").run()
    assert not app.exception and not app.error
    assert app.radio(key="an_mode").value == "One digit only" and app.selectbox(key="an_digit").value == 3
    assert app.selectbox(key="an_set").value == "other_digits" and app.selectbox(key="an_score").value == "mse"
    metrics = {m.label: float(m.value) for m in app.metric}
    assert 0.8 < metrics["AUROC"] < 0.99  # overlapping: neither perfect nor chance
    assert 0 < metrics["Precision"] < 1 and 0 < metrics["Recall"] < 1  # both kinds of mistake at the default

    def galleries():
        strips = {e.key: json.loads(e.proto.json)["panels"] for e in app.get("bidi_component")
                  if e.key in ("an_false_positives", "an_false_negatives")}
        return {k: [float(p["title"]) for p in strips.get(k, [])] for k in ("an_false_positives", "an_false_negatives")}

    before = galleries()
    slider = next(s for s in app.slider if s.key.startswith("an_threshold_"))
    t = slider.value
    assert before["an_false_positives"] and all(v > t for v in before["an_false_positives"])
    assert before["an_false_negatives"] and all(v <= t for v in before["an_false_negatives"])
    assert before["an_false_positives"] == sorted(before["an_false_positives"], reverse=True)
    cells = json.loads(app.get("plotly_chart")[2].proto.spec)["data"][0]["text"]
    assert [c.removeprefix("<b>").split("</b>")[0] for row in cells for c in row] == ["TN", "FP", "FN", "TP"]
    slider.set_value(slider.min + (slider.max - slider.min) * 0.9).run()  # high: few false positives
    after = galleries()
    assert not app.exception
    assert len(after["an_false_positives"]) <= len(before["an_false_positives"])
    assert min(after["an_false_negatives"]) == min(before["an_false_negatives"])  # the lowest-scoring anomaly stays missed


def test_anomaly_page_threshold_moves_the_metrics(app):
    app.switch_page("views/anomaly.py").run()
    app.radio(key="an_mode").set_value("All digits").run()
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
    app.radio(key="an_mode").set_value("All digits").run()
    app.selectbox(key="an_model").set_value("vae_2d").run()
    app.selectbox(key="an_score").set_value("neg_elbo").run()
    assert not app.exception and not app.error
    app.radio(key="an_mode").set_value("One digit only").run()
    app.selectbox(key="an_digit").set_value(1).run()
    app.selectbox(key="an_set").set_value("other_digits").run()
    assert not app.exception and not app.error
    assert float({m.label: m.value for m in app.metric}["AUROC"]) > 0.95


def test_anomaly_page_scores_the_users_drawing(app):
    import numpy as np

    # Uniform noise: nothing like a digit, so more unusual than (nearly) every normal test image.
    noise = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    app.session_state["user_digit"] = {"image": noise, "source": "your drawing"}
    app.switch_page("views/anomaly.py").run()
    app.radio(key="an_mode").set_value("All digits").run()
    assert not app.exception and not app.error
    (note,) = [i.value for i in app.info if "scores" in i.value]
    assert note.startswith("**Your drawing** scores") and "normal test images (all digits)" in note
    assert "flagged as anomalous" in note and float(note.split("more unusual than ")[1].split(" %")[0]) > 99
    slider = next(s for s in app.slider if s.key.startswith("an_threshold_"))
    slider.set_value(slider.min).run()  # a threshold move rescores nothing, and the note stays
    assert not app.exception and [i.value for i in app.info if "scores" in i.value] == [note]


@pytest.mark.parametrize("page", ["draw", "denoise", "anomaly", "latent", "train", "upload"])
def test_every_lab_opens_with_what_am_i_seeing_and_its_equations(app, page):
    """Issue 15: each lab says, in its first expander, what the numbers on screen are, with the equation."""
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception
    seeing = [e for e in app.expander if e.label == "What am I seeing, and why?"]
    assert len(seeing) == 1, [e.label for e in app.expander]
    assert seeing[0].markdown and seeing[0].markdown[0].value.strip()
    assert seeing[0].latex and all(eq.value.strip() for eq in seeing[0].latex)
