"""core.serving.browser: what the Draw pad is given to run its models in the browser, or why not.

The pad's side (the JavaScript port and onnxruntime-web in Chromium) is tests/test_browser_inference.py.
"""

from __future__ import annotations

import os
import stat

import pytest

from core.lab.zoo import FAST_PATH, TITLES, spec_named
from core.serving import browser
from core.serving.infer import server


def _runtime(static_dir):
    """Stand-ins for what `npm ci --prefix views/canvas/web` copies into static/ort/."""
    (static_dir / browser.RUNTIME[0]).mkdir(parents=True)
    for name in browser.RUNTIME_FILES:
        (static_dir / browser.RUNTIME[0] / name).write_bytes(b"stand-in")


def test_static_serving_is_on_in_the_app_config():
    import tomllib

    config = tomllib.loads((browser.APP_DIR / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True


def test_without_the_runtime_the_pad_is_told_why(tmp_path):
    got = browser.prepare(FAST_PATH, tmp_path / "static")
    assert not got.on and got.models == () and got.runtime is None
    assert browser.SET_UP in got.reason  # the command that installs it
    assert got.to_json() == {"runtime": None, "models": [], "reason": got.reason}


def test_the_models_are_the_servers_files_linked_under_urls_naming_their_weights(tmp_path):
    static = tmp_path / "static"
    _runtime(static)
    got = browser.prepare(FAST_PATH, static)
    assert got.on, got.reason
    assert got.runtime == "app/static/ort/ort.wasm.bundle.min.mjs"
    assert [m["title"] for m in got.models] == [TITLES[n] for n in FAST_PATH]
    for name, m in zip(FAST_PATH, got.models, strict=True):
        spec = spec_named(name)
        directory, record = server().store.locate(spec)
        for part in ("encode", "decode"):
            url = m[part]
            assert url == f"app/static/models/{spec.key}-{record['sha256'][:browser.HASH_CHARS]}.{part}.onnx"
            published = static / url.removeprefix("app/static/")
            source = directory / f"{spec.key}.{part}.onnx"
            assert published.read_bytes() == source.read_bytes()
    # Again: nothing to do, the same answer.
    assert browser.prepare(FAST_PATH, static) == got


def test_publish_links_or_copies_atomically_and_keeps_a_current_file(tmp_path):
    source = tmp_path / "a.onnx"
    source.write_bytes(b"model bytes")
    target = tmp_path / "static" / "models" / "a-123.onnx"
    browser.publish(source, target)
    assert target.read_bytes() == b"model bytes"
    assert os.path.samefile(source, target)  # a hard link: no second copy on disk
    browser.publish(source, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["a-123.onnx"]  # no temporary files left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_app_folder_leaves_the_server_answering(tmp_path):
    static = tmp_path / "static"
    _runtime(static)
    static.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        got = browser.prepare(FAST_PATH, static)
    finally:
        static.chmod(stat.S_IRWXU)
    assert not got.on and "cannot write" in got.reason


def test_static_serving_off_leaves_the_server_answering(tmp_path, monkeypatch):
    import streamlit as st

    _runtime(tmp_path / "static")
    real = st.get_option
    monkeypatch.setattr(st, "get_option", lambda key: False if key == "server.enableStaticServing" else real(key))
    got = browser.prepare(FAST_PATH, tmp_path / "static")
    assert not got.on and "enableStaticServing" in got.reason
