"""The headline numbers each chapter records, for its prose and for the conclusion.

One call records a number: ``rec("test_accuracy", acc)`` writes it to
``results/<chapter>.json`` together with where it was measured (library versions, CPU,
cores, git commit, seed, date). The conclusion chapter is built from these files, so its
summary holds what the chapters measured when they last ran, not numbers typed into prose.

The same quantity has the same name everywhere, and the name says its unit
(``results/README.md`` documents the schema; :func:`validate_results` checks it):

- ``*accuracy``: a fraction in [0, 1];  ``*_seconds``: seconds, >= 0;
- ``*_points``: a difference in percentage points (may be negative);
- ``*speedup`` and ``*_ratio``: a ratio, > 0;
- ``*_params``, ``*_macs``, ``*_flops``, ``*_bytes``, ``*_count``, ``*_errors``, ``*epochs``,
  ``*_images``: counts, >= 0 (``epochs`` may be fractional: 1.5 passes).

Anything else is a free-form value (a number, a string, a list or a dict of those).
"""

from __future__ import annotations

import datetime
import json
import math
import platform
import re
import subprocess
from typing import Any

from helpers.paths import repo_root, results_dir, shipped_results_dir

#: Version of the file layout; bump it when the layout changes.
SCHEMA_VERSION = 1

#: Suffix rules: (regex on the key, test on each number, what the test requires).
UNIT_RULES: tuple[tuple[str, Any, str], ...] = (
    (r"accuracy$", lambda v: 0.0 <= v <= 1.0, "a fraction in [0, 1]"),
    (r"_seconds$", lambda v: v >= 0, "seconds, >= 0"),
    (r"(^|_)speedup$|_ratio$", lambda v: v > 0, "a ratio, > 0"),
    (r"_points$", lambda v: True, "percentage points"),
    (r"(^|_)(params|macs|flops|bytes|count|errors|images)$", lambda v: v >= 0, "a count, >= 0"),
    (r"(^|_)epochs$", lambda v: v > 0, "a number of epochs, > 0"),
)

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_CHAPTER = re.compile(r"^[a-z][a-z0-9_]*$")
_PROVENANCE_KEYS = ("tensorflow", "keras", "numpy", "python", "cpu", "cores", "memory_gib",
                    "cpu_flags", "gpu", "git_commit", "seed", "date")


def _plain(value: Any, key: str) -> Any:
    """Return ``value`` as plain JSON types (NumPy scalars and arrays converted); refuse NaN/inf."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # NumPy scalar or array
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"result {key!r} must be a finite number, got {value!r}")
    if not isinstance(value, str | int | float | bool | type(None)):
        raise TypeError(f"result {key!r} must be a number, string, list or dict, got {type(value).__name__}")
    return value


def _numbers(value: Any):
    """Yield every number (not bool) inside ``value``."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


def check_value(key: str, value: Any) -> None:
    """Raise ValueError unless ``key`` is snake_case and ``value`` fits the unit its name implies."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"result name must be snake_case (a-z, 0-9, _), got {key!r}")
    for pattern, ok, meaning in UNIT_RULES:
        if re.search(pattern, key):
            numbers = list(_numbers(value))
            if not numbers and value is not None:
                raise ValueError(f"result {key!r} must hold {meaning}, got {value!r}")
            bad = [v for v in numbers if not ok(v)]
            if bad:
                raise ValueError(f"result {key!r} must hold {meaning}, got {bad[0]!r}")
            return


def git_commit() -> str:
    """Return the checkout's commit (12 hex digits), or ``"unknown"`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo_root(),
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def provenance(seed: int | None) -> dict[str, Any]:
    """Describe where a number was measured: versions, CPU, cores, memory, GPU, commit, seed, date."""
    import numpy as np

    from helpers.env import cpu_info, import_tensorflow, memory_gib

    tf = import_tensorflow()
    import keras

    cpu = cpu_info()
    flags = sorted(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma") if cpu.has(f))
    gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    return {
        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "cpu": cpu.model, "cores": cpu.cores,
        "memory_gib": memory_gib(), "cpu_flags": flags, "gpu": ", ".join(gpus) or "none",
        "git_commit": git_commit(), "seed": seed,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
    }


class Recorder:
    """Record a chapter's headline numbers in ``results/<chapter>.json``.

    >>> rec = Recorder("mnist", seed=0)         # doctest: +SKIP
    >>> acc = rec("test_accuracy", 0.9904)     # doctest: +SKIP

    Creating a recorder starts ``results/<chapter>.json`` afresh (so no number from an
    earlier run survives), with the provenance of this run. Each call checks the name and
    value (see the module docstring), adds them to the file and returns the value unchanged,
    so ``acc = rec("test_accuracy", evaluate(...))`` both records the number and keeps it
    for the prose, which shows it with an inline expression (`` {eval}`f"{acc:.2%}"` ``).
    Under ``pytest`` the file goes to a temporary folder (see :mod:`helpers.paths`).
    """

    def __init__(self, chapter: str, seed: int | None = 0):
        if not isinstance(chapter, str) or not _CHAPTER.match(chapter):
            raise ValueError(f"chapter must be a short snake_case name like 'mnist', got {chapter!r}")
        self.chapter = chapter
        self.path = results_dir() / f"{chapter}.json"
        self.data: dict[str, Any] = {"schema": SCHEMA_VERSION, "chapter": chapter,
                                     "provenance": provenance(seed), "values": {}}
        self._write()

    def __call__(self, key: str, value: Any) -> Any:
        """Record ``value`` under ``key`` in the file and return ``value``."""
        plain = _plain(value, key)
        check_value(key, plain)
        self.data["values"][key] = plain
        self._write()
        return value

    def _write(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @property
    def values(self) -> dict[str, Any]:
        """The numbers recorded so far, by name."""
        return dict(self.data["values"])


def validate_results(data: Any, name: str = "results") -> None:
    """Raise ValueError unless ``data`` (a loaded results file) follows the schema."""
    if not isinstance(data, dict):
        raise ValueError(f"{name}: must be a JSON object, got {type(data).__name__}")
    missing = [k for k in ("schema", "chapter", "provenance", "values") if k not in data]
    if missing:
        raise ValueError(f"{name}: lacks {', '.join(missing)}")
    if data["schema"] != SCHEMA_VERSION:
        raise ValueError(f"{name}: schema must be {SCHEMA_VERSION}, got {data['schema']!r}")
    if not isinstance(data["chapter"], str) or not _CHAPTER.match(data["chapter"]):
        raise ValueError(f"{name}: chapter must be a snake_case name, got {data['chapter']!r}")
    prov = data["provenance"]
    absent = [k for k in _PROVENANCE_KEYS if not isinstance(prov, dict) or k not in prov]
    if absent:
        raise ValueError(f"{name}: provenance lacks {', '.join(absent)}")
    if not isinstance(prov["cores"], int) or prov["cores"] < 1:
        raise ValueError(f"{name}: provenance.cores must be a positive integer, got {prov['cores']!r}")
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(prov["date"])):
        raise ValueError(f"{name}: provenance.date must be YYYY-MM-DD, got {prov['date']!r}")
    values = data["values"]
    if not isinstance(values, dict) or not values:
        raise ValueError(f"{name}: values must be a non-empty object")
    for key, value in values.items():
        try:
            check_value(key, value)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None


def load_results(chapter: str) -> dict[str, Any]:
    """Read and validate the committed ``results/<chapter>.json``; FileNotFoundError names the chapter."""
    path = shipped_results_dir() / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"results/{chapter}.json not found: execute the {chapter!r} chapter first")
    data = json.loads(path.read_text(encoding="utf-8"))
    validate_results(data, f"results/{chapter}.json")
    return data


def load_all_results() -> dict[str, dict[str, Any]]:
    """Read and validate every committed ``results/*.json``, by chapter name."""
    out = {}
    for path in sorted(shipped_results_dir().glob("*.json")):
        out[path.stem] = load_results(path.stem)
    return out
