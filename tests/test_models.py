"""Unit tests of the Keras model builders in helpers.models."""

import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import dense_stack, mnist_cnn, small_cnn

import_tensorflow()


def test_mnist_cnn_has_the_documented_size():
    assert mnist_cnn().count_params() == 121_930


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "swish"])
def test_small_cnn_outputs_logits_for_every_activation(activation):
    model = small_cnn(activation)
    assert model.count_params() == 12_810
    assert model.name == f"small_cnn_{activation}"
    logits = model(np.zeros((3, 28, 28, 1), np.float32)).numpy()
    assert logits.shape == (3, 10)
    assert model.get_layer("output").activation.__name__ == "linear"
    import keras

    requested = keras.activations.get(activation)
    assert model.get_layer("conv1").activation is requested
    assert model.get_layer("conv2").activation is requested


def test_small_cnn_filters_and_seed():
    model = small_cnn("relu", filters=(8, 4))
    assert model.get_layer("conv2").kernel.shape == (3, 3, 8, 4)
    a, b, c = small_cnn(seed=3), small_cnn(seed=3), small_cnn(seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "relux"}, "activation"),
        ({"filters": (16,)}, "filters"),
        ({"filters": (16, 0)}, "filters"),
    ],
)
def test_small_cnn_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_cnn(**kwargs)


def test_dense_stack_layers_bias_and_shapes():
    model = dense_stack(4, width=8, activation="tanh", bias=-1.5, input_dim=5, num_classes=3, seed=0)
    names = [layer.name for layer in model.layers]
    assert names == ["hidden1", "hidden2", "hidden3", "hidden4", "output"]
    assert model.get_layer("hidden1").kernel.shape == (5, 8)
    assert all(np.all(model.get_layer(f"hidden{i}").bias.numpy() == -1.5) for i in range(1, 5))
    assert np.all(model.get_layer("output").bias.numpy() == 0)
    assert model(np.zeros((2, 5), np.float32)).shape == (2, 3)


def test_dense_stack_seed_fixes_the_weights_and_initializer_is_used():
    a, b = dense_stack(3, seed=7), dense_stack(3, seed=7)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    model = dense_stack(1, width=512, kernel_initializer="he_normal", seed=0)
    wide = model.get_layer("hidden1").kernel.numpy()
    assert abs(wide.std() - np.sqrt(2 / 784)) < 0.1 * np.sqrt(2 / 784)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, "depth"),
        ({"depth": 2, "width": 2.5}, "width"),
        ({"depth": 2, "activation": "nope"}, "activation"),
    ],
)
def test_dense_stack_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dense_stack(**kwargs)
