"""Pytest configuration shared by the unit tests and the notebooks run under nbval.

- Chapters write the models and results they produce to a temporary folder (through
  ``$CNN_BOOK_OUTPUT``, see ``helpers.paths``), so running ``pytest`` leaves the checkout
  as it was. The kernels nbval starts inherit the variable.
- The trainer's live progress line is off (``$CNN_BOOK_NO_PROGRESS``), as in the stored
  outputs.
- Hypothesis runs derandomized: the same examples on every run and every machine.
- At the end of the run, one line per notebook with its execution time, so CI shows where
  the book's time goes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CNN_BOOK_NO_PROGRESS"] = "1"  # outputs as stored: no live progress line
_OUTPUT = os.environ.get("CNN_BOOK_OUTPUT")
_TEMP_OUTPUT = None
if not _OUTPUT:
    _TEMP_OUTPUT = tempfile.mkdtemp(prefix="cnn-book-output-")
    os.environ["CNN_BOOK_OUTPUT"] = _TEMP_OUTPUT

settings.register_profile("book", derandomize=True, database=None)
settings.load_profile("book")

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    """Add each notebook cell's setup, call and teardown time to its notebook's total."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    """Print one line per notebook with its execution time, and the total."""
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times")
    for path, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {Path(path).as_posix()}")
    total = sum(_notebook_seconds.values())
    terminalreporter.write_line(f"{total:8.1f} s  all notebooks")


def pytest_unconfigure(config):
    """Remove the temporary output folder this run created."""
    if _TEMP_OUTPUT:
        shutil.rmtree(_TEMP_OUTPUT, ignore_errors=True)
