"""docs/equations.md covers every cell and names functions of rnnlab.nn.cells that exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from rnnlab.nn import cells

DOC = Path(__file__).resolve().parents[2] / "docs" / "equations.md"
REFERENCE = re.compile(r"`cells\.(\w+)`")


def test_every_cell_has_a_section_naming_its_step_function():
    text = DOC.read_text(encoding="utf-8")
    for name, spec in cells.CELLS.items():
        assert re.search(rf"^## .*`{re.escape(name)}`", text, re.MULTILINE), name
        assert f"`cells.{spec.step.__name__}`" in text, spec.step.__name__


def test_every_named_function_exists_in_cells():
    names = set(REFERENCE.findall(DOC.read_text(encoding="utf-8")))
    assert len(names) >= len(cells.CELLS)
    missing = sorted(n for n in names if not inspect.isfunction(getattr(cells, n, None)))
    assert not missing, f"docs/equations.md names functions cells.py lacks: {missing}"
