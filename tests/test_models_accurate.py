"""Unit tests of helpers.models.accurate_cnn (chapter 7's VGG-like network)."""

import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import accurate_cnn

import_tensorflow()


def conv_params(c_in, c_out, bn):
    return 9 * c_in * c_out + (2 * c_out if bn else c_out)  # BN: gamma, beta trainable (+2 stats)


def test_parameter_count_by_hand():
    model = accurate_cnn((8, 16), convs=2, batch_norm=True)
    expected = (conv_params(1, 8, True) + conv_params(8, 8, True) + conv_params(8, 16, True)
                + conv_params(16, 16, True)) + 2 * (8 + 8 + 16 + 16) + (16 * 10 + 10)
    assert model.count_params() == expected
    assert model.get_layer("conv1_1").use_bias is False
    plain = accurate_cnn((8, 16), convs=1, batch_norm=False)
    assert plain.count_params() == 9 * 8 + 8 + 9 * 8 * 16 + 16 + 16 * 10 + 10


def test_convs_per_stage():
    model = accurate_cnn((4, 8, 16), convs=(1, 2, 3))
    names = [layer.name for layer in model.layers if layer.name.startswith("conv")]
    assert names == ["conv1_1", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3"]


def test_stages_halve_the_image_and_output_logits():
    model = accurate_cnn((4, 8, 16), convs=1)
    assert tuple(model.get_layer("relu1_1").output.shape[1:]) == (28, 28, 4)
    assert tuple(model.get_layer("relu2_1").output.shape[1:]) == (14, 14, 8)
    assert tuple(model.get_layer("relu3_1").output.shape[1:]) == (7, 7, 16)
    assert "pool3" not in [layer.name for layer in model.layers]
    assert model(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)


@pytest.mark.parametrize(("place", "names"), [("head", ["drop_head"]), ("stages", ["drop1", "drop2"]),
                                              ("none", [])])
def test_dropout_placement(place, names):
    model = accurate_cnn((4, 8), convs=1, dropout=0.3, dropout_at=place, dense=16)
    drops = [layer.name for layer in model.layers if layer.name.startswith("drop")]
    assert drops == names
    assert model.get_layer("dense").units == 16


@pytest.mark.parametrize(("kw", "message"), [
    ({"widths": ()}, "widths must be a non-empty tuple of positive integers"),
    ({"widths": (8, 8, 8, 8)}, "at most 3 stages"),
    ({"convs": 0}, r"convs must be a positive integer or one per stage \(3\), got 0"),
    ({"convs": (1, 2)}, r"one per stage \(3\), got \(1, 2\)"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
    ({"dropout_at": "everywhere"}, "dropout_at must be one of"),
    ({"dense": -1}, "dense must be a non-negative integer, got -1"),
])
def test_bad_settings(kw, message):
    with pytest.raises(ValueError, match=message):
        accurate_cnn(**kw)
