"""2-D max and average pooling from scratch in NumPy, forward and backward.

Chapter 2 ("Pooling") uses these. They follow ``tf.nn.max_pool2d`` and
``tf.nn.avg_pool2d``:

- NHWC layout: ``x`` is ``(N, H, W, C)``, the output ``(N, H_out, W_out, C)`` with
  ``H_out = conv_output_size(H, pool_h, stride_h, padding)`` (likewise ``W_out``).
- ``pool`` and ``stride`` are an int or an ``(height, width)`` pair; ``stride``
  defaults to ``pool`` (non-overlapping windows).
- ``padding="same"`` pads as a convolution does (extra pixel at the bottom/right), but
  padded cells never count: max pooling pads with ``-inf``, and average pooling divides
  each window's sum by the number of *real* input cells in it, not by the window size.
- Arrays must be float32 or float64 (else ``TypeError``) and the result has the same
  dtype; bad shapes, pool sizes, strides and paddings raise ``ValueError``. That
  includes a "valid" window larger than the input (TensorFlow 2.21's CPU max-pool
  kernel kills the process with a floating-point exception there).

The argument checks and the window view are the ones :mod:`helpers.scratch.conv` uses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from helpers.scratch.conv import (
    IntOrPair,
    _add_windows,
    _check_window_args,
    _float_array,
    _Geometry,
    _pad,
    _unpad,
    _windows,
)

__all__ = [
    "max_pool2d",
    "avg_pool2d",
    "max_pool2d_backward",
    "avg_pool2d_backward",
]


def _check_pool(
    x: ArrayLike, pool: object, stride: object, padding: object
) -> tuple[np.ndarray, _Geometry]:
    """Check pooling arguments (``stride=None`` means ``stride=pool``); no dilation."""
    return _check_window_args(x, pool, pool if stride is None else stride, 1, padding, "pool")


def _check_dy(dy: ArrayLike, x: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """Check that ``dy`` has the dtype of ``x`` and the shape of the pooled output."""
    dy = _float_array(dy, "dy", like=x)
    expected = (x.shape[0], *geometry.out, x.shape[3])
    if dy.shape != expected:
        raise ValueError(f"dy must have shape (N, H_out, W_out, C) = {expected}, got {dy.shape}")
    return dy


def _window_counts(x: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """Count the real (unpadded) input cells in each window: shape ``(H_out, W_out, 1)``."""
    counts = []
    for axis in range(2):
        size, k, s = x.shape[1 + axis], geometry.window[axis], geometry.stride[axis]
        start = np.arange(geometry.out[axis]) * s - geometry.pads[axis][0]
        counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    return np.multiply.outer(*counts).astype(x.dtype)[:, :, None]


def max_pool2d(
    x: ArrayLike,
    pool: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Max pooling: the largest value of each window, channel by channel.

    Shapes: ``x: (N, H, W, C)``; returns ``(N, H_out, W_out, C)``. Same as
    ``tf.nn.max_pool2d(x, pool, stride, padding)``; with ``padding="same"`` the padding
    is ``-inf``, so it never wins. Chapter 2 ("Pooling").
    """
    x, geometry = _check_pool(x, pool, stride, padding)
    return _windows(_pad(x, geometry, -np.inf), geometry).max(axis=(3, 4))


def avg_pool2d(
    x: ArrayLike,
    pool: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Average pooling: the mean of each window, channel by channel.

    Shapes: ``x: (N, H, W, C)``; returns ``(N, H_out, W_out, C)``. Same as
    ``tf.nn.avg_pool2d(x, pool, stride, padding)``: with ``padding="same"`` a window that
    overhangs the border is averaged over its real cells only (the padded zeros are not
    counted in the divisor). Chapter 2 ("Pooling").
    """
    x, geometry = _check_pool(x, pool, stride, padding)
    sums = _windows(_pad(x, geometry, 0.0), geometry).sum(axis=(3, 4))
    return sums / _window_counts(x, geometry)


def max_pool2d_backward(
    x: ArrayLike,
    dy: ArrayLike,
    pool: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to ``x``.

    Shapes: ``x: (N, H, W, C)``, ``dy: (N, H_out, W_out, C)``; returns ``dx`` of the
    shape of ``x``, as ``tf.GradientTape`` gives for ``tf.nn.max_pool2d``. Each output's
    gradient goes entirely to the input cell that was the maximum of its window; on a
    tie, to the first maximum in row-major order within the window (as TensorFlow's
    CPU kernel does). Cells that win several overlapping windows add up the gradients.
    Chapter 2 ("Pooling").
    """
    x, geometry = _check_pool(x, pool, stride, padding)
    dy = _check_dy(dy, x, geometry)
    x_padded = _pad(x, geometry, -np.inf)
    (n, *_, c), (h_out, w_out), (kh, kw) = x.shape, geometry.out, geometry.window
    # Flatten each window row-major; argmax returns the first maximum on ties.
    flat = _windows(x_padded, geometry).reshape(n, h_out, w_out, kh * kw, c)
    winner = flat.argmax(axis=3)  # (N, H_out, W_out, C)
    is_winner = np.arange(kh * kw)[:, None] == winner[:, :, :, None, :]
    d_windows = np.where(is_winner, dy[:, :, :, None, :], 0).astype(x.dtype, copy=False)
    d_windows = d_windows.reshape(n, h_out, w_out, kh, kw, c)
    return _unpad(_add_windows(d_windows, x_padded.shape, geometry), geometry)


def avg_pool2d_backward(
    x: ArrayLike,
    dy: ArrayLike,
    pool: IntOrPair = 2,
    stride: IntOrPair | None = None,
    padding: str = "valid",
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to ``x``.

    Shapes: ``x: (N, H, W, C)``, ``dy: (N, H_out, W_out, C)``; returns ``dx`` of the
    shape of ``x``, as ``tf.GradientTape`` gives for ``tf.nn.avg_pool2d``. Each output's
    gradient is shared equally by the real cells of its window (``dy / count``); only
    ``x``'s shape is used, not its values. Chapter 2 ("Pooling").
    """
    x, geometry = _check_pool(x, pool, stride, padding)
    dy = _check_dy(dy, x, geometry)
    share = dy / _window_counts(x, geometry)  # (N, H_out, W_out, C)
    (n, h, w, c), (h_out, w_out), (kh, kw) = x.shape, geometry.out, geometry.window
    windows_shape = (n, h_out, w_out, kh, kw, c)
    d_windows = np.broadcast_to(share[:, :, :, None, None, :], windows_shape)
    (top, bottom), (left, right) = geometry.pads
    padded_shape = (n, top + h + bottom, left + w + right, c)
    return _unpad(_add_windows(d_windows, padded_shape, geometry), geometry)
