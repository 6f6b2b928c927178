import keras
import pytest
from keras import layers

from helpers.cost import (
    cost_table,
    fma_datapath_bits,
    layer_cost,
    model_cost,
    peak_flops,
    total_cost,
    training_flops,
)
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


def test_training_flops_is_three_forward_passes():
    model = mnist_cnn()
    assert training_flops(model, images=1000, epochs=2) == 3 * total_cost(model).flops * 1000 * 2
    with pytest.raises(ValueError, match="images and epochs must be >= 0"):
        training_flops(model, images=-1)


def test_peak_flops_by_hand():
    peak = peak_flops(cores=2, fma_units=2, vector_bits=256, clock_ghz=2.5)
    assert peak.lanes == 8 and peak.flops_per_cycle_per_core == 32
    assert peak.flops == 2 * 2 * 8 * 2 * 2.5e9
    assert "= 160 GFLOP/s" in str(peak)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"cores": 0}, "cores must be a positive integer"), ({"vector_bits": 384}, "vector_bits must be 128"),
     ({"clock_ghz": 0}, "clock_ghz must be > 0")],
)
def test_peak_flops_bad_arguments(kwargs, match):
    args = {"cores": 2, "fma_units": 2, "vector_bits": 256, "clock_ghz": 2.5} | kwargs
    with pytest.raises(ValueError, match=match):
        peak_flops(**args)


@pytest.mark.parametrize(
    "vendor, family, flags, bits",
    [("AuthenticAMD", 25, {"avx512f", "avx2"}, 256),  # Zen 4: AVX-512 on 256-bit units
     ("AuthenticAMD", 26, {"avx512f", "avx2"}, 512),  # Zen 5
     ("GenuineIntel", 6, {"avx512f", "avx2"}, 512),
     ("AuthenticAMD", 23, {"avx2", "fma"}, 256),
     ("ARM", None, set(), 128)],
)
def test_fma_datapath_bits(vendor, family, flags, bits):
    assert fma_datapath_bits(vendor, family, frozenset(flags)) == bits
