"""The Latent page's hover map: a latent map drawn in the browser that shows the decoder's drawing under
the pointer at once, with no server round trip (Streamlit components v2, inline HTML/CSS/JS from this
folder).

Python sends the decodes of a fine grid over the map once per map (`core.figures.latent_map.explorer_map`:
1600 images of 28×28 bytes); a pointer move picks the nearest grid cell and paints its pixels. A click
pins a point and comes back as the trigger value `pick`. What a click changes (the pin, a VAE's q(z|x)
as ellipses, samples; `core.figures.latent_map.explorer_overlay`) goes to a second, invisible element:
the map's element then stays byte-for-byte the same across reruns, and Streamlit sends a large element
it has already sent as a reference to it, not again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

_HERE = Path(__file__).resolve().parent


def _component(name: str, stem: str):
    """Register `stem`.html/.css/.js from this folder, inline, as component `name`."""
    return st.components.v2.component(
        name, **{kind: (_HERE / f"{stem}.{kind}").read_text(encoding="utf-8") for kind in ("html", "css", "js")}
    )


# Registered once per process, when a page first imports this module.
_mount_map = _component("latent_lab.hover_map", "map")
_mount_overlay = _component("latent_lab.hover_map_overlay", "overlay")


def hover_map(figure: dict, overlay: dict, *, key: str, on_pick: Callable[[dict | None], None]) -> None:
    """Show the map `figure` (`explorer_map`) with `overlay` (`explorer_overlay`) on it. A click calls
    `on_pick` with the point ({z1, z2, index}: index is the test digit's, or −1 for a grid point) before
    the enclosing fragment reruns, so the rerun's overlay already shows it."""
    _mount_map(key=key, data=figure | {"map_key": key}, width="stretch",
               on_pick_change=lambda: on_pick(st.session_state[key].get("pick")))
    _mount_overlay(key=f"{key}_overlay", data=overlay | {"map_key": key}, width="stretch")


__all__ = ["hover_map"]
