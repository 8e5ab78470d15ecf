"""Every place the app bends Streamlit or Python's garbage collector, in one module.

Each bend names what it bends and why; tests/test_runtime.py fails when the bent thing changes
(a Streamlit upgrade that renames or rewrites it), rather than letting the app silently slow down.

1. `keep_keras_state`: Streamlit's script runner calls `keras.backend.clear_session()` after every
   script run (`script_runner._clean_problem_modules`, for scripts that rebuild their models on each
   run). This app keeps its models for the life of the process, so that clean-up only hurts: it
   throws away TensorFlow's kernel cache (every rerun's first model call rebuilds its kernels) and it
   resets Keras's global state under any model being loaded or traced in another thread. We replace
   it with the part that is still useful: closing matplotlib figures.
2. `freeze_long_lived`: models kept for the process's life hold several hundred thousand Python
   objects; every full collection would rescan them all. `gc.freeze()` moves everything alive now out
   of the collector's sight. Called by the serving layer after it loads a shipped model, and nowhere
   else, so what is frozen does not depend on which page a class opens first.
3. `runner.postScriptGC = false` in `.streamlit/config.toml`: Streamlit's full `gc.collect()` after
   every script run. Python's own generational collector still frees cyclic garbage.

The cost of each, before and after, is in docs/performance.md.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading

log = logging.getLogger(__name__)

BENT_FUNCTION = "_clean_problem_modules"  # streamlit.runtime.scriptrunner.script_runner.<this>
_install_lock = threading.Lock()
_installed = False


def close_pyplot_figures() -> None:
    """What remains of Streamlit's post-run clean-up: close matplotlib figures if pyplot is loaded."""
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_state() -> bool:
    """Bend 1. Returns False (and logs an error) if Streamlit no longer has the function it bends."""
    from streamlit.runtime.scriptrunner import script_runner

    if not callable(getattr(script_runner, BENT_FUNCTION, None)):
        log.error("streamlit.runtime.scriptrunner.script_runner.%s is gone: Keras state is cleared after every "
                  "run again (slower reruns); see core/serving/runtime.py", BENT_FUNCTION)
        return False
    setattr(script_runner, BENT_FUNCTION, close_pyplot_figures)
    return True


def freeze_long_lived() -> None:
    """Bend 2: collect what is garbage now, then freeze everything still alive (never freed after)."""
    gc.collect()
    gc.freeze()


def install() -> None:
    """Apply the bends that must be in place before any page runs a model (idempotent)."""
    global _installed
    with _install_lock:
        if not _installed:
            keep_keras_state()
            _installed = True
