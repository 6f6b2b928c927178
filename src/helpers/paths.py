"""Where the repository keeps its data, trained models and results.

The package lives in ``src/helpers`` of the book's repository, so every location is found
relative to this file, never relative to the current directory: a notebook in
``notebooks/``, a test and a benchmark script all see the same folders.

Reading and writing are kept apart. A chapter *reads* what the book ships (the data, the
committed models and results) from the repository, and *writes* what it produces (a model
it trains, its headline numbers) to the output root: the repository itself by default, or
the folder named by ``$CNN_BOOK_OUTPUT``. The tests set that variable to a temporary folder,
so running ``pytest`` leaves the checkout exactly as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that points the book at another checkout (rarely needed).
ROOT_ENV = "CNN_BOOK_ROOT"
#: Environment variable naming the folder where chapters write models and results.
OUTPUT_ENV = "CNN_BOOK_OUTPUT"


def repo_root() -> Path:
    """Return the repository root: ``$CNN_BOOK_ROOT`` if set, else two levels above ``src/``."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def output_root() -> Path:
    """Return where chapters write: ``$CNN_BOOK_OUTPUT`` if set, else the repository root."""
    env = os.environ.get(OUTPUT_ENV)
    return Path(env).resolve() if env else repo_root()


def data_dir() -> Path:
    """Return ``<root>/data``, where ``mnist.npz`` and its README with checksums live."""
    return repo_root() / "data"


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Return ``<output root>/models`` (created if missing): where chapters save the models they train."""
    return _made(output_root() / "models")


def results_dir() -> Path:
    """Return ``<output root>/results`` (created if missing): where chapters write headline numbers."""
    return _made(output_root() / "results")


def shipped_models_dir() -> Path:
    """Return ``<root>/models``: the trained models committed with the book (read-only for chapters)."""
    return repo_root() / "models"


def shipped_results_dir() -> Path:
    """Return ``<root>/results``: the headline numbers committed with the book (read by the conclusion)."""
    return repo_root() / "results"


def shipped_model(name: str) -> Path:
    """Return the path of the committed model ``models/<name>``; FileNotFoundError says how to make it.

    Later chapters load the models earlier chapters or scripts ship, never what a later
    chapter writes, so every chapter runs on its own from a fresh checkout.
    """
    path = shipped_models_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"models/{name} not found: it ships with the book; restore it with "
            f"`git checkout -- models/{name}` or re-create it as models/README.md describes"
        )
    return path


def shipped_log(name: str) -> dict:
    """Return the committed training log ``results/logs/<name>.json`` as a dict.

    The scripts under ``benchmarks/`` write these logs next to the models they train
    (per-epoch history, seconds, environment, seed); chapters read them to plot and check.
    """
    import json

    path = shipped_results_dir() / "logs" / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"results/logs/{name}.json not found: the script that trains the "
                                "model writes it (see models/README.md)")
    return json.loads(path.read_text(encoding="utf-8"))
