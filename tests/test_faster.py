"""Unit tests of helpers.faster: the selection rule, the selection log, effect against spread."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.faster import Candidate, candidate_from_log, compare, load_selection, pick

ROOT = Path(__file__).resolve().parents[1]


def _cand(name, vals, secs):
    return Candidate(name, "stage", {}, tuple(vals), tuple(secs))


SLOW_GOOD = _cand("slow, reaches", [0.991, 0.992], [9.0, 11.0])
FAST_GOOD = _cand("fast, reaches", [0.990, 0.9905], [4.0, 4.2])
FASTEST_BAD = _cand("fastest, short", [0.985, 0.989], [2.0, 2.0])


def test_pick_takes_the_fastest_candidate_that_reaches_the_target():
    assert pick([SLOW_GOOD, FAST_GOOD, FASTEST_BAD], 0.990) is FAST_GOOD
    assert pick([SLOW_GOOD, FAST_GOOD, FASTEST_BAD], 0.991) is SLOW_GOOD


def test_pick_takes_the_most_accurate_when_none_reaches_the_target():
    assert pick([FAST_GOOD, FASTEST_BAD], 0.999) is FAST_GOOD


def test_pick_by_accuracy_ignores_time():
    assert pick([SLOW_GOOD, FAST_GOOD, FASTEST_BAD], 0.990, by="accuracy") is SLOW_GOOD


@pytest.mark.parametrize(
    "args, match",
    [(([], 0.99), "candidates must hold"), (([FAST_GOOD], 0.0), "target must be"),
     (([FAST_GOOD], 0.99, "speed"), "by must be")],
)
def test_pick_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        pick(*args)


def test_candidate_from_log_reads_every_run():
    entry = {"name": "a", "stage": "s", "recipe": {"batch_size": 128},
             "runs": [{"seed": 0, "seconds": 3.0, "val_accuracy": 0.99},
                      {"seed": 1, "seconds": 5.0, "val_accuracy": 0.98}]}
    c = candidate_from_log(entry)
    assert c.val_accuracy == (0.99, 0.98) and c.mean_seconds == 4.0
    assert c.mean_val == pytest.approx(0.985)
    with pytest.raises(ValueError, match="at least one run"):
        candidate_from_log(entry | {"runs": []})
    with pytest.raises(ValueError, match="without \\['runs'\\]"):
        candidate_from_log({k: v for k, v in entry.items() if k != "runs"})


def test_load_selection_names_the_script_and_the_missing_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match="select_fast_recipe.py"):
        load_selection(tmp_path / "absent.json")
    path = tmp_path / "log.json"
    path.write_text(json.dumps({"target": 0.99, "seeds": [0]}))
    with pytest.raises(ValueError, match="candidates"):
        load_selection(path)


def test_compare_counts_an_effect_only_outside_the_spread():
    faster = compare([12.0, 12.5, 13.0], [7.5, 8.0, 8.2])
    assert faster.verdict == "faster" and faster.ratio == pytest.approx(12.5 / 8.0)
    assert compare([7.5, 8.0, 8.2], [12.0, 12.5, 13.0]).verdict == "slower"
    overlap = compare([10.0, 11.0, 12.5], [10.5, 11.5, 12.0])
    assert overlap.verdict == "no measurable difference"
    assert overlap.spread == pytest.approx(2.5 / 11.0)
    assert "spread" in str(overlap)


@pytest.mark.parametrize("new, base", [([1.0], [1.0, 2.0]), ([1.0, 2.0], [0.0, 1.0])])
def test_compare_needs_two_positive_runs_a_side(new, base):
    with pytest.raises(ValueError, match="at least two positive"):
        compare(new, base)


def test_the_selection_script_runs_quick_and_logs_every_run(tmp_path):
    env = dict(os.environ, CNN_BOOK_OUTPUT=str(tmp_path))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "select_fast_recipe.py"), "--quick"],
                         capture_output=True, text=True, env=env, timeout=900, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("selected=") and "candidates=2 runs=2" in last
    log = load_selection(tmp_path / "results" / "logs" / "fast_recipe_selection_quick.json")
    cands = [candidate_from_log(c) for c in log["candidates"]]
    assert log["stages"]["final"] == pick(cands, log["target"]).name
    assert all(0.0 <= c.mean_val <= 1.0 and c.mean_seconds > 0 for c in cands)
