"""Affine int8 quantization from scratch: round trips, error bounds, and an integer Dense layer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.scratch.quantization import (
    INT8_MAX,
    INT8_MIN,
    affine_params,
    dequantize,
    quantize,
    quantize_bias,
    quantized_dense,
    symmetric_per_channel,
)

finite = st.floats(-1e3, 1e3, allow_nan=False)


@given(finite, finite)
def test_affine_params_cover_the_range_and_keep_zero_exact(a, b):
    lo, hi = min(a, b), max(a, b)
    scale, zero = affine_params(lo, hi)
    assert INT8_MIN <= zero <= INT8_MAX
    assert dequantize(quantize(np.array([0.0]), scale, zero), scale, zero)[0] == 0.0
    x = np.linspace(min(lo, 0), max(hi, 0), 101)
    err = np.abs(dequantize(quantize(x, scale, zero), scale, zero) - x)
    assert err.max() <= scale / 2 + 1e-6 * (1 + np.abs(x).max())  # float32 result


def test_unit_interval_maps_like_the_converter():
    scale, zero = affine_params(0.0, 1.0)
    assert scale == pytest.approx(1 / 255) and zero == -128
    np.testing.assert_array_equal(quantize(np.array([0.0, 0.5, 1.0]), scale, zero), [-128, 0, 127])


def test_quantize_rounds_half_away_from_zero_and_clips():
    np.testing.assert_array_equal(quantize(np.array([0.5, -0.5, 1.5, 300.0, -300.0]), 1.0, 0),
                                  [1, -1, 2, 127, -128])


def test_symmetric_per_channel_scales_and_error():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 4, 8)) * np.arange(1, 9)
    q, scales = symmetric_per_channel(w, axis=-1)
    assert q.dtype == np.int8 and q.shape == w.shape
    np.testing.assert_allclose(scales, np.abs(w).max(axis=(0, 1, 2)) / 127)
    assert np.abs(q).max() == 127 and q.min() >= -127
    err = np.abs(dequantize(q, scales, 0, axis=-1) - w) / scales
    assert err.max() <= 0.5 + 1e-5


def test_per_channel_values_must_match_the_axis():
    with pytest.raises(ValueError, match=r"per-channel values must have shape \(8,\) for axis 1"):
        quantize(np.zeros((2, 8)), np.ones(3), 0, axis=1)
    with pytest.raises(ValueError, match="x_min and x_max must be finite"):
        affine_params(1.0, 0.0)


def test_quantized_dense_matches_float_dense_within_rounding():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 2, size=(32, 20))
    w = rng.normal(size=(20, 6)) * 0.3
    b = rng.normal(size=6) * 0.1
    y = x @ w + b
    x_params = affine_params(x.min(), x.max())
    y_params = affine_params(y.min(), y.max())
    q_w, w_scales = symmetric_per_channel(w.T, axis=0)
    q_b = quantize_bias(b, x_params[0], w_scales)
    q_y = quantized_dense(quantize(x, *x_params), x_params, q_w, w_scales, q_b, y_params)
    y_hat = dequantize(q_y, *y_params)
    # a few output steps: input, weight and output rounding add up
    assert np.abs(y_hat - y).max() <= 4 * y_params[0]
    relu = quantized_dense(quantize(x, *x_params), x_params, q_w, w_scales, q_b, y_params, relu=True)
    assert relu.min() >= y_params[1]
    with pytest.raises(ValueError, match=r"q_x must be \(N, D_in\) and q_w \(D_out, D_in\)"):
        quantized_dense(quantize(x, *x_params), x_params, q_w.T, w_scales, q_b, y_params)
