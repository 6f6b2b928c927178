"""helpers.paths: committed training logs are found from anywhere; a missing one says how to make it."""

import pytest

from helpers.paths import ROOT_ENV, shipped_log


def test_shipped_log_reads_a_committed_log():
    log = shipped_log("accurate")
    assert log["name"] == "accurate" and log["history"]["val_accuracy"]


def test_shipped_log_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"results/logs/nothing\.json not found"):
        shipped_log("nothing")
