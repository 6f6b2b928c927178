import time

import numpy as np
import pytest

from helpers.metrics import confusion_matrix, most_confused
from helpers.timing import Stopwatch, format_seconds, measure


def test_measure_counts_calls_and_times_only_the_repeats(monkeypatch):
    # a fake clock that advances 1, 2, 3 ... seconds per timed call; warm-up calls are untimed
    now = [0.0]
    calls = []

    def fn():
        calls.append(1)
        now[0] += len(calls)

    monkeypatch.setattr("helpers.timing.time.perf_counter", lambda: now[0])
    t = measure(fn, repeat=5, warmup=2)
    assert len(calls) == 7
    assert t.times == (3.0, 4.0, 5.0, 6.0, 7.0)
    assert (t.median, t.best) == (5.0, 3.0) and t.spread == pytest.approx(4 / 5)
    assert str(t) == "5.00 s (median of 5, spread 80%)"


def test_measure_sees_real_time():
    t = measure(lambda: time.sleep(0.01), repeat=3, warmup=0)
    assert t.best >= 0.009


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


