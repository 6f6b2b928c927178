import keras
import pytest
from keras import layers

from helpers.cost import cost_table, layer_cost, model_cost, total_cost
from helpers.env import import_tensorflow
from helpers.models import mnist_cnn

import_tensorflow()


def test_seed_model_by_hand():
    model = mnist_cnn()
    rows = {r.name: r for r in model_cost(model)}
    # conv1: 26*26 positions * 32 filters * 3*3*1 weights
    assert rows["conv1"].macs == 26 * 26 * 32 * 9
    assert rows["conv1"].params == 3 * 3 * 1 * 32 + 32
    # conv2: 11*11 positions * 64 filters * 3*3*32 weights
    assert rows["conv2"].macs == 11 * 11 * 64 * 9 * 32
    assert rows["conv2"].params == 3 * 3 * 32 * 64 + 64
    assert rows["dense"].macs == 1600 * 64
    assert rows["output"].macs == 64 * 10
    # max pooling 2x2: 3 comparisons per output value
    assert rows["pool1"].flops == 13 * 13 * 32 * 3
    assert rows["pool2"].flops == 5 * 5 * 64 * 3
    assert rows["flatten"].flops == rows["dropout"].flops == 0
    total = total_cost(model)
    assert total.params == 121_930 == model.count_params()
    assert total.macs == 2_528_000
    assert total.flops == 2 * 2_528_000 + 13 * 13 * 32 * 3 + 5 * 5 * 64 * 3


def test_other_layers_by_hand():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            layers.Conv2D(6, 3, strides=2, padding="same", name="c"),  # 4x4x6
            layers.DepthwiseConv2D(3, padding="same", name="dw"),  # 4x4x6
            layers.SeparableConv2D(5, 3, name="sep"),  # 2x2x5
            layers.AveragePooling2D(2, name="avg"),  # 1x1x5
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(3, name="d"),
        ]
    )
    rows = {r.name: r for r in model_cost(model)}
    assert rows["c"].macs == 4 * 4 * 6 * 3 * 3 * 4
    assert rows["dw"].macs == 4 * 4 * 6 * 9
    assert rows["sep"].macs == 2 * 2 * 6 * 9 + 2 * 2 * 6 * 5
    assert rows["avg"].flops == 5 * 4
    assert rows["gap"].flops == 5 * 1
    assert rows["d"].macs == 15
    assert sum(r.params for r in rows.values()) == model.count_params()


def test_table_lists_every_layer_and_total():
    table = cost_table(mnist_cnn())
    assert "conv2 (Conv2D)" in table and "121,930" in table and "2,528,000" in table


def test_unbuilt_layer_is_refused():
    with pytest.raises(ValueError, match="layer 'lonely' is not built"):
        layer_cost(layers.Dense(3, name="lonely"))
