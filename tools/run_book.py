"""Re-execute the book in place: every chapter, top to bottom, each in a fresh kernel.

The committed notebooks, ``results/*.json`` and ``models/`` are updated together, since
each chapter writes its results and models while it runs. Usage, from the repository root:

    python tools/run_book.py                       # every chapter, in reading order
    python tools/run_book.py notebooks/05_*.ipynb  # some chapters

Prints each notebook's execution time. A chapter that fails stops the run with the cell's
error, and its notebook is left as it was.
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


def run(path: Path, timeout: int | None = None) -> float:
    """Execute ``path`` in a fresh ``python3`` kernel from its folder, write it back, return seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Run the given notebooks (default: all of ``notebooks/``) and print their times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all, in order)")
    args = parser.parse_args(argv)
    os.environ.pop("CNN_BOOK_OUTPUT", None)  # write into the repository, not a temporary folder
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    total = 0.0
    for path in paths:
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        try:
            seconds = run(path)
        except CellExecutionError as err:
            print(f"FAILED {path.relative_to(ROOT)}:\n{err}", file=sys.stderr)
            return 1
        total += seconds
        print(f"{seconds:8.1f} s  {path.relative_to(ROOT)}", flush=True)
    print(f"{total:8.1f} s  all notebooks run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
