import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from inline_eval import expressions_in, lookup, plain_text  # noqa: E402
from run_book import BookClient, ExpressionError  # noqa: E402


def _ok(text):
    return {"status": "ok", "data": {"text/plain": text}, "metadata": {}}


def test_expressions_in_finds_each_expression_once_in_order():
    md = 'A {eval}`f"{acc:.2%}"` and {eval}`n` then {eval}`f"{acc:.2%}"` again, not `{eval}`.'
    assert expressions_in(md) == ['f"{acc:.2%}"', "n"]


@pytest.mark.parametrize("text, shown", [("'99.04%'", "99.04%"), ('"a \\"b\\""', 'a "b"'), ("42", "42"),
                                         ("0.5", "0.5"), (["1", "2"], "12")])
def test_plain_text_strips_string_quotes(text, shown):
    assert plain_text(_ok(text)) == shown


def test_plain_text_refuses_errors_and_missing_text():
    with pytest.raises(ValueError, match="expression failed: NameError"):
        plain_text({"status": "error", "ename": "NameError", "evalue": "x"})
    with pytest.raises(ValueError, match="no text/plain"):
        plain_text({"status": "ok", "data": {"image/png": "..."}})


def _nb(*cells):
    return {"cells": [{"cell_type": "markdown", "metadata": {"user_expressions": [
        {"expression": e, "result": _ok(t)} for e, t in cell]}} for cell in cells]}


def test_lookup_finds_the_stored_value_and_refuses_ambiguity():
    nb = _nb([("a", "1"), ("b", "'x'")], [("a", "1")])
    assert lookup(nb, "a") == "1" and lookup(nb, "b") == "x"
    with pytest.raises(ValueError, match="no stored result for"):
        lookup(nb, "c")
    with pytest.raises(ValueError, match="different stored values"):
        lookup(_nb([("a", "1")], [("a", "2")]), "a")


def test_book_client_stores_each_expression_at_its_place(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 3"),
        nbformat.v4.new_markdown_cell('x is {eval}`x`, {eval}`f"{x / 4:.1%}"` of four'),
        nbformat.v4.new_code_cell("x = 5"),
        nbformat.v4.new_markdown_cell("now {eval}`x + 0`, no role here: `x`"),
        nbformat.v4.new_markdown_cell("plain prose"),
    ])
    BookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    first, second = nb.cells[1].metadata["user_expressions"], nb.cells[3].metadata["user_expressions"]
    shown = [(e["expression"], plain_text(e["result"])) for e in first]
    assert shown == [("x", "3"), ('f"{x / 4:.1%}"', "75.0%")]
    assert [(e["expression"], plain_text(e["result"])) for e in second] == [("x + 0", "5")]
    assert "user_expressions" not in nb.cells[4].metadata


def test_book_client_stops_on_a_failing_expression(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("{eval}`undefined_name`")])
    with pytest.raises(ExpressionError, match="markdown cell 0: .*undefined_name.* failed: NameError"):
        BookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
