import numpy as np
import pytest

from helpers.env import cpu_info, environment_line, seed_everything
from helpers.models import mnist_cnn


def _trained_weights(seed):
    import keras

    seed_everything(seed)
    x = np.random.rand(64, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, 64)
    model = mnist_cnn()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model.get_weights()


def test_two_seeded_runs_give_equal_weights():
    a, b = _trained_weights(3), _trained_weights(3)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_different_seeds_give_different_weights():
    a, b = _trained_weights(3), _trained_weights(4)
    assert not np.array_equal(a[0], b[0])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_everything(seed)


def test_environment_line_names_versions_and_cpu():
    line = environment_line()
    assert line.startswith("TensorFlow 2.") and "Keras 3." in line
    assert f"{cpu_info().cores} cores" in line and "GPU:" in line


def test_cpu_info():
    cpu = cpu_info()
    assert cpu.cores >= 1 and cpu.model
    assert cpu.has("no-such-flag") is False
