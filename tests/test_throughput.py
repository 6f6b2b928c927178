import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import fast_cnn
from helpers.throughput import throughput_in_subprocess, train_throughput

import_tensorflow()


def _tiny(n=64):
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def test_train_throughput_is_a_positive_rate():
    x, y = _tiny()
    assert train_throughput(fast_cnn, x, y, batch_size=16, steps=4, repeat=2) > 0


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


def test_throughput_in_a_fresh_process_with_one_thread():
    assert throughput_in_subprocess(intra=1, inter=1, model="fast_cnn", batch=32, steps=4) > 0
