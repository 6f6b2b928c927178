r"""Numbers in prose: MyST ``{eval}`` expressions, evaluated once and stored in the notebook.

A markdown cell writes a number as an inline expression over variables the cells above
defined: ``{eval}`f"{test_accuracy:.2%}"```. When the book is executed
(``tools/run_book.py``), each expression is evaluated in the kernel at its place in the
notebook and stored in the cell's metadata under ``user_expressions``, in the format
JupyterLab's MyST extension (jupyterlab-myst) reads and writes:

    [{"expression": "f\"{test_accuracy:.2%}\"",
      "result": {"status": "ok", "data": {"text/plain": "'99.04%'"}, "metadata": {}}}]

So the same stored values show in three places: on the site (the Sphinx extension below
renders them; myst-nb's own ``{eval}`` needs a live kernel at build time), in JupyterLab with
jupyterlab-myst (without running anything), and, re-evaluated live, in JupyterLab when the
reader runs the chapter on their own machine.

Used as a Sphinx extension (``_config.yml``: ``sphinx.local_extensions``), it replaces
myst-nb's ``eval`` role by one that reads the stored result; a missing or failed result is
a build warning (an error under ``-W``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

#: A MyST inline expression: {eval}`...` (content without backticks).
EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")


def expressions_in(markdown: str) -> list[str]:
    """Return the distinct ``{eval}`` expressions of a markdown source, in order of appearance."""
    return list(dict.fromkeys(EVAL_ROLE.findall(markdown)))


def plain_text(result: dict[str, Any]) -> str:
    """Return the text a stored result shows: its ``text/plain``, string quotes removed.

    Raises ValueError for a result that failed or has no ``text/plain``.
    """
    if result.get("status") != "ok":
        raise ValueError(f"expression failed: {result.get('ename', '?')}: {result.get('evalue', '')}")
    text = result.get("data", {}).get("text/plain")
    if text is None:
        raise ValueError("expression result has no text/plain representation")
    if isinstance(text, list):
        text = "".join(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text[1:-1]
        if isinstance(value, str):
            return value
    return text


def stored_results(notebook) -> dict[str, list[dict[str, Any]]]:
    """Map each expression to the results stored for it in the notebook's markdown cells."""
    found: dict[str, list[dict[str, Any]]] = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for item in cell.get("metadata", {}).get("user_expressions", []) or []:
            found.setdefault(item.get("expression", ""), []).append(item.get("result", {}))
    return found


def lookup(notebook, expression: str) -> str:
    """Return the text stored for ``expression`` in ``notebook``; ValueError says what is wrong.

    An expression stored twice with different values is ambiguous (the same text in the prose
    would mean two numbers), and refused.
    """
    results = stored_results(notebook).get(expression)
    if not results:
        raise ValueError(f"no stored result for {{eval}}`{expression}`: re-execute the chapter with "
                         "`python tools/run_book.py`")
    texts = {plain_text(r) for r in results}
    if len(texts) > 1:
        raise ValueError(f"{{eval}}`{expression}` has different stored values {sorted(texts)}: "
                         "use a distinct expression for each value")
    return texts.pop()


def setup(app):
    """Sphinx entry point: an ``eval`` role that renders stored results."""
    from docutils import nodes
    from myst_nb.core.variables import create_warning
    from myst_nb.ext.utils import RoleBase

    class StoredEvalRole(RoleBase):
        """Render ``{eval}`expr``` from the result stored in the notebook's metadata."""

        def run(self):
            renderer = self.document.get("nb_renderer")
            notebook = renderer.renderer.nb_client.notebook if renderer is not None else None
            if notebook is None:
                return [], [create_warning("{eval} is only for notebooks", self.document,
                                           self.line, "eval")]
            try:
                text = lookup(notebook, self.text)
            except ValueError as err:
                return [], [create_warning(str(err), self.document, self.line, "eval")]
            node = nodes.inline(text, text, classes=["pasted-text", "stored-eval"])
            self.set_source_info(node)
            return [node], []

    app.setup_extension("myst_nb")
    app.add_role("eval", StoredEvalRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
