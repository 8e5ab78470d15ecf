"""Every page through AppTest, offline: run by tests/test_offline.py in a fresh interpreter whose
environment has no data (LATENT_LAB_DATA and Keras's cache empty), so no cache of this process holds
the full data. Any attempt to reach the network fails and is recorded.

    python -m tests.offline_pages      # prints one JSON object, last: {page: what it showed}, "network": [...]

Not a test module itself (no `test_` prefix): pytest does not collect it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120  # the first page run imports TensorFlow and loads models
LOOPBACK = ("127.0.0.1", "::1", "localhost")
NETWORK: list[str] = []  # addresses something tried to connect to


def _no_network() -> None:
    """Make every connection outside this machine fail, and record it."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(address) -> None:
        NETWORK.append(repr(address))
        raise OSError(f"offline test: no network (tried {address!r})")

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            refuse(address)
        return connect(self, address)

    def guarded_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            refuse(address)
        return connect_ex(self, address)

    socket.socket.connect, socket.socket.connect_ex = guarded, guarded_ex


def _shown(at: AppTest) -> dict:
    """What a page showed that the test checks: exceptions, errors, captions, infos, number-input bounds."""
    return {
        "exceptions": [e.value for e in at.exception],
        "errors": [e.value for e in at.error],
        "captions": [c.value for c in at.caption],
        "infos": [i.value for i in at.info],
        "number_input_max": {n.key: n.proto.max for n in at.number_input if n.key and n.proto.has_max},
    }


def _page(path: str | None, act=None) -> dict:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if path is not None:
        at.switch_page(path).run()
    if act is not None:
        act(at)
    return _shown(at)


def main() -> dict:
    _no_network()
    out = {
        "home": _page(None),
        "lesson": _page("views/lesson.py"),
        "draw": _page("views/draw.py", lambda at: at.toggle(key="draw_use_example").set_value(True).run()),
        "denoise": _page("views/denoise.py"),
        "anomaly": _page("views/anomaly.py"),
        "anomaly_all_digits": _page("views/anomaly.py", lambda at: at.radio(key="an_mode").set_value("All digits").run()),
        "anomaly_fashion": _page("views/anomaly.py", lambda at: at.radio(key="an_mode").set_value("All digits").run()
                                 .selectbox(key="an_set").set_value("fashion").run()),
        "latent": _page("views/latent.py"),
        "upload": _page("views/upload.py", lambda at: at.button(key="up_sample_paper_photo").click().run()),
        "train": _page("views/train.py"),
        "train_start": _page("views/train.py", lambda at: at.button(key="tr_start").click().run()),
    }
    out["network"] = NETWORK
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
