"""AppTest for the Training lab: start → progress → done → listed; cancel; and the finished model
offered on the other pages (Anomalies, Upload, Denoise) in the same session, straight away."""

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow
PICKED = "Lesson-style dense AE (8-D code, 1,000 digits, 2 epochs)"  # the model `trained` makes, by its name for people


def _custom(at, epochs, size):
    at.switch_page("views/train.py").run()
    at.selectbox(key="tr_preset").set_value("Custom…").run()
    at.selectbox(key="tr_kind").set_value("lesson").run()
    at.slider(key="tr_epochs").set_value(epochs)
    at.select_slider(key="tr_size").set_value(size)
    at.select_slider(key="tr_latent").set_value(8).run()
    assert not at.exception


def _poll(at, until, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        at.run()
        assert not at.exception
        if until(at):
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def trained():
    """An app session that trained a small lesson model (2 epochs on 1000 digits) to completion."""
    at = AppTest.from_file("../app.py", default_timeout=90).run()
    _custom(at, epochs=2, size=1000)
    assert any("Press" in i.value or "Start training" in i.value for i in at.info)
    at.button(key="tr_start").click().run()
    assert not at.exception
    _poll(at, lambda a: any("Done in" in s.value for s in a.success), timeout=300)  # a busy machine starves the niced worker
    return at


def test_train_to_completion_and_list(trained):
    at = trained
    assert len(at.get("plotly_chart")) >= 2  # loss curves and reconstructions
    assert any(f"**{PICKED}** is saved" in s.value for s in at.success)  # its friendly name, not "lesson z=8 n=1000"
    table = at.dataframe[0]
    listed = table.value
    assert "key" not in listed.columns and not listed["model"].astype(str).str.contains("z=").any()
    row = listed.iloc[0]  # the model just trained: first, marked new, its row highlighted
    assert (row[""], row["model"], row["where"], row["epochs"], row["batch"]) == ("✨ new", PICKED, "trained here", 2, 128)
    assert (listed[""] == "✨ new").sum() == 1
    assert 0 < row["test BCE"] < 0.7  # measured after training, from the saved record
    assert "fff3c4" in str(table.proto)  # the highlight's background colour, in the table's styles


def _label(options) -> str:
    (label,) = [o for o in options if o.startswith(PICKED)]
    return label


def test_trained_model_is_offered_on_the_anomaly_page(trained):
    at = trained
    at.switch_page("views/anomaly.py").run()
    at.radio(key="an_mode").set_value("All digits").run()  # the page opens in one-class mode
    assert not at.exception and not at.error
    label = _label(at.selectbox(key="an_model").options)
    at.selectbox(key="an_model").set_value(label).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="an_score").options == ["reconstruction BCE per pixel", "reconstruction MSE per pixel"]
    shown = {m.label: float(m.value) for m in at.metric}
    assert shown["AUROC"] > 0.8  # even a 2-epoch dense AE rebuilds clothes worse than digits
    assert abs(shown["False-positive rate"] - 0.05) < 0.02  # the default threshold, from this model's scores
    # One-class mode offers only models trained on that digit alone: this one learnt all ten.
    at.radio(key="an_mode").set_value("One digit only").run()
    assert not at.exception and not at.error
    assert not any(s.key == "an_oc_model" for s in at.selectbox)


def test_trained_model_is_offered_on_the_upload_page(trained):
    at = trained
    at.switch_page("views/upload.py").run()
    label = _label(at.multiselect(key="up_extra").options)
    at.multiselect(key="up_extra").set_value([label]).run()
    at.button(key="up_sample_paper_photo").click().run()
    assert not at.exception and not at.error
    recs = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert [t["type"] for t in recs["data"]] == ["heatmap"] * 4  # input, conv AE, VAE, the trained model
    verdicts = [m.value for m in at.markdown if "more unusual than" in m.value]
    assert len(verdicts) == 3 and any(v.startswith(f"**{label}**") for v in verdicts)


def test_trained_model_is_offered_on_the_denoise_page(trained):
    at = trained
    at.switch_page("views/denoise.py").run()
    label = _label(at.multiselect(key="dn_extra").options)
    at.multiselect(key="dn_extra").set_value([label]).run()
    assert not at.exception and not at.error
    panels = json.loads(at.get("plotly_chart")[0].proto.spec)
    # clean, noisy, the denoising pair (trained on clean / on noisy digits), the conv AE, the trained model
    assert [t["type"] for t in panels["data"]] == ["heatmap"] * 6
    titles = [a["text"] for a in panels["layout"]["annotations"]]
    assert titles[-1].startswith(f"{label}<br>PSNR") and "SSIM" in titles[-1]


def test_cancel_from_the_page():
    at = AppTest.from_file("../app.py", default_timeout=90).run()
    _custom(at, epochs=20, size=30000)  # 600,000 image-passes: the default cost cap
    at.button(key="tr_start").click().run()
    _poll(at, lambda a: any(b.key == "tr_cancel" for b in a.button) and len(a.get("progress")) > 0)
    at.button(key="tr_cancel").click().run()
    _poll(at, lambda a: any("Cancelled" in w.value for w in a.warning), timeout=60)


def test_queue_position_limits_and_cancel_while_queued():
    """Two students: the second waits behind the first and sees where; one job per session; too big a run
    is refused with the numbers; a queued run is cancelled at once."""
    first, second = (AppTest.from_file("../app.py", default_timeout=90).run() for _ in range(2))
    _custom(first, epochs=20, size=30000)
    first.button(key="tr_start").click().run()
    _custom(second, epochs=19, size=30000)
    second.button(key="tr_start").click().run()
    _poll(second, lambda a: any("Waiting in the training queue: **1** of 1" in i.value for i in a.info))
    assert "starts in about" in second.info[0].value
    # One queued-or-running job per browser session.
    second.slider(key="tr_epochs").set_value(2).run()
    second.button(key="tr_start").click().run()
    assert "one queued-or-running job per browser session" in second.error[0].value
    # Too big a run, with its numbers.
    second.slider(key="tr_epochs").set_value(30).run()
    second.button(key="tr_start").click().run()
    assert "900,000 image-passes" in second.error[0].value and "LATENT_LAB_MAX_JOB_COST" in second.error[0].value
    for at in (second, first):  # cancel the queued one, then the running one
        _poll(at, lambda a: any(b.key == "tr_cancel" for b in a.button))
        at.button(key="tr_cancel").click().run()
        _poll(at, lambda a: any("Cancelled" in w.value for w in a.warning), timeout=60)


def test_home_and_the_quick_preset_say_the_same_time():
    """One measured figure, from one place (core.lab.presets.QUICK_TIME), on the preset's label and on Home."""
    from core.lab.presets import PRESETS, QUICK, QUICK_TIME

    assert next(iter(PRESETS)) == QUICK and QUICK_TIME in QUICK and "2-core" in QUICK_TIME
    at = AppTest.from_file("../app.py", default_timeout=90).run()
    assert any(QUICK_TIME in m.value for m in at.markdown)
    at.switch_page("views/train.py").run()
    assert QUICK in at.selectbox(key="tr_preset").options and "≈25 s" not in " ".join(at.selectbox(key="tr_preset").options)
