"""What every chapter notebook must be, checked without running it.

nbval runs the notebooks and compares their outputs; these checks cover what it does not
see: the stored prose numbers, the kernelspec, the tags, the order of execution.
"""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from inline_eval import expressions_in, lookup  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, _load(request.param)


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 6


def test_kernelspec_is_python3(notebook):
    _, nb = notebook
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


def test_executed_top_to_bottom_once(notebook):
    _, nb = notebook
    counts = [c.get("execution_count") for c in nb["cells"]
              if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1))


def test_no_error_outputs_and_no_visible_test_markers(notebook):
    _, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        assert "NBVAL_IGNORE_OUTPUT" not in source, f"cell {i}: use the nbval-ignore-output tag"
        assert "# noqa" not in source, f"cell {i}: no noqa in code a reader sees"
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"cell {i} stored an error"
            assert out.get("name") != "stderr", f"cell {i} stored stderr output"


def test_every_prose_number_is_stored(notebook):
    _, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        assert "{glue" not in source, f"markdown cell {i}: numbers in prose use {{eval}}, not glue"
        stored = {e["expression"] for e in cell.get("metadata", {}).get("user_expressions", [])}
        for expression in expressions_in(source):
            assert expression in stored, f"markdown cell {i}: {{eval}}`{expression}` has no stored value"
            lookup(nb, expression)  # stored ok, and one value per expression


def test_no_machine_paths_in_outputs(notebook):
    _, nb = notebook
    text = json.dumps([c.get("outputs", []) for c in nb["cells"]])
    assert not re.search(r"/(root|home|tmp|work)/", text)
