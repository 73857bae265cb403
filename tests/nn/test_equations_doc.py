"""docs/equations.md covers every cell and points at the lines that implement it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from rnnlab.nn import cells

DOC = Path(__file__).resolve().parents[2] / "docs" / "equations.md"
REFERENCE = re.compile(r"`(\w+)` \(cells\.py L(\d+)–(\d+)\)")


def test_every_cell_has_a_section_naming_its_step_function():
    text = DOC.read_text(encoding="utf-8")
    for name, spec in cells.CELLS.items():
        assert re.search(rf"^## .*`{re.escape(name)}`", text, re.MULTILINE), name
        assert f"`{spec.step.__name__}` (cells.py L" in text, spec.step.__name__


def test_line_references_match_the_code():
    references = REFERENCE.findall(DOC.read_text(encoding="utf-8"))
    assert len(references) >= len(cells.CELLS)
    for function, first, last in references:
        source, start = inspect.getsourcelines(getattr(cells, function))
        assert (int(first), int(last)) == (start, start + len(source) - 1), function
