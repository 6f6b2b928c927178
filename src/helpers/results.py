"""The headline numbers each chapter writes to ``results/<chapter>.json``.

The conclusion chapter reads them back, so its summary is built from what the chapters
measured when they last ran, not from numbers typed into prose.
"""

from __future__ import annotations

import json
import math
from typing import Any

from helpers.paths import results_dir


def _check(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _check(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_check(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "item"):  # NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"result {key!r} must be a finite number, got {value!r}")
    if not isinstance(value, str | int | float | bool | type(None)):
        raise TypeError(f"result {key!r} must be JSON-serializable, got {type(value).__name__}")
    return value


def save_results(chapter: str, **values: Any) -> str:
    """Write ``values`` to ``results/<chapter>.json`` (sorted keys) and return the file name.

    Values must be numbers, strings, booleans, or lists/dicts of those; NumPy scalars are
    converted; NaN and infinity are refused.
    """
    if not chapter or not chapter.replace("_", "").isalnum():
        raise ValueError(f"chapter must be a short name like 'mnist', got {chapter!r}")
    data = {k: _check(v, k) for k, v in values.items()}
    path = results_dir() / f"{chapter}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return f"results/{path.name}"


def load_results(chapter: str) -> dict[str, Any]:
    """Read ``results/<chapter>.json``; FileNotFoundError names the chapter to run first."""
    path = results_dir() / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"results/{chapter}.json not found: execute the {chapter!r} chapter first"
        )
    return json.loads(path.read_text(encoding="utf-8"))
