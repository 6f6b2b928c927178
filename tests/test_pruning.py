"""Magnitude pruning with a Keras 3 callback, and structured pruning of whole filters."""

import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import mnist_cnn

import_tensorflow()

import keras  # noqa: E402

from helpers.pruning import (  # noqa: E402
    MagnitudePruning,
    filter_norms,
    kernel_sparsity,
    magnitude_mask,
    polynomial_sparsity,
    prune_filters,
)
from helpers.training import Recipe, train  # noqa: E402


def test_magnitude_mask_zeros_exactly_the_smallest():
    w = np.array([[0.1, -3.0], [0.02, 2.0], [-0.5, 0.0]])
    mask = magnitude_mask(w, 0.5)
    np.testing.assert_array_equal(mask, [[0, 1], [0, 1], [1, 0]])
    assert magnitude_mask(w, 0.0).all()
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\), got 1.0"):
        magnitude_mask(w, 1.0)


def test_polynomial_schedule_ramps_from_zero_to_target():
    values = [polynomial_sparsity(t, 0.9, begin=10, end=110) for t in (0, 10, 35, 60, 110, 500)]
    assert values[0] == values[1] == 0.0 and values[-2] == values[-1] == pytest.approx(0.9)
    assert all(a < b for a, b in zip(values[1:5], values[2:5], strict=False))
    assert values[2] > 0.9 / 4  # fast at first: more than a quarter of the way after a quarter


def test_callback_reaches_target_sparsity_and_model_still_learns():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (512, 28, 28, 1)).astype(np.float32)
    y = (x[:, :14].mean(axis=(1, 2, 3)) > x[:, 14:].mean(axis=(1, 2, 3))).astype(np.int64)
    model = mnist_cnn()
    cb = MagnitudePruning(0.75, end_step=10, frequency=2)
    done = train(model, x, y, Recipe("t", batch_size=32, epochs=2), callbacks=[cb])
    sparsity = kernel_sparsity(done.model)
    assert set(sparsity) == {"conv1", "conv2", "dense", "output"}
    for name, s in sparsity.items():
        assert s == pytest.approx(0.75, abs=0.01), (name, s)
    assert set(cb.masks) == set(sparsity)
    assert done.history["loss"][-1] < done.history["loss"][0]


def test_callback_refuses_unknown_layers():
    model = mnist_cnn()
    cb = MagnitudePruning(0.5, end_step=4, layers=["conv9"])
    cb.set_model(model)
    with pytest.raises(ValueError, match=r"layers must name Conv2D or Dense layers .*\['conv9'\]"):
        cb.on_train_begin()


def test_prune_filters_keeps_the_strongest_and_computes_the_same_on_them():
    keras.utils.set_random_seed(0)
    model = mnist_cnn(dropout=0.0)
    small = prune_filters(model, 0.5)
    assert [layer.filters for layer in small.layers if isinstance(layer, keras.layers.Conv2D)] == [16, 32]
    assert small.get_layer("dense").kernel.shape == (5 * 5 * 32, 64)
    kept1 = np.sort(np.argsort(-filter_norms(model.get_layer("conv1")))[:16])
    np.testing.assert_array_equal(small.get_layer("conv1").kernel.numpy(),
                                  model.get_layer("conv1").kernel.numpy()[..., kept1])
    # zeroing the dropped filters in the original gives the pruned model's outputs exactly
    kept2 = np.sort(np.argsort(-filter_norms(model.get_layer("conv2")))[:32])
    for name, kept in (("conv1", kept1), ("conv2", kept2)):
        kernel, bias = model.get_layer(name).get_weights()
        drop = np.setdiff1d(np.arange(kernel.shape[-1]), kept)
        kernel[..., drop], bias[drop] = 0.0, 0.0
        model.get_layer(name).set_weights([kernel, bias])
    x = np.random.default_rng(1).uniform(0, 1, (8, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(small(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_prune_filters_refuses_what_it_cannot_prune():
    with pytest.raises(ValueError, match=r"keep\['conv1'\] must be in \(0, 1\], got 0.0"):
        prune_filters(mnist_cnn(), {"conv1": 0.0})
    bn = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3),
                           keras.layers.BatchNormalization(name="bn"), keras.layers.Flatten(),
                           keras.layers.Dense(10)])
    with pytest.raises(ValueError, match=r"only Conv2D, pooling, Dropout, Flatten and Dense layers; "
                                         r"got \['bn'\]"):
        prune_filters(bn, 0.5)
