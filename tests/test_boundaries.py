"""The architecture's import rules, each checked in a fresh interpreter:
- the lab (core.lab) and the figures (core.figures) never import Streamlit;
- no view imports TensorFlow or Keras at module level (pages load models through the serving layer);
- rendering the Draw page, and answering a drawing there, never imports TensorFlow (a fresh server
  answers its first stroke without the seconds that importing TensorFlow takes).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorflow", "keras")


def _fresh(code: str) -> dict:
    """Run `code` in a fresh interpreter at the repository root; it prints a JSON object last."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _modules(package: str) -> list[str]:
    return sorted(f"{package}.{p.stem}" for p in (ROOT / package.replace(".", "/")).glob("*.py") if p.stem != "__init__")


def test_the_lab_and_the_figures_import_no_streamlit():
    modules = _modules("core.lab") + _modules("core.figures")
    found = _fresh(
        "import importlib, json, sys\n"
        f"modules = {modules!r}\n"
        "bad = {}\n"
        "for m in modules:\n"
        "    importlib.import_module(m)\n"
        "    if 'streamlit' in sys.modules:\n"
        "        bad[m] = True\n"
        "        break\n"
        "print(json.dumps(bad))\n"
    )
    assert found == {}, f"{next(iter(found))} imports streamlit"


def _top_level_imports(path: Path) -> set[str]:
    """Modules a script imports at its top level (not inside functions: those run only when needed)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_views_import_no_tensorflow_at_module_level():
    pages = sorted((ROOT / "views").rglob("*.py"))
    imported = sorted(set().union(*(_top_level_imports(p) for p in pages)) - {"__future__"})
    assert not [m for m in imported if m.split(".")[0] in HEAVY]
    found = _fresh(
        "import importlib, json, sys\n"
        f"for m in {imported!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps(sorted(k for k in {HEAVY!r} if k in sys.modules)))\n"
    )
    assert found == [], f"a module the views import at top level pulls in {found}"


@pytest.mark.slow
def test_the_draw_page_answers_a_drawing_without_tensorflow():
    found = _fresh(
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('views/draw.py', default_timeout=60)\n"
        "at.run()\n"
        "at.toggle(key='draw_use_example').set_value(True).run()\n"
        "strips = [e for e in at.get('bidi_component') if e.key == 'draw_reconstructions']\n"
        "panels = json.loads(strips[0].proto.json)['panels'] if strips else []\n"
        "print(json.dumps({'exception': [str(e.value) for e in at.exception], 'panels': len(panels),\n"
        f"                  'heavy': sorted(k for k in {HEAVY!r} if k in sys.modules)}}))\n"
    )
    assert found["exception"] == []
    assert found["panels"] == 4  # the input and three reconstructions
    assert found["heavy"] == [], "the Draw page imported TensorFlow"
