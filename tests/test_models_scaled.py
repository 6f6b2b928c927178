import pytest

from helpers.cost import total_cost
from helpers.env import import_tensorflow
from helpers.models import SCALED_DEPTHS, SCALED_WIDTHS, scaled_cnn, scaled_filters

import_tensorflow()


def test_scaled_cnn_counts_by_hand():
    # width 1, depth 4: conv 1->8, 8->8 at 28x28; conv 8->16, 16->16 at 14x14; dense 7*7*16 -> 10
    model = scaled_cnn(1.0, 4)
    convs = [3 * 3 * 1 * 8 + 8, 3 * 3 * 8 * 8 + 8, 3 * 3 * 8 * 16 + 16, 3 * 3 * 16 * 16 + 16]
    assert model.count_params() == sum(convs) + 7 * 7 * 16 * 10 + 10 == 12_002
    macs = 28 * 28 * (8 * 9 * 1 + 8 * 9 * 8) + 14 * 14 * (16 * 9 * 8 + 16 * 9 * 16) + 784 * 10
    assert total_cost(model).macs == macs
    assert model.output_shape == (None, 10)


def test_depth_splits_between_the_two_stages():
    for depth, (first, second) in {2: (1, 1), 3: (1, 2), 5: (2, 3), 6: (3, 3)}.items():
        model = scaled_cnn(1.0, depth)
        convs = [layer for layer in model.layers if layer.name.startswith("conv")]
        shapes = [layer.output.shape[1] for layer in convs]
        assert shapes == [28] * first + [14] * second


def test_residual_adds_shortcuts_without_parameters():
    plain, res = scaled_cnn(1.0, 6), scaled_cnn(1.0, 6, residual=True)
    assert plain.count_params() == res.count_params()
    adds = [layer.name for layer in res.layers if layer.name.startswith("skip")]
    assert adds == ["skip2", "skip3", "skip5", "skip6"]  # every conv but the first of each stage
    # each Add costs one addition per value: 2 at 28x28x8, 2 at 14x14x16
    assert total_cost(res).flops - total_cost(plain).flops == 2 * 28 * 28 * 8 + 2 * 14 * 14 * 16


def test_width_scales_filters_and_cost_about_quadratically():
    assert [scaled_filters(w) for w in SCALED_WIDTHS] == [(2, 4), (4, 8), (8, 16), (16, 32), (32, 64)]
    flops = [total_cost(scaled_cnn(w, 4)).flops for w in (1.0, 2.0, 4.0)]
    assert 3.5 < flops[1] / flops[0] < 4.1 and 3.5 < flops[2] / flops[1] < 4.1
    assert SCALED_DEPTHS == (2, 3, 4, 5, 6)


def test_same_seed_same_weights():
    import numpy as np

    a, b = scaled_cnn(0.5, 3, seed=4), scaled_cnn(0.5, 3, seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"width": 0}, r"width must be a number in \(0, 16\]"),
    ({"width": "wide"}, "width must be a number"),
    ({"depth": 1}, r"depth must be an integer in \[2, 8\]"),
    ({"depth": 4.0}, "depth must be an integer"),
    ({"depth": 2, "residual": True}, "residual=True needs depth >= 3"),
])
def test_scaled_cnn_names_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scaled_cnn(**kwargs)
