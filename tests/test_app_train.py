"""AppTest for the Training lab: start → progress → done → listed; and cancel."""

import time

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow


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


def test_train_to_completion_and_list():
    at = AppTest.from_file("../app.py", default_timeout=90).run()
    _custom(at, epochs=2, size=1000)
    assert any("Press" in i.value or "Start training" in i.value for i in at.info)
    at.button(key="tr_start").click().run()
    assert not at.exception
    _poll(at, lambda a: any("Done in" in s.value for s in a.success))
    assert len(at.get("plotly_chart")) >= 2  # loss curves and reconstructions
    listed = at.dataframe[0].value
    assert any(str(v).startswith("lesson z=8 n=1000") for v in listed["model"])


def test_cancel_from_the_page():
    at = AppTest.from_file("../app.py", default_timeout=90).run()
    _custom(at, epochs=30, size=30000)
    at.button(key="tr_start").click().run()
    _poll(at, lambda a: any(b.key == "tr_cancel" for b in a.button) and len(a.get("progress")) > 0)
    at.button(key="tr_cancel").click().run()
    _poll(at, lambda a: any("Cancelled" in w.value for w in a.warning), timeout=60)
