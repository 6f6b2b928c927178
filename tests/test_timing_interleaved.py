import pytest

from helpers.timing import Timing, measure_interleaved


def test_measure_interleaved_alternates_and_counts_calls():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    timings = measure_interleaved(fns, rounds=3, repeat=2, warmup=1)
    assert list(timings) == ["a", "b"]
    assert all(isinstance(t, Timing) and len(t.times) == 6 for t in timings.values())
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3  # warm-up, then alternating rounds


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"rounds": 0}, "rounds"), ({"repeat": 0}, "repeat"), ({"warmup": -1}, "warmup")],
)
def test_measure_interleaved_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_interleaved({"a": lambda: None}, **kwargs)


def test_measure_interleaved_needs_callables():
    with pytest.raises(ValueError, match="at least one"):
        measure_interleaved({})
    with pytest.raises(TypeError, match=r"fns\['x'\] must be callable"):
        measure_interleaved({"x": 3})
