"""Unit tests of helpers.models.mnist_cnn_variant (chapter 2's downsampling knobs)."""

import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import mnist_cnn, mnist_cnn_variant

import_tensorflow()


@pytest.mark.parametrize(
    ("downsample", "head", "params", "last_map"),
    [("max_pool", "flatten", 121_930, (5, 5, 64)), ("avg_pool", "flatten", 121_930, (5, 5, 64)),
     ("max_pool", "gap", 23_626, (5, 5, 64)), ("stride", "flatten", 166_986, (6, 6, 64))],
)
def test_sizes_and_shapes(downsample, head, params, last_map):
    model = mnist_cnn_variant(downsample, head, seed=0)
    assert model.count_params() == params
    conv2_map = (6, 6, 64) if downsample == "stride" else (11, 11, 64)
    assert tuple(model.get_layer("conv2").output.shape[1:]) == conv2_map
    last = "conv2" if downsample == "stride" else "pool2"
    assert tuple(model.get_layer(last).output.shape[1:]) == last_map
    assert model(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)


def test_default_matches_the_mnist_chapter_model():
    ours, chapter5 = mnist_cnn_variant(), mnist_cnn()
    assert [layer.name for layer in ours.layers] == [layer.name for layer in chapter5.layers]
    assert ours.count_params() == chapter5.count_params()


def test_stride_has_no_pooling_layer_and_seed_fixes_weights():
    names = [layer.name for layer in mnist_cnn_variant("stride").layers]
    assert "pool1" not in names and "pool2" not in names
    a, b = mnist_cnn_variant(seed=3), mnist_cnn_variant(seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"downsample": "min_pool"}, "downsample"), ({"head": "dense"}, "head"), ({"dropout": 1.0}, "dropout")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mnist_cnn_variant(**kwargs)
