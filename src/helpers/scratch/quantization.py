"""Affine int8 quantization from scratch in NumPy (chapter 9, "Deploy").

A real number ``x`` is stored as an 8-bit integer ``q`` with a *scale* and a *zero point*:

    x ≈ scale * (q - zero_point),      q = clip(round(x / scale) + zero_point, -128, 127)

The scale spreads the 256 integer steps over the range of ``x``; the zero point is the
integer that stands for the real 0, so zero padding and ReLU's zeros are exact. LiteRT's
full-integer models use two flavours (the converter's choices, which the chapter checks
against a converted model's tensors):

- activations: *asymmetric*, one ``(scale, zero_point)`` per tensor, from the range seen on
  the calibration images (:func:`affine_params`);
- weights: *symmetric* (zero point 0), one scale per output channel, ``max|w| / 127``
  (:func:`symmetric_per_channel`); biases: int32 with scale ``input_scale * weight_scale``.

A quantized layer then runs in integers (int8 products summed in int32) and converts the
sum to the output's scale with one multiplication (:func:`quantized_dense`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "INT8_MAX",
    "INT8_MIN",
    "affine_params",
    "dequantize",
    "quantize",
    "quantize_bias",
    "quantized_dense",
    "symmetric_per_channel",
]

INT8_MIN, INT8_MAX = -128, 127


def affine_params(x_min: float, x_max: float) -> tuple[float, int]:
    """Return ``(scale, zero_point)`` mapping the real range ``[x_min, x_max]`` onto int8.

    The range is first widened to include 0 (so the real 0 has an exact integer code), then
    ``scale = (x_max - x_min) / 255`` and ``zero_point = round(-128 - x_min / scale)``.
    A range of zero width gets scale 1.
    """
    if not (np.isfinite(x_min) and np.isfinite(x_max)) or x_min > x_max:
        raise ValueError(f"x_min and x_max must be finite with x_min <= x_max, got {x_min!r}, {x_max!r}")
    x_min, x_max = min(float(x_min), 0.0), max(float(x_max), 0.0)
    scale = (x_max - x_min) / (INT8_MAX - INT8_MIN) or 1.0
    zero_point = int(np.clip(round(INT8_MIN - x_min / scale), INT8_MIN, INT8_MAX))
    return scale, zero_point


def quantize(x: np.ndarray, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """Return ``clip(round(x / scale) + zero_point, -128, 127)`` as int8, ``x``'s shape.

    ``scale`` and ``zero_point`` are scalars (per tensor) or 1-D arrays with one entry per
    index of ``x``'s axis ``axis`` (per channel). Rounding is half away from zero, as
    LiteRT's reference kernels round.
    """
    scale, zero_point = _along(x, scale, axis), _along(x, zero_point, axis)
    if np.any(scale <= 0):
        raise ValueError(f"scale must be > 0, got {scale!r}")
    scaled = np.asarray(x, np.float64) / scale
    q = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + zero_point
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(q: np.ndarray, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """Return ``scale * (q - zero_point)`` as float32 (per tensor, or per channel along ``axis``)."""
    scale, zero_point = _along(q, scale, axis), _along(q, zero_point, axis)
    return (scale * (np.asarray(q, np.float64) - zero_point)).astype(np.float32)


def _along(x: np.ndarray, value, axis: int | None) -> np.ndarray:
    """Shape a per-channel 1-D ``value`` to broadcast along ``axis`` of ``x`` (scalars pass)."""
    value = np.asarray(value, np.float64)
    if axis is None or value.ndim == 0:
        return value
    x = np.asarray(x)
    if value.shape != (x.shape[axis],):
        raise ValueError(f"per-channel values must have shape ({x.shape[axis]},) for axis {axis} "
                         f"of an array of shape {x.shape}, got {value.shape}")
    shape = [1] * x.ndim
    shape[axis] = -1
    return value.reshape(shape)


def symmetric_per_channel(w: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Quantize weights symmetrically, one scale per index of ``axis`` (the output channels).

    ``scale_c = max|w_c| / 127`` (zero point 0), so each channel uses the codes -127..127.
    Returns ``(q, scales)``: int8 weights of ``w``'s shape, and float64 scales
    ``(w.shape[axis],)``. A channel of zeros gets scale 1.
    """
    w = np.asarray(w, np.float64)
    axis = axis % w.ndim
    others = tuple(i for i in range(w.ndim) if i != axis)
    scales = np.abs(w).max(axis=others) / INT8_MAX
    scales[scales == 0] = 1.0
    return quantize(w, scales, 0, axis=axis), scales


def quantize_bias(b: np.ndarray, input_scale: float, weight_scales: np.ndarray) -> np.ndarray:
    """Return the bias as int32 with scale ``input_scale * weight_scales`` (zero point 0).

    That is the scale of the int32 sum of products, so the bias is added to it directly.
    """
    scale = input_scale * np.asarray(weight_scales, np.float64)
    scaled = np.asarray(b, np.float64) / scale
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int32)


def quantized_dense(
    q_x: np.ndarray,
    x_params: tuple[float, int],
    q_w: np.ndarray,
    w_scales: np.ndarray,
    q_b: np.ndarray,
    out_params: tuple[float, int],
    relu: bool = False,
) -> np.ndarray:
    """Run a Dense layer in integers: int8 in, int8 out, as a full-integer LiteRT model does.

    ``q_x: (N, D_in)`` int8 with ``x_params = (scale, zero_point)``; ``q_w: (D_out, D_in)``
    int8 with per-output-channel ``w_scales: (D_out,)`` (zero point 0, LiteRT's layout);
    ``q_b: (D_out,)`` int32 (see :func:`quantize_bias`); ``out_params``: the output's
    ``(scale, zero_point)``. Steps: subtract the input's zero point, multiply-accumulate in
    int32, add the bias, rescale by ``x_scale * w_scale / out_scale``, round, add the output's
    zero point, clip to int8 (and to the code of 0 from below, for a fused ReLU).
    Returns ``(N, D_out)`` int8.
    """
    x_scale, x_zero = x_params
    out_scale, out_zero = out_params
    if q_x.ndim != 2 or q_w.ndim != 2 or q_x.shape[1] != q_w.shape[1]:
        raise ValueError(f"q_x must be (N, D_in) and q_w (D_out, D_in), got {q_x.shape} and {q_w.shape}")
    acc = (q_x.astype(np.int32) - x_zero) @ q_w.astype(np.int32).T + q_b.astype(np.int32)
    multiplier = x_scale * np.asarray(w_scales, np.float64) / out_scale
    scaled = acc * multiplier
    out = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + out_zero
    low = out_zero if relu else INT8_MIN
    return np.clip(out, low, INT8_MAX).astype(np.int8)
