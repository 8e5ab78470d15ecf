"""AppTest: lesson mode (every step renders, its live element reacts, Back / Next, presenter layout), the
lesson's code panel on the pages that show the lesson model, and settings that follow the user between pages."""

from __future__ import annotations

import base64
import json

import numpy as np

TIMEOUT = 120  # the first runs import TensorFlow and load models
LESSON = "views/lesson.py"


def _lesson(app, step: int | None = None):
    app.switch_page(LESSON).run()
    if step is not None:
        app.session_state["ls_step"] = step
        app.session_state["ls_jump"] = step
        app.run()
    assert not app.exception and not app.error, [e.value for e in app.exception]
    return app


def _strip(app, key: str) -> list[dict]:
    (strip,) = [e for e in app.get("bidi_component") if e.key == key]
    return json.loads(strip.proto.json)["panels"]


def _metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def _in_popovers(app) -> list[str]:
    """The markdown inside the page's popovers."""
    found = []

    def walk(node, inside: bool) -> None:
        for child in getattr(node, "children", {}).values():
            here = inside or getattr(child, "type", None) == "popover"
            if here and getattr(child, "type", None) == "markdown":
                found.append(child.value)
            walk(child, here)

    walk(app._tree, False)
    return found


def _title(app) -> str:
    return app.markdown[0].value


def test_every_step_renders_with_a_question_an_answer_and_a_link(app):
    from views.lesson import STEPS

    _lesson(app)
    seen = []
    for i in range(len(STEPS)):
        assert not app.exception and not app.error, (i, [e.value for e in app.exception])
        assert _title(app) == f"### 🎓 {STEPS[i].title}"
        assert any(m.value.startswith("**❓ For the class:**") for m in app.markdown)
        assert _in_popovers(app) == [STEPS[i].answer]  # the answer, only behind its "💡 Answer" popover
        assert app.button(key="ls_back").disabled == (i == 0)
        assert app.button(key="ls_next").disabled == (i == len(STEPS) - 1)
        seen.append(STEPS[i].section)
        if i < len(STEPS) - 1:
            app.button(key="ls_next").click().run()
    assert seen == sorted(seen)  # the lesson's sections, in order: 5.1 … 5.4
    assert {s[:3] for s in seen} == {"5.1", "5.2", "5.3", "5.4"}


def test_back_and_next_move_one_step_and_the_step_survives_other_pages(app):
    _lesson(app)
    app.button(key="ls_next").click().run()
    app.button(key="ls_next").click().run()
    assert app.session_state["ls_step"] == 2
    app.button(key="ls_back").click().run()
    assert app.session_state["ls_step"] == 1 and app.selectbox(key="ls_jump").value == 1
    app.switch_page("views/home.py").run()
    app.switch_page(LESSON).run()
    assert app.session_state["ls_step"] == 1 and not app.exception
    app.selectbox(key="ls_jump").set_value(4).run()  # the sidebar's jump
    assert app.session_state["ls_step"] == 4


def test_step_squeeze_rebuilds_the_chosen_test_digit(app):
    _lesson(app, 0)
    before = _strip(app, "ls_squeeze_strip")
    assert [p["title"] for p in before][0] == "input" and len(before) == 4
    assert [p["note"].split(" · ")[0] for p in before[1:]] == ["code 16", "code 64", "code 2"]
    app.number_input(key="ls_squeeze_index").set_value(7).run()
    after = _strip(app, "ls_squeeze_strip")
    assert after[0]["pixels"] != before[0]["pixels"] and after[1]["note"] != before[1]["note"]


def test_step_squeeze_takes_a_camera_photo_through_the_upload_pipeline(app):
    """Issue 17: the camera in lesson mode. The photo becomes the step's input and the user's digit."""
    from core.lab.preprocess import from_file
    from core.lab.samples import SAMPLES_DIR

    _lesson(app, 0)
    app.radio(key="ls_squeeze_source").set_value("a photo from my camera").run()
    assert not app.exception and not [e for e in app.get("bidi_component") if e.key == "ls_squeeze_strip"]
    photo = (SAMPLES_DIR / "paper_photo.jpg").read_bytes()
    app.camera_input(key="ls_squeeze_camera").set_value(("photo.jpg", photo, "image/jpeg")).run()
    assert not app.exception and not app.error
    panels = _strip(app, "ls_squeeze_strip")
    assert len(panels) == 4 and panels[0]["title"] == "input"
    assert app.session_state["user_digit"]["source"] == "lesson camera photo"
    np.testing.assert_array_equal(app.session_state["user_digit"]["image"], from_file(photo, "camera photo").image)
    app.camera_input(key="ls_squeeze_camera").set_value(("photo.jpg", b"eggs, milk, flour", "image/jpeg")).run()
    assert not app.exception
    assert [e.value for e in app.error] == ["camera photo is not an image this app can read (it accepts PNG, JPEG, "
                                            "BMP, GIF, WebP or TIFF files)"]


def test_step_capacity_a_wide_code_rebuilds_a_star_a_narrow_one_does_not(app):
    _lesson(app, 1)
    errors = [float(p["note"].split("error ")[1]) for p in _strip(app, "ls_capacity_strip")[1:]]
    lesson, conv, vae = errors  # 16-, 64- and 2-number codes
    assert conv < 0.2 < lesson < vae  # what the Draw page's text says about the star
    app.radio(key="ls_capacity_shape").set_value("the letter A").run()
    assert not app.exception
    assert [float(p["note"].split("error ")[1]) for p in _strip(app, "ls_capacity_strip")[1:]] != errors


def test_step_denoise_compares_one_network_trained_two_ways(app):
    _lesson(app, 2)
    panels = _strip(app, "ls_denoise_strip")
    assert [p["title"] for p in panels][1:] == ["noisy input", "trained on clean", "trained on noisy"]
    noisy, clean_trained, noise_trained = (float(p["note"].split()[1]) for p in panels[1:])
    assert noise_trained > clean_trained > noisy  # σ = 0.5, the level the noise-trained one learnt
    app.slider(key="ls_denoise_sigma").set_value(0.9).run()
    assert [p["note"] for p in _strip(app, "ls_denoise_strip")] != [p["note"] for p in panels]


def test_step_threshold_trades_recall_for_false_positives(app):
    _lesson(app, 3)
    before = {k: float(v) for k, v in _metrics(app).items()}
    assert 0.8 < before["AUROC"] < 0.99  # overlapping histograms
    slider = app.slider(key="ls_threshold")
    slider.set_value(round(slider.value * 0.6, 3)).run()
    after = {k: float(v) for k, v in _metrics(app).items()}
    assert after["Recall"] > before["Recall"] and after["False-positive rate"] > before["False-positive rate"]
    assert after["AUROC"] == before["AUROC"]


def test_step_latent_moves_the_point_and_decodes_there(app):
    _lesson(app, 4)

    def mark():
        data = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
        return data[-1]["x"], data[-1]["y"]

    assert mark() == ([0.0], [0.0])
    app.slider(key="ls_z1").set_value(2.0).run()
    assert not app.exception and mark() == ([2.0], [0.0])
    assert any("decoded at z = (+2.0, +0.0)" in (i.caption or "") for e in app.get("image") for i in e.proto.imgs)


def test_step_vae_loss_shows_the_beta_trade_off_and_new_samples(app):
    _lesson(app, 5)
    assert any(r"\beta" in e.value and "KL" in e.value for e in app.latex)
    at_1 = {k: float(v) for k, v in _metrics(app).items()}
    app.radio(key="ls_beta").set_value(4.0).run()
    at_4 = {k: float(v) for k, v in _metrics(app).items()}
    assert at_4["KL"] < at_1["KL"] and at_4["reconstruction"] > at_1["reconstruction"]
    image = app.get("image")[0].proto.imgs[0].caption
    app.button(key="ls_resample").click().run()
    assert not app.exception and app.get("image")[0].proto.imgs[0].caption != image


def _code_panel_shown(app):
    from core.lab import lesson_recipe

    (code,) = [c for c in app.code if "autoencoder.compile" in c.value]
    assert code.value == lesson_recipe.code_text()
    assert 'loss="binary_crossentropy"' in code.value and "batch_size=256" in code.value
    table = [d for d in app.dataframe if "what it does here" in d.value.columns][0].value
    assert len(table) == len(lesson_recipe.LINES)
    ours = _metrics(app)["Our run: test BCE"]
    assert ours == "0.1231" and _metrics(app)["Lesson prints “Test loss:”"] == "≈ 0.123"


def test_step_code_shows_the_lessons_program_and_both_test_losses(app):
    _lesson(app, 6)
    _code_panel_shown(app)


def test_code_panel_on_the_draw_and_train_pages(app):
    app.switch_page("views/draw.py").run()
    assert not app.exception
    _code_panel_shown(app)
    assert any("BCE" in e.value for e in app.latex)  # what the Draw page's numbers are
    app.switch_page("views/train.py").run()
    preset = next(o for o in app.selectbox(key="tr_preset").options if o.startswith("The lesson's model"))
    app.selectbox(key="tr_preset").set_value(preset).run()
    assert not app.exception
    _code_panel_shown(app)


def test_presenter_layout_hides_the_sidebar_and_survives_other_pages(app):
    _lesson(app)
    css = [m.value for m in app.markdown if "stSidebar" in m.value]
    assert not css
    app.toggle(key="ls_presenter").set_value(True).run()
    assert any('section[data-testid="stSidebar"]' in m.value for m in app.markdown)
    app.switch_page("views/home.py").run()
    assert not any("stSidebar" in m.value for m in app.markdown)  # a lesson-mode layout only
    app.switch_page(LESSON).run()
    assert app.toggle(key="ls_presenter").value is True


def test_page_settings_survive_a_visit_to_another_page(app):
    app.switch_page("views/denoise.py").run()
    app.number_input(key="dn_seed").set_value(42).run()
    app.selectbox(key="dn_kind").set_value("mask").run()
    app.switch_page("views/anomaly.py").run()
    app.selectbox(key="an_digit").set_value(8).run()
    app.switch_page("views/home.py").run()
    app.switch_page("views/denoise.py").run()
    assert app.number_input(key="dn_seed").value == 42 and app.selectbox(key="dn_kind").value == "mask"
    app.switch_page("views/anomaly.py").run()
    assert app.selectbox(key="an_digit").value == 8 and not app.exception
    app.switch_page("views/latent.py").run()
    app.radio(key="lt_beta").set_value(4.0).run()
    app.switch_page("views/train.py").run()
    app.switch_page("views/latent.py").run()
    assert app.radio(key="lt_beta").value == 4.0 and not app.exception


def test_draw_page_shows_the_last_drawing_again_when_you_come_back(app):
    ink = np.zeros((120, 40), np.uint8)
    ink[8:112, 10:30] = 255
    drawing = {"w": 40, "h": 120, "ink": base64.b64encode(ink.tobytes()).decode(), "strokes": 1, "seq": 1}
    app.session_state["draw_canvas"] = {"drawing": drawing}
    app.switch_page("views/draw.py").run()
    first = _strip(app, "draw_reconstructions")
    app.switch_page("views/home.py").run()
    app.session_state["draw_canvas"] = {"drawing": None}  # the pad comes back empty
    del app.session_state["draw_canvas"]
    app.switch_page("views/draw.py").run()
    assert not app.exception and not app.info  # no "Draw a digit" prompt: the last drawing's results
    assert _strip(app, "draw_reconstructions") == first
    assert any("last drawing" in c.value for c in app.caption)


def test_with_several_uploads_the_user_picks_my_digit(app):
    app.switch_page("views/upload.py").run()
    app.button(key="up_sample_all").click().run()
    assert not app.exception
    choice = app.radio(key="up_my_digit")
    assert app.session_state["user_digit"]["source"] == f"upload {choice.options[-1]}"  # the newest, until chosen
    choice.set_value(choice.options[0]).run()
    assert app.session_state["user_digit"]["source"] == f"upload {choice.options[0]}"
    assert any(m.value.endswith("· ⭐ my digit") and choice.options[0] in m.value for m in app.markdown)
