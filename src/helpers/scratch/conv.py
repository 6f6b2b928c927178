"""2-D convolution from scratch in NumPy: shapes, padding, forward and backward.

Chapter 1 ("Convolution") builds these up: first the output-size arithmetic
(:func:`conv_output_size`, :func:`same_padding`), then a loop-per-pixel convolution
(:func:`conv2d_naive`) that reads like the definition, then the vectorized version
(:func:`conv2d`) that turns the whole convolution into one matrix product ("im2col"),
and finally its gradients (:func:`conv2d_backward`).

Conventions are TensorFlow's, so every result can be compared with ``tf.nn.conv2d``:

- NHWC layout: ``x`` is ``(N, H, W, C_in)``; the kernel ``w`` is
  ``(KH, KW, C_in, C_out)``; the output is ``(N, H_out, W_out, C_out)``.
- "Convolution" is cross-correlation (the kernel is not flipped).
- ``padding="same"`` pads so that ``H_out = ceil(H / stride)``; when the total padding
  is odd, the extra row/column goes at the bottom/right.
- Arrays must be float32 or float64, and the result has the same dtype. Any other
  dtype raises ``TypeError``, as does mixing float32 and float64 arguments. Bad shapes,
  strides, dilations and paddings raise ``ValueError`` naming the argument.

The small private helpers at the top (argument checks, padding, window views) are
shared with :mod:`helpers.scratch.pool`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

__all__ = [
    "conv_output_size",
    "same_padding",
    "conv2d",
    "conv2d_naive",
    "conv2d_backward",
]

#: An int for both spatial axes, or an ``(height, width)`` pair.
IntOrPair = int | tuple[int, int]

_PADDINGS = ("valid", "same")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------
# Shared argument checks and window arithmetic (used by pool.py too)
# ---------------------------------------------------------------------------


def _positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _pair(value: object, name: str) -> tuple[int, int]:
    """Return ``(height, width)`` from an int or a pair of ints, each >= 1."""
    if isinstance(value, tuple | list) and len(value) == 2:
        items = tuple(value)
    else:
        items = (value, value)
    if not all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in items):
        raise ValueError(
            f"{name} must be an integer >= 1 or a pair of them (height, width), got {value!r}"
        )
    return int(items[0]), int(items[1])


def _padding(padding: object) -> str:
    """Return ``"valid"`` or ``"same"``; any letter case (Keras says "same", tf.nn "SAME")."""
    if not isinstance(padding, str) or padding.lower() not in _PADDINGS:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _float_array(value: ArrayLike, name: str, like: np.ndarray | None = None) -> np.ndarray:
    """Return ``value`` as a float32/float64 array (with ``like``'s dtype if given)."""
    array = np.asarray(value)
    if array.dtype not in _FLOATS:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {array.dtype}")
    if like is not None and array.dtype != like.dtype:
        raise TypeError(f"{name} must have the same dtype as x ({like.dtype}), got {array.dtype}")
    return array


def _axis_geometry(
    size: int, kernel: int, stride: int, dilation: int, padding: str
) -> tuple[int, int, int]:
    """``(out, pad_before, pad_after)`` along one axis; arguments already checked."""
    k_eff = dilation * (kernel - 1) + 1
    if padding == "valid":
        return (size - k_eff) // stride + 1, 0, 0
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return out, total // 2, total - total // 2


@dataclass(frozen=True)
class _Geometry:
    """Everything about a sliding window over ``x`` that its checks established."""

    window: tuple[int, int]  # (KH, KW), before dilation
    stride: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]  # (H_out, W_out)
    pads: tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))


def _check_window_args(
    x: ArrayLike,
    window: object,
    stride: object,
    dilation: object,
    padding: object,
    window_name: str,
) -> tuple[np.ndarray, _Geometry]:
    """Check ``x`` and the window arguments of a conv or pool; return ``x`` and the geometry.

    ``window_name`` is the argument the window size came from (``"w"`` for a
    convolution, ``"pool"`` for pooling), so that an error names what to change.
    """
    x = _float_array(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x must be a 4-D array (N, H, W, C), got shape {x.shape}")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"x must have height and width >= 1, got shape {x.shape}")
    window = _pair(window, window_name)
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    padding = _padding(padding)
    geometry = []
    for axis, label in enumerate(("height", "width")):
        size = x.shape[1 + axis]
        k_eff = dilation[axis] * (window[axis] - 1) + 1
        if padding == "valid" and k_eff > size:
            dilated = f" (dilated from {window[axis]})" if dilation[axis] > 1 else ""
            raise ValueError(
                f"{window_name} is too large for x: window {label} {k_eff}{dilated} > input "
                f"{label} {size} with padding 'valid'; use padding='same' or a smaller window"
            )
        geometry.append(_axis_geometry(size, window[axis], stride[axis], dilation[axis], padding))
    (h_out, *pads_h), (w_out, *pads_w) = geometry
    return x, _Geometry(window, stride, dilation, (h_out, w_out), (tuple(pads_h), tuple(pads_w)))


def _pad(x: np.ndarray, geometry: _Geometry, value: float) -> np.ndarray:
    """Pad the two spatial axes of ``x`` as ``geometry`` says, with ``value``."""
    if not any(geometry.pads[0] + geometry.pads[1]):
        return x
    return np.pad(x, ((0, 0), *geometry.pads, (0, 0)), constant_values=value)


def _unpad(x_padded: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """Crop the padding that :func:`_pad` added (a compact copy)."""
    (top, bottom), (left, right) = geometry.pads
    height, width = x_padded.shape[1] - bottom, x_padded.shape[2] - right
    return np.ascontiguousarray(x_padded[:, top:height, left:width, :])


def _windows(x_padded: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """Every window of the padded input, as a view of shape ``(N, H_out, W_out, KH, KW, C)``.

    Entry ``[n, i, j, a, b, c]`` is ``x_padded[n, i*sh + a*dh, j*sw + b*dw, c]``. No data
    is copied: the view reuses ``x_padded``'s memory with different strides.
    """
    (kh, kw), (sh, sw) = geometry.window, geometry.stride
    (dh, dw), (h_out, w_out) = geometry.dilation, geometry.out
    # Every window at stride 1 without dilation: (N, H', W', C, KH_eff, KW_eff).
    k_eff = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = sliding_window_view(x_padded, k_eff, axis=(1, 2))
    # Stride and dilation are then plain slicing steps.
    rows, cols = slice(0, (h_out - 1) * sh + 1, sh), slice(0, (w_out - 1) * sw + 1, sw)
    view = view[:, rows, cols, :, ::dh, ::dw]
    return view.transpose(0, 1, 2, 4, 5, 3)  # (N, H_out, W_out, KH, KW, C)


def _add_windows(
    d_windows: np.ndarray, padded_shape: tuple[int, ...], geometry: _Geometry
) -> np.ndarray:
    """Adjoint of :func:`_windows`, for gradients ("col2im"): add window entries back.

    ``d_windows`` is ``(N, H_out, W_out, KH, KW, C)``; the result has ``padded_shape``.
    Overlapping windows add up. One vectorized add per kernel offset ``(a, b)``.
    """
    (kh, kw), (sh, sw) = geometry.window, geometry.stride
    (dh, dw), (h_out, w_out) = geometry.dilation, geometry.out
    dx = np.zeros(padded_shape, dtype=d_windows.dtype)
    for a in range(kh):
        rows = slice(a * dh, a * dh + (h_out - 1) * sh + 1, sh)
        for b in range(kw):
            cols = slice(b * dw, b * dw + (w_out - 1) * sw + 1, sw)
            dx[:, rows, cols, :] += d_windows[:, :, :, a, b, :]
    return dx


# ---------------------------------------------------------------------------
# Output-size arithmetic
# ---------------------------------------------------------------------------


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: str = "valid", dilation: int = 1
) -> int:
    """Output length along one spatial axis of a convolution or pooling window.

    With the effective (dilated) kernel ``k_eff = dilation * (kernel - 1) + 1``:

    - ``"valid"``: ``floor((size - k_eff) / stride) + 1`` (windows fully inside);
    - ``"same"``: ``ceil(size / stride)`` (independent of the kernel).

    ``size``, ``kernel``, ``stride`` and ``dilation`` are integers >= 1. A ``"valid"``
    window larger than ``size`` raises ``ValueError``. Chapter 1 ("Convolution") uses
    this to predict the shapes of ``tf.nn.conv2d``; chapter 2 ("Pooling") reuses it.
    """
    size = _positive_int(size, "size")
    kernel = _positive_int(kernel, "kernel")
    stride = _positive_int(stride, "stride")
    dilation = _positive_int(dilation, "dilation")
    padding = _padding(padding)
    k_eff = dilation * (kernel - 1) + 1
    if padding == "valid" and k_eff > size:
        raise ValueError(
            f"kernel is too large: {k_eff} (after dilation) > size {size} with padding 'valid'"
        )
    return _axis_geometry(size, kernel, stride, dilation, padding)[0]


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``(before, after)`` padding along one axis for ``padding="same"``.

    ``total = max((out - 1) * stride + k_eff - size, 0)`` with ``out = ceil(size /
    stride)``; ``before = total // 2`` and ``after = total - before``, so an odd total
    puts the extra pixel at the end (bottom/right). Arguments are integers >= 1.
    Chapter 1 ("Convolution") uses this to explain the asymmetric padding.
    """
    size = _positive_int(size, "size")
    kernel = _positive_int(kernel, "kernel")
    stride = _positive_int(stride, "stride")
    dilation = _positive_int(dilation, "dilation")
    _, before, after = _axis_geometry(size, kernel, stride, dilation, "same")
    return before, after


# ---------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------


def _check_conv(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None,
    stride: object,
    padding: object,
    dilation: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, _Geometry]:
    """Check the arguments of a convolution; return arrays and geometry."""
    x = _float_array(x, "x")
    w = _float_array(w, "w", like=x)
    if w.ndim != 4:
        raise ValueError(f"w must be a 4-D array (KH, KW, C_in, C_out), got shape {w.shape}")
    x, geometry = _check_window_args(x, w.shape[:2], stride, dilation, padding, "w")
    if w.shape[2] != x.shape[3]:
        raise ValueError(
            f"w must have C_in = {x.shape[3]} (the channels of x, shape {x.shape}), "
            f"got shape {w.shape}"
        )
    if b is not None:
        b = _float_array(b, "b", like=x)
        if b.shape != (w.shape[3],):
            raise ValueError(f"b must have shape (C_out,) = ({w.shape[3]},), got {b.shape}")
    return x, w, b, geometry


def _check_conv_dy(
    dy: ArrayLike, x: np.ndarray, w: np.ndarray, geometry: _Geometry
) -> np.ndarray:
    """Check that ``dy`` has ``x``'s dtype and the shape ``(N, H_out, W_out, C_out)``."""
    dy = _float_array(dy, "dy", like=x)
    expected = (x.shape[0], *geometry.out, w.shape[3])
    if dy.shape != expected:
        raise ValueError(
            f"dy must have shape (N, H_out, W_out, C_out) = {expected}, got {dy.shape}"
        )
    return dy


def conv2d(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: str = "valid",
    dilation: IntOrPair = 1,
) -> np.ndarray:
    """2-D convolution, vectorized as "im2col" plus one matrix product.

    Shapes: ``x: (N, H, W, C_in)``, ``w: (KH, KW, C_in, C_out)`` (as ``tf.nn.conv2d``
    takes them), ``b: (C_out,)`` or ``None``; returns ``(N, H_out, W_out, C_out)`` with
    ``H_out = conv_output_size(H, KH, stride, padding, dilation)`` (likewise ``W_out``).
    ``stride`` and ``dilation`` are an int or an ``(height, width)`` pair; ``padding`` is
    ``"valid"`` or ``"same"``. Same result as ``tf.nn.conv2d(x, w, stride, padding,
    dilations=dilation) + b``, in ``x``'s dtype (float32 or float64).

    How: every window of the (padded) input is copied into one row of a contiguous
    matrix of shape ``(N * H_out * W_out, KH * KW * C_in)``; multiplying it by the kernel
    reshaped to ``(KH * KW * C_in, C_out)`` computes all outputs in one BLAS call.
    Chapter 1 ("Convolution") times this against ``tf.nn.conv2d``.
    """
    x, w, b, geometry = _check_conv(x, w, b, stride, padding, dilation)
    n = x.shape[0]
    kh, kw, c_in, c_out = w.shape
    h_out, w_out = geometry.out
    patches = _windows(_pad(x, geometry, 0.0), geometry)  # strided view, no copy yet
    cols = patches.reshape(n * h_out * w_out, kh * kw * c_in)  # the one copy (im2col)
    y = cols @ w.reshape(kh * kw * c_in, c_out)
    if b is not None:
        y += b
    return y.reshape(n, h_out, w_out, c_out)


def conv2d_naive(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: str = "valid",
    dilation: IntOrPair = 1,
) -> np.ndarray:
    """2-D convolution with explicit loops over output pixels and channels (for reading).

    Shapes and semantics exactly as :func:`conv2d`: ``x: (N, H, W, C_in)``,
    ``w: (KH, KW, C_in, C_out)``, ``b: (C_out,)`` or ``None``; returns
    ``(N, H_out, W_out, C_out)``. Output pixel ``(i, j)`` of channel ``c`` is the sum of
    the input window starting at row ``i * stride``, column ``j * stride`` (of the padded
    input; rows ``dilation`` apart) times ``w[:, :, :, c]``. Slow: chapter 1
    ("Convolution") shows it first, then replaces it by :func:`conv2d`.
    """
    x, w, b, geometry = _check_conv(x, w, b, stride, padding, dilation)
    x_padded = _pad(x, geometry, 0.0)
    kh, kw, _, c_out = w.shape
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    h_out, w_out = geometry.out
    y = np.zeros((x.shape[0], h_out, w_out, c_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            # The window under output pixel (i, j), for every image: (N, KH, KW, C_in).
            rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
            cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
            window = x_padded[:, rows, cols, :]
            for c in range(c_out):
                y[:, i, j, c] = np.sum(window * w[:, :, :, c], axis=(1, 2, 3))
    if b is not None:
        y += b
    return y


def conv2d_backward(
    x: ArrayLike,
    w: ArrayLike,
    dy: ArrayLike,
    stride: IntOrPair = 1,
    padding: str = "valid",
    dilation: IntOrPair = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d` (with bias) given the gradient of its output.

    Shapes: ``x: (N, H, W, C_in)``, ``w: (KH, KW, C_in, C_out)``,
    ``dy: (N, H_out, W_out, C_out)``; returns ``(dx, dw, db)`` with the shapes of ``x``,
    ``w`` and ``(C_out,)``: what ``tf.GradientTape`` gives for
    ``tf.nn.conv2d(x, w, stride, padding, dilations=dilation) + b``.

    With ``cols`` the im2col matrix of :func:`conv2d` and ``dY`` the ``dy`` rows:
    ``dw = cols.T @ dY``, ``db = dY.sum(0)``, and ``dx`` is ``dY @ w.T`` scattered back
    from the windows onto the input, adding where windows overlap ("col2im"). Chapter 1
    ("Convolution") derives these and checks them against TensorFlow.
    """
    x, w, _, geometry = _check_conv(x, w, None, stride, padding, dilation)
    dy = _check_conv_dy(dy, x, w, geometry)
    kh, kw, c_in, c_out = w.shape
    x_padded = _pad(x, geometry, 0.0)
    cols = _windows(x_padded, geometry).reshape(-1, kh * kw * c_in)  # im2col, as forward
    dy_rows = dy.reshape(-1, c_out)  # one row per output pixel
    dw = (cols.T @ dy_rows).reshape(w.shape)
    db = dy_rows.sum(axis=0)
    d_cols = dy_rows @ w.reshape(-1, c_out).T  # the gradient of every window's copy
    d_windows = d_cols.reshape(*dy.shape[:3], kh, kw, c_in)
    dx = _unpad(_add_windows(d_windows, x_padded.shape, geometry), geometry)  # col2im
    return dx, dw, db
