import json

import numpy as np
import pytest

from helpers import results
from helpers.metrics import confusion_matrix, most_confused
from helpers.timing import Stopwatch, format_seconds, measure


def test_measure_counts_calls_and_reports_median():
    calls = []
    t = measure(lambda: calls.append(1), repeat=5, warmup=2)
    assert len(calls) == 7 and len(t.times) == 5
    assert t.best <= t.median <= max(t.times)


@pytest.mark.parametrize("kw", [{"repeat": 0}, {"warmup": -1}])
def test_measure_bad_arguments(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        measure(lambda: None, **kw)


def test_measure_needs_a_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        measure(42)


def test_stopwatch_and_format():
    with Stopwatch() as sw:
        sum(range(1000))
    assert sw.seconds > 0
    assert format_seconds(2.5e-4) == "250 µs"
    assert format_seconds(0.0123) == "12.3 ms"
    assert format_seconds(4.561) == "4.56 s"


def test_confusion_matrix_and_most_confused():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 2, 2, 0])
    cm = confusion_matrix(y_true, y_pred, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 2], [1, 0, 1]]
    assert most_confused(cm, top=2) == [(1, 2, 2), (0, 1, 1)]


def test_confusion_matrix_bad_labels():
    with pytest.raises(ValueError, match=r"y_pred must hold classes in \[0, 3\)"):
        confusion_matrix(np.array([0]), np.array([5]), num_classes=3)
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix(np.array([0, 1]), np.array([1]), num_classes=3)


def test_results_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda: tmp_path)
    name = results.save_results("demo", acc=np.float32(0.5), times=[1, 2])
    assert name == "results/demo.json"
    assert json.loads((tmp_path / "demo.json").read_text()) == {"acc": 0.5, "times": [1, 2]}
    assert results.load_results("demo")["times"] == [1, 2]


def test_results_refuse_nan_and_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match="result 'acc' must be a finite number"):
        results.save_results("demo", acc=float("nan"))
    with pytest.raises(FileNotFoundError, match="execute the 'nothing' chapter first"):
        results.load_results("nothing")
