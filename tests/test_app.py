"""AppTest: each page runs without an exception and shows its key widgets."""

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
    app.switch_page("pages/draw.py").run()
    assert not app.exception
    assert app.title[0].value == "✏️ Draw a digit"
    assert any("Draw a digit on the canvas" in i.value for i in app.info)
    assert app.toggle(key="draw_use_example").value is False


def test_draw_page_reconstructs_a_test_digit(app):
    app.switch_page("pages/draw.py").run()
    app.number_input(key="draw_example_index").set_value(3)
    app.toggle(key="draw_use_example").set_value(True).run()
    assert not app.exception
    assert not app.error
    charts = app.get("plotly_chart")
    assert len(charts) >= 1
    fig = charts[0].proto.spec
    # Four panels: the input and three reconstructions, each titled with its error.
    assert fig.count('"type":"heatmap"') == 4
    assert fig.count("error 0.") == 3
    assert app.session_state["user_digit"]["source"].startswith("MNIST test #3")
