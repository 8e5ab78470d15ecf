"""The lesson's Keras code beside the lesson model (Draw, Train, lesson mode): one panel, drawn from
`core.lab.lesson_recipe`, with the lesson's test loss next to what our run of the same recipe measured.
Not a page itself."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.lab import lesson_recipe as recipe
from views.common import model_store

LESSON_SPEC = recipe.SPEC  # the recipe the code builds and trains (the Train page's lesson preset)


def measured_test_bce() -> float | None:
    """Our run's test BCE for the lesson's recipe, from the shipped model's record (None if absent)."""
    record = model_store().record(recipe.SPEC) or {}
    return record.get("metrics", {}).get(recipe.PRINTED_METRIC)


def test_loss_metrics() -> None:
    """The lesson's printed test loss beside our measured test BCE for the same recipe."""
    ours = measured_test_bce()
    left, right = st.columns(2)
    left.metric("Lesson prints “Test loss:”", f"≈ {recipe.LESSON_TEST_LOSS:.3f}",
                help="What the lesson's last line prints when its recipe is run: mean per-pixel binary "
                     "cross-entropy on the 10 000 test digits. (The lesson's text shows the print, not the value.)")
    right.metric("Our run: test BCE", "not trained" if ours is None else f"{ours:.4f}",
                 help="Measured by `python -m core evaluate` on the shipped lesson model (assets/manifest.json).")


def _table(key: str, height: int | str = "auto") -> None:
    st.dataframe(recipe.table_rows(), hide_index=True, key=f"{key}_lesson_lines", height=height,
                 column_config={"line": st.column_config.NumberColumn(width="small"),
                                "code": None,  # the code is shown beside or above the table, numbered
                                "what it does here": st.column_config.TextColumn(width="large"),
                                "where": st.column_config.TextColumn(width="small")})


def code_panel(key: str, *, here: str = "", compact: bool = False) -> None:
    """The code with its line numbers, the table linking each line to what it does in this app, and
    links to the pages the table names (all but `here`, the page showing the panel). Side by side with
    the two test losses under the code; `compact` (lesson mode): code and table as two tabs, without the
    losses (the lesson step shows them beside the panel). `key` prefixes the element keys."""
    with st.container(key=f"{key}_lesson_code"):
        if compact:
            code_tab, table_tab = st.tabs(["The lesson's code", "What each line does here"])
            with code_tab:
                st.code(recipe.code_text(), language="python", line_numbers=True, wrap_lines=True)
            with table_tab:
                _table(key, height=420)
            return
        code, notes = st.columns([5, 6], gap="medium")
        with code:
            st.code(recipe.code_text(), language="python", line_numbers=True, wrap_lines=True)
            test_loss_metrics()
        with notes:
            _table(key)
            links = [p for p in recipe.pages() if p != here]
            for col, page in zip(st.columns(max(len(links), 1)), links, strict=False):
                try:
                    col.page_link(page, label=recipe.PAGE_TITLES[page])
                except StreamlitAPIException:  # a page run on its own, without app.py's navigation (tests)
                    col.caption(recipe.PAGE_TITLES[page])
