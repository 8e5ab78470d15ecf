"""core.serving.runtime bends Streamlit and the garbage collector; each test here fails when the thing
a bend relies on changes (a Streamlit upgrade), so the bend is revisited instead of silently lost."""

from __future__ import annotations

import gc
import inspect
import tomllib
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner import script_runner

from core.serving import runtime

ROOT = Path(__file__).resolve().parent.parent


def test_streamlit_still_clears_keras_after_every_run_through_the_bent_function():
    bent = getattr(script_runner, runtime.BENT_FUNCTION, None)
    assert callable(bent), f"Streamlit no longer has script_runner.{runtime.BENT_FUNCTION}: revisit runtime.keep_keras_state"
    if bent is not runtime.close_pyplot_figures:  # not yet replaced in this process: read Streamlit's own
        source = inspect.getsource(bent)
        assert "clear_session" in source, "Streamlit stopped clearing Keras: runtime.keep_keras_state can go"
    # The runner looks the function up by its module-global name at call time, so replacing the
    # module attribute is what changes the behaviour.
    runner_source = inspect.getsource(script_runner.ScriptRunner)
    assert f"_log_if_error({runtime.BENT_FUNCTION})" in runner_source


def test_keep_keras_state_stops_the_post_run_clear_session(monkeypatch):
    keras = pytest.importorskip("keras")
    monkeypatch.setattr(script_runner, runtime.BENT_FUNCTION, getattr(script_runner, runtime.BENT_FUNCTION))
    assert runtime.keep_keras_state()
    before = keras.backend.get_uid("latent_lab_probe")
    getattr(script_runner, runtime.BENT_FUNCTION)()  # what the runner calls after a script run
    assert keras.backend.get_uid("latent_lab_probe") == before + 1  # clear_session would restart the count at 1


def test_keep_keras_state_reports_a_renamed_function(monkeypatch, caplog):
    monkeypatch.delattr(script_runner, runtime.BENT_FUNCTION)
    assert runtime.keep_keras_state() is False
    assert runtime.BENT_FUNCTION in caplog.text


def test_post_script_gc_option_exists_and_is_off():
    from streamlit import config

    config.get_option("runner.postScriptGC")  # raises if Streamlit renamed the option
    assert "runner.postScriptGC" in inspect.getsource(script_runner.ScriptRunner)
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["postScriptGC"] is False


def test_freeze_long_lived_moves_live_objects_out_of_the_collector():
    before = gc.get_freeze_count()
    keep = [object() for _ in range(100)]
    runtime.freeze_long_lived()
    assert gc.get_freeze_count() >= before + len(keep)
