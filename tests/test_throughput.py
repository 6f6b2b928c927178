import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import fast_cnn
from helpers.throughput import throughput_in_subprocess, train_throughput

import_tensorflow()


def _tiny(n=64):
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def test_a_model_with_far_more_flops_trains_fewer_images_per_second():
    # fast_cnn(48) does about 100 times the multiply-adds of fast_cnn(4): no machine hides that
    x, y = _tiny()
    small = train_throughput(lambda: fast_cnn(4), x, y, batch_size=32, steps=8, repeat=3)
    large = train_throughput(lambda: fast_cnn(48), x, y, batch_size=32, steps=8, repeat=3)
    assert small > 2 * large > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [({"steps": 0}, "steps must be a positive integer"),
     ({"batch_size": 65}, r"batch_size must be an integer in \[1, 64\]")],
)
def test_train_throughput_bad_arguments(kwargs, match):
    x, y = _tiny()
    args = {"batch_size": 16, "steps": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        train_throughput(fast_cnn, x, y, **args)


def test_a_fresh_process_runs_with_the_threads_asked_for():
    one = throughput_in_subprocess(intra=1, inter=1, model="fast_cnn", batch=64, steps=16, details=True)
    assert one["intra_op_threads"] == 1 and one["inter_op_threads"] == 1
    assert one["images_per_s"] > 0
    # one thread keeps about one core busy (the input pipeline adds a little)
    assert one["cpu_per_wall"] < 1.5


def test_interleaved_rates_measure_each_model_every_round():
    from helpers.throughput import interleaved_rates

    x, y = _tiny()
    rates = interleaved_rates({"small": lambda: fast_cnn(4), "large": lambda: fast_cnn(48)}, x, y,
                              batch_size=32, steps=8, rounds=3)
    assert list(rates) == ["small", "large"] and all(len(r) == 3 for r in rates.values())
    assert min(rates["small"]) > 0 and sorted(rates["small"])[1] > 2 * sorted(rates["large"])[1]
    with pytest.raises(ValueError, match="builds must name"):
        interleaved_rates({}, x, y, batch_size=32)


def test_a_fresh_process_reports_each_timed_run():
    report = throughput_in_subprocess(model="fast_cnn", batch=32, steps=8, repeat=2, details=True)
    assert len(report["runs"]) == 2 and report["images_per_s"] == pytest.approx(
        sorted(report["runs"])[0] / 2 + sorted(report["runs"])[1] / 2, rel=1e-3)
