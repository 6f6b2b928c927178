"""Where the repository keeps its data, trained models and results.

The package lives in ``src/helpers`` of the book's repository, so every location is found
relative to this file, never relative to the current directory: a notebook in
``notebooks/``, a test and a benchmark script all see the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that points the book at another checkout (rarely needed).
ROOT_ENV = "CNN_BOOK_ROOT"


def repo_root() -> Path:
    """Return the repository root: ``$CNN_BOOK_ROOT`` if set, else two levels above ``src/``."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Return ``<root>/data``, where ``mnist.npz`` and its README with checksums live."""
    return repo_root() / "data"


def models_dir() -> Path:
    """Return ``<root>/models`` (created if missing), where chapters save trained models."""
    path = repo_root() / "models"
    path.mkdir(exist_ok=True)
    return path


def results_dir() -> Path:
    """Return ``<root>/results`` (created if missing), where chapters write headline numbers."""
    path = repo_root() / "results"
    path.mkdir(exist_ok=True)
    return path
