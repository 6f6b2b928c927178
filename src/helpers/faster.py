"""Chapter 6's bookkeeping: choosing a recipe on validation data, and telling effects from noise.

Two jobs, both small and both used by the chapter and by ``benchmarks/``:

- :func:`pick` applies the selection rule to recipes trained with several seeds and scored
  on the validation split (never on the test set): among the candidates whose mean
  validation accuracy reaches the target, the one with the least mean training time; if
  none reaches it, the most accurate. ``benchmarks/select_fast_recipe.py`` writes every
  candidate to a log (:func:`load_selection`), and the chapter re-applies the rule to it.
- :func:`compare` says whether a knob changed a measurement by more than the run-to-run
  spread: each side is measured several times (interleaved, so a busy spell on the shared
  machine hits both), and the effect counts only if every run of one side beat every run
  of the other.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where ``benchmarks/select_fast_recipe.py`` writes its log, under ``results/logs/``.
SELECTION_LOG = "fast_recipe_selection.json"


@dataclass(frozen=True)
class Candidate:
    """One recipe trained with several seeds: its validation accuracies and training seconds."""

    name: str
    stage: str
    recipe: dict[str, Any]
    val_accuracy: tuple[float, ...]
    seconds: tuple[float, ...]

    @property
    def mean_val(self) -> float:
        """Mean final validation accuracy over the seeds."""
        return statistics.mean(self.val_accuracy)

    @property
    def mean_seconds(self) -> float:
        """Mean training seconds over the seeds."""
        return statistics.mean(self.seconds)


def candidate_from_log(entry: dict[str, Any]) -> Candidate:
    """Build a :class:`Candidate` from one entry of the selection log (see :func:`load_selection`)."""
    missing = [k for k in ("name", "stage", "recipe", "runs") if k not in entry]
    if missing:
        raise ValueError(f"entry must have name, stage, recipe and runs, got one without {missing}")
    runs = entry["runs"]
    if not runs:
        raise ValueError(f"entry {entry['name']!r} must hold at least one run, got none")
    return Candidate(entry["name"], entry["stage"], dict(entry["recipe"]),
                     tuple(float(r["val_accuracy"]) for r in runs),
                     tuple(float(r["seconds"]) for r in runs))


def pick(candidates: Sequence[Candidate], target: float, by: str = "time") -> Candidate:
    """Apply the selection rule; return the chosen candidate.

    ``by="time"``: among the candidates whose mean validation accuracy is at least
    ``target``, the one with the least mean training seconds; if none reaches the target,
    the one with the highest mean validation accuracy. ``by="accuracy"``: the highest mean
    validation accuracy (for candidates that cost the same time by construction, such as
    learning rates at a fixed number of epochs).
    """
    if not candidates:
        raise ValueError("candidates must hold at least one Candidate, got none")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be an accuracy in (0, 1], got {target!r}")
    if by not in ("time", "accuracy"):
        raise ValueError(f"by must be 'time' or 'accuracy', got {by!r}")
    reaching = [c for c in candidates if c.mean_val >= target]
    if by == "time" and reaching:
        return min(reaching, key=lambda c: c.mean_seconds)
    return max(candidates, key=lambda c: c.mean_val)


def load_selection(path: str | Path) -> dict[str, Any]:
    """Read a selection log: ``{"target", "seeds", "environment", "candidates": [...], "stages": {...}}``.

    Each candidate is ``{"name", "stage", "recipe": {field: value}, "runs": [{"seed",
    "seconds", "val_accuracy", "curve": [[seconds, val_accuracy], ...]}]}``; ``stages``
    maps each stage to the name of the candidate it chose. FileNotFoundError names the
    script that writes the log.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path.name} not found: run `python benchmarks/select_fast_recipe.py`")
    log = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in ("target", "seeds", "candidates", "stages") if k not in log]
    if missing:
        raise ValueError(f"{path.name} must have target, seeds, candidates and stages; lacks {missing}")
    return log


@dataclass(frozen=True)
class Comparison:
    """Two sets of repeated measurements of a rate (higher is better), compared."""

    ratio: float
    spread: float
    verdict: str

    def __str__(self) -> str:
        """E.g. ``1.58x (spread 6%): faster``."""
        return f"{self.ratio:.2f}x (spread {self.spread:.0%}): {self.verdict}"


def compare(new: Sequence[float], base: Sequence[float]) -> Comparison:
    """Compare repeated rates ``new`` against ``base`` (e.g. images per second, higher is better).

    ``ratio``: median of ``new`` / median of ``base``. ``spread``: the larger of the two
    sides' (max - min) / median, the run-to-run noise. ``verdict``: ``"faster"`` if every
    run of ``new`` beat every run of ``base``, ``"slower"`` if every run lost, otherwise
    ``"no measurable difference"``. With three runs a side, chance alone orders them
    completely one way 1 time in 20.
    """
    new, base = [float(v) for v in new], [float(v) for v in base]
    for name, values in (("new", new), ("base", base)):
        if len(values) < 2 or min(values) <= 0:
            raise ValueError(f"{name} must hold at least two positive measurements, got {values}")
    med_new, med_base = statistics.median(new), statistics.median(base)
    spread = max((max(v) - min(v)) / statistics.median(v) for v in (new, base))
    if min(new) > max(base):
        verdict = "faster"
    elif max(new) < min(base):
        verdict = "slower"
    else:
        verdict = "no measurable difference"
    return Comparison(med_new / med_base, spread, verdict)
