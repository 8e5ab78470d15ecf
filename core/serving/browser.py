"""The Draw page's models in the student's browser: what the pad needs to run them with onnxruntime-web.

The pad (views/canvas) answers a stroke itself: it preprocesses the ink, runs each model's exported
encoder and decoder, and scores the reconstruction, in the page, with no server round trip. The server
still gets every drawing (the other pages use the user's digit), marked as answered by the pad, and then
runs none of these models for it: a stroke's model work is the student's browser's, not the class
server's. For that, Streamlit serves the folder `static/`
beside app.py at `app/static/` (`server.enableStaticServing`, .streamlit/config.toml), and two things
go there, neither of them committed (static/ is git-ignored):

- `static/ort/`: the runtime, onnxruntime-web's WebAssembly build as one ES module and its `.wasm`,
  copied from npm's install by `npm ci --prefix views/canvas/web` (README, "Set-up");
- `static/models/`: each model's `<key>-<hash>.encode.onnx` and `.decode.onnx`, hard-linked (copied
  across file systems) from the model store by `in_browser` the first time the page asks: the very files
  ONNX Runtime runs on the server (current ones only), so browser and server compute the same numbers.
  `<hash>` starts the sha256 of the weights they were exported from, so a retrained model gets new URLs.

(Static serving, not the component's own assets: components v2 serve an `asset_dir` only for a component
declared in an installed package's pyproject.toml manifest. Streamlit 1.67 types static files by
extension, `.mjs` as JavaScript and `.wasm` as `application/wasm`, which module scripts and WebAssembly's
streaming compile require; tests/test_browser_inference.py checks the served types. Symbolic links are
not served when they point outside static/, hence hard links.)

Whenever a piece is missing (no npm install, static serving off, a model without a current ONNX file,
a read-only app folder), `in_browser` says why, the pad says so quietly, and the server answers as before.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from core.lab.zoo import TITLES, spec_named
from core.serving.infer import served, server
from core.serving.onnx_runtime import PARTS, onnx_path

log = logging.getLogger(__name__)

APP_DIR = Path(__file__).resolve().parents[2]  # where app.py is
STATIC_DIR = APP_DIR / "static"  # served at URL_PREFIX
URL_PREFIX = "app/static"  # relative to the page's URL (which is <base>/<page>), as Streamlit documents it
RUNTIME = ("ort", "ort.wasm.bundle.min.mjs")  # the module the pad imports; its .wasm sits beside it
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")  # what the npm install copies
MODELS = "models"  # under STATIC_DIR
HASH_CHARS = 12  # of the weights' sha256, in each file name
SET_UP = "npm ci --prefix views/canvas/web"


@dataclass(frozen=True)
class InBrowser:
    """What the pad is given: the runtime's URL and, per model, its title and its two files' URLs, in
    order; or, when the browser cannot run them, `reason` (and no models)."""

    runtime: str | None = None
    models: tuple[dict, ...] = ()
    reason: str | None = None

    @property
    def on(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict:
        return {"runtime": self.runtime, "models": list(self.models), "reason": self.reason}


_made: dict[tuple[str, ...], InBrowser] = {}
_lock = threading.Lock()


def in_browser(names: tuple[str, ...]) -> InBrowser:
    """The shipped models `names` (core.lab.zoo), ready for the pad to run in the browser, or the reason
    they are not. Decided once per process (the files it links stay put while the server runs)."""
    names = tuple(names)
    found = _made.get(names)
    if found is None:
        with _lock:
            found = _made.get(names)
            if found is None:
                found = _made[names] = prepare(names, STATIC_DIR)
                if found.reason:
                    log.info("the Draw models run on the server only: %s", found.reason)
    return found


def prepare(names: tuple[str, ...], static_dir: Path) -> InBrowser:
    """`in_browser`'s work, with the static folder given (tests use a temporary one)."""
    import streamlit as st

    if not st.get_option("server.enableStaticServing"):
        return InBrowser(reason="static file serving is off (server.enableStaticServing)")
    missing = [f for f in RUNTIME_FILES if not (static_dir / RUNTIME[0] / f).is_file()]
    if missing:
        return InBrowser(reason=f"onnxruntime-web is not installed (run `{SET_UP}`)")
    models = []
    for name in names:
        spec = spec_named(name)
        if served(spec).engine != "onnx":
            return InBrowser(reason=f"{TITLES[name]} has no current ONNX export (`python -m core export`)")
        found = server().store.locate(spec)
        assert found is not None, f"{name} is served from ONNX files, so the store has them"
        directory, record = found
        urls = {}
        for part in PARTS:
            target = f"{spec.key}-{record['sha256'][:HASH_CHARS]}.{part}.onnx"
            try:
                publish(onnx_path(directory, spec.key, part), static_dir / MODELS / target)
            except OSError as e:
                return InBrowser(reason=f"cannot write {static_dir / MODELS} ({e.strerror or e})")
            urls[part] = f"{URL_PREFIX}/{MODELS}/{target}"
        models.append({"title": TITLES[name], **urls})
    return InBrowser(runtime=f"{URL_PREFIX}/{'/'.join(RUNTIME)}", models=tuple(models))


def publish(source: Path, target: Path) -> None:
    """Make `target` hold `source`'s bytes: a hard link (no second copy on disk), or a copy where links
    cannot be made; atomically, so a browser never fetches half a file. Kept if already the same file or
    the same size (names carry the weights' hash, so a same-named file holds the same export)."""
    if target.is_file() and (os.path.samefile(source, target) or target.stat().st_size == source.stat().st_size):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
