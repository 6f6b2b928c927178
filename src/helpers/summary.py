"""The conclusion's tables and plots, built from the chapters' results files.

The conclusion chapter quotes nothing by hand: it reads ``results/*.json`` with
:func:`helpers.results.load_all_results` and turns them into

- the machine behind each chapter's numbers (:func:`machine_label`, :func:`machines`);
- one row per optimization, what it bought and what it cost (:class:`Row`,
  :func:`markdown_table`);
- points for the trade-off plots (:class:`Point`, :func:`value`, :func:`plot_tradeoff`).

A results file that lacks a number the conclusion needs raises ``KeyError`` naming the
chapter and the key, so a renamed key cannot silently drop a row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Results = Mapping[str, Mapping[str, Any]]


def value(results: Results, chapter: str, key: str) -> Any:
    """Return the number ``key`` that ``chapter`` recorded; KeyError names what is missing.

    >>> value({"mnist": {"values": {"test_accuracy": 0.99}}}, "mnist", "test_accuracy")
    0.99
    """
    if chapter not in results:
        raise KeyError(f"no results for chapter {chapter!r}: have {sorted(results)}")
    values = results[chapter]["values"]
    if key not in values:
        raise KeyError(f"results/{chapter}.json has no {key!r}: have {sorted(values)}")
    return values[key]


def machine_label(provenance: Mapping[str, Any]) -> str:
    """Name the machine of a results file's provenance in one short line.

    >>> machine_label({"cpu": "AMD EPYC", "cores": 2, "gpu": "none",
    ...                "tensorflow": "2.21.0"})
    'AMD EPYC, 2 cores, no GPU, TF 2.21.0'
    """
    for key in ("cpu", "cores", "gpu", "tensorflow"):
        if key not in provenance:
            raise ValueError(f"provenance must have {key!r}, got keys {sorted(provenance)}")
    gpu = "no GPU" if provenance["gpu"] in ("none", "", None) else provenance["gpu"]
    return (f"{provenance['cpu']}, {provenance['cores']} cores, {gpu}, "
            f"TF {provenance['tensorflow']}")


def machines(results: Results) -> dict[str, list[str]]:
    """Machine label → the chapters whose numbers were measured on it, in name order."""
    out: dict[str, list[str]] = {}
    for chapter in sorted(results):
        out.setdefault(machine_label(results[chapter]["provenance"]), []).append(chapter)
    return out


@dataclass(frozen=True)
class Row:
    """One optimization in the summary table: what it bought and what it cost.

    ``chapter`` names the results file the row's numbers come from; the table prints
    that file's machine beside the row.
    """

    optimization: str
    chapter: str
    bought: str
    cost: str


def markdown_table(rows: Sequence[Row], results: Results) -> str:
    """Render the summary table in Markdown, one line per row, with its machine and date."""
    if not rows:
        raise ValueError("rows must hold at least one Row, got none")
    lines = ["| optimization | bought | cost | measured on |", "| --- | --- | --- | --- |"]
    for row in rows:
        if row.chapter not in results:
            raise KeyError(f"row {row.optimization!r} needs results/{row.chapter}.json")
        prov = results[row.chapter]["provenance"]
        lines.append(f"| {row.optimization} | {row.bought} | {row.cost} | "
                     f"{machine_label(prov)} ({prov.get('date', '?')}) |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Point:
    """A model on a trade-off plot: a cost (seconds) against an accuracy (fraction)."""

    label: str
    seconds: float
    accuracy: float


def plot_tradeoff(ax, points: Sequence[Point], *, xlabel: str, title: str,
                  frontier: Sequence[Point] = ()):
    """Accuracy against a cost on a log axis, each point labelled; ``frontier`` as a line."""
    if not points:
        raise ValueError("points must hold at least one Point, got none")
    if frontier:
        ordered = sorted(frontier, key=lambda p: p.seconds)
        ax.plot([p.seconds for p in ordered], [p.accuracy * 100 for p in ordered],
                "-", color="0.75", marker=".", label="chapter 8 sweep")
    for p in points:
        ax.plot(p.seconds, p.accuracy * 100, "o")
        ax.annotate(p.label, (p.seconds, p.accuracy * 100), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    if frontier:
        ax.legend(loc="lower right", fontsize=8)
    return ax
