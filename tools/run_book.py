"""Re-execute the book in place: every chapter, top to bottom, each in a fresh kernel.

The committed notebooks, ``results/*.json`` and ``models/`` are updated together, since
each chapter writes its results and models while it runs. Usage, from the repository root:

    python tools/run_book.py                       # every chapter, in reading order
    python tools/run_book.py notebooks/05_*.ipynb  # some chapters

Prints each notebook's execution time. A chapter that fails stops the run with the cell's
error, and its notebook is left as it was.

Markdown cells are "run" too: each ``{eval}`...``` expression in the prose is evaluated in
the kernel at its place in the notebook, and the result is stored in the cell's metadata
(``user_expressions``), where the site and JupyterLab read it (see ``tools/inline_eval.py``).
An expression that fails stops the run like a failing cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from inline_eval import expressions_in  # noqa: E402  (a sibling module, found through sys.path)


class ExpressionError(RuntimeError):
    """An ``{eval}`` expression in a markdown cell failed."""


class BookClient(NotebookClient):
    """A notebook client that also evaluates and stores the prose's ``{eval}`` expressions."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        """Run a code cell as usual; for a markdown cell, evaluate and store its expressions."""
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        expressions = expressions_in(cell.source)
        cell.metadata.pop("user_expressions", None)
        if expressions:
            cell.metadata["user_expressions"] = await self._evaluate(expressions, cell_index)
        return cell

    async def _evaluate(self, expressions: list[str], cell_index: int) -> list[dict]:
        request = {str(i): e for i, e in enumerate(expressions)}
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions=request)
        reply = await self.async_wait_for_reply(msg_id)
        results = (reply or {}).get("content", {}).get("user_expressions", {})
        stored = []
        for i, expression in enumerate(expressions):
            result = results.get(str(i), {"status": "error", "ename": "NoReply", "evalue": ""})
            if result.get("status") != "ok":
                raise ExpressionError(f"markdown cell {cell_index}: {{eval}}`{expression}` failed: "
                                      f"{result.get('ename')}: {result.get('evalue')}")
            stored.append({"expression": expression, "result": result})
        return stored


def run(path: Path, timeout: int | None = None) -> float:
    """Execute ``path`` in a fresh ``python3`` kernel from its folder, write it back, return seconds."""
    nb = nbformat.read(path, as_version=4)
    client = BookClient(nb, timeout=timeout, kernel_name="python3",
                        resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    # what JupyterLab itself writes, so opening a chapter does not mark it modified
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Run the given notebooks (default: all of ``notebooks/``) and print their times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all, in order)")
    args = parser.parse_args(argv)
    os.environ.pop("CNN_BOOK_OUTPUT", None)  # write into the repository, not a temporary folder
    os.environ["CNN_BOOK_NO_PROGRESS"] = "1"  # stored outputs: one line per epoch, no live line
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    total = 0.0
    for path in paths:
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        try:
            seconds = run(path)
        except (CellExecutionError, ExpressionError) as err:
            print(f"FAILED {path.relative_to(ROOT)}:\n{err}", file=sys.stderr)
            return 1
        total += seconds
        print(f"{seconds:8.1f} s  {path.relative_to(ROOT)}", flush=True)
    print(f"{total:8.1f} s  all notebooks run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
