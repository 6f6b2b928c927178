import json

import numpy as np
import pytest

from helpers import paths, results
from helpers.results import Recorder, check_value, load_all_results, validate_results


@pytest.fixture
def out(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path))
    return tmp_path


def test_recorder_writes_values_with_provenance(out):
    rec = Recorder("demo", seed=3)
    assert rec("test_accuracy", np.float32(0.5)) == np.float32(0.5)
    rec("train_seconds", 12.5)
    rec("fast_recipe", {"batch_size": 128, "epochs": 1.5})
    data = json.loads((out / "results" / "demo.json").read_text())
    assert data["values"] == {"test_accuracy": 0.5, "train_seconds": 12.5,
                              "fast_recipe": {"batch_size": 128, "epochs": 1.5}}
    prov = data["provenance"]
    assert prov["seed"] == 3 and prov["cores"] >= 1 and prov["tensorflow"].startswith("2.")
    assert prov["git_commit"] != "" and len(prov["date"]) == 10
    validate_results(data)


def test_a_new_recorder_starts_the_file_afresh(out):
    Recorder("demo")("old_seconds", 1.0)
    Recorder("demo")("new_seconds", 2.0)
    assert json.loads((out / "results" / "demo.json").read_text())["values"] == {"new_seconds": 2.0}


@pytest.mark.parametrize(
    "key, value, match",
    [("test_accuracy", 1.2, "a fraction in"), ("train_seconds", -1.0, "seconds"),
     ("speedup", 0.0, "a ratio"), ("latency_ratio", -2, "a ratio"), ("params", -5, "a count"),
     ("test_errors", "many", "a count"), ("TestAcc", 0.5, "snake_case"), ("epochs", 0, "epochs"),
     ("seed_accuracy", [0.99, 1.5], "a fraction")],
)
def test_names_imply_units(key, value, match):
    with pytest.raises(ValueError, match=match):
        check_value(key, value)


@pytest.mark.parametrize("key, value", [("acc_drop_points", -0.3), ("note", "anything"),
                                        ("seed_accuracy", [0.99, 0.98]), ("fast_epochs", 1.5)])
def test_valid_names_pass(key, value):
    check_value(key, value)


def test_recorder_refuses_nan_and_objects(out):
    rec = Recorder("demo")
    with pytest.raises(ValueError, match="result 'x_seconds' must be a finite number"):
        rec("x_seconds", float("nan"))
    with pytest.raises(TypeError, match="must be a number, string, list or dict"):
        rec("thing", object())
    with pytest.raises(ValueError, match="chapter must be a short snake_case name"):
        Recorder("Bad Name")


def test_validate_results_names_what_is_missing():
    with pytest.raises(ValueError, match="lacks provenance, values"):
        validate_results({"schema": 1, "chapter": "x"}, "x.json")
    good = {"schema": 1, "chapter": "x", "values": {"a_seconds": 1.0},
            "provenance": dict.fromkeys(results._PROVENANCE_KEYS, "?") | {"cores": 2, "date": "2026-01-02"}}
    validate_results(good)
    with pytest.raises(ValueError, match="provenance lacks seed"):
        validate_results(good | {"provenance": {k: v for k, v in good["provenance"].items() if k != "seed"}})


def test_load_results_names_the_chapter_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="execute the 'nothing' chapter first"):
        results.load_results("nothing")


def test_every_committed_results_file_follows_the_schema():
    found = load_all_results()  # validates each file
    assert found, "the book ships results/*.json"
    for chapter, data in found.items():
        assert data["chapter"] == chapter
