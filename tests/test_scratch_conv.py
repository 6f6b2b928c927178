"""Property tests of helpers.scratch.conv against TensorFlow.

Random cases (hypothesis): batch 1-4, height and width 1-12, channels in/out 1-5, kernel
1-5 per axis, stride 1-3 per axis, dilation 1-2 per axis, "valid" and "same" padding,
float32 and float64. Shapes where a "valid" kernel would not fit are not filtered out
afterwards but never drawn: the height/width is drawn from [dilated kernel, 12].

- Forward: ``conv2d`` and ``conv2d_naive`` against ``tf.nn.conv2d(...) + b``.
- The TensorFlow reference is computed in float64, for float32 cases too (on the same
  values, which float64 holds exactly); a float32 result must be within 1e-4 of it.
  TensorFlow 2.21's own float32 CPU convolution (oneDNN) cannot be the reference over
  random shapes: it returns uninitialized memory for some outputs when C_in = 1,
  stride_h = 1 < stride_w and W_out = 1 < H_out, and its filter gradient corrupts the
  heap (segfault or abort, sometimes much later) for some 1x1 kernels with stride > 1,
  e.g. x (1, 12, 12, 3), a 1x1 kernel, stride 2, "valid". Both are fine with
  ``TF_ENABLE_ONEDNN_OPTS=0``. ``test_conv2d_matches_tf_float32_kernels`` compares with
  the float32 kernels on the usual shapes (kernel >= stride), where they are sound.
- Backward: ``conv2d_backward`` against ``tf.GradientTape`` for dilation 1. TensorFlow's
  CPU kernels have no float64 backward pass for dilation > 1 ("Current CPU
  implementations do not yet support dilation rates larger than 1"; the float32 one
  oneDNN provides corrupts the heap on some shapes too), so dilated gradients are
  checked against central finite differences of our own ``conv2d`` in float64; the loss
  ``sum(conv2d(x, w, b) * dy)`` is linear in each argument, so the differences are exact
  up to rounding.
- Shapes: ``conv_output_size`` and ``same_padding`` against TensorFlow's shapes and
  TensorFlow's own "same" padding (``padding="SAME"`` equals the explicit padding
  ``same_padding`` returns).
- Every bad-input error, with the argument's name in the message.

Tolerance: ``assert_allclose(ours, tf, rtol=TOL, atol=TOL)``, i.e.
``|ours - tf| <= TOL * (1 + |tf|)``, with TOL = 1e-6 in float64 and 1e-4 in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerance import FAST, assert_close

from helpers.env import import_tensorflow
from helpers.scratch import conv

tf = import_tensorflow()




def pair(value):
    """``(h, w)`` from an int or a pair."""
    return tuple(value) if isinstance(value, tuple) else (value, value)


@dataclass
class Case:
    """One random convolution: arrays, keyword arguments and a generator for ``dy``."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    kwargs: dict
    rng: np.random.Generator

    def dy_like(self, y):
        """A random output gradient with the shape of ``y``, in the case's dtype."""
        return self.rng.standard_normal(np.shape(y)).astype(self.x.dtype)


def int_or_pair(low, high):
    """An int in [low, high], or a pair of them."""
    return st.one_of(
        st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high))
    )


@st.composite
def conv_cases(
    draw,
    dtype=None,
    dilation=None,
    max_side=12,
    max_batch=4,
    max_channels=5,
    max_kernel=5,
):
    """A random convolution whose kernel fits the (padded) input."""
    dtype = np.dtype(dtype or draw(st.sampled_from([np.float32, np.float64])))
    padding = draw(st.sampled_from(["valid", "same"]))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = draw(int_or_pair(1, 3))
    dilation = draw(int_or_pair(1, 2) if dilation is None else dilation)
    sides = []
    for k, d in zip(kernel, pair(dilation), strict=True):
        smallest = d * (k - 1) + 1 if padding == "valid" else 1
        sides.append(draw(st.integers(smallest, max_side)))
    n = draw(st.integers(1, max_batch))
    c_in, c_out = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, *sides, c_in)).astype(dtype)
    w = rng.standard_normal((*kernel, c_in, c_out)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    return Case(x, w, b, dict(stride=stride, padding=padding, dilation=dilation), rng)


def tf_conv(x, w, b, stride, padding, dilation):
    """TensorFlow's convolution plus bias, with our keyword conventions."""
    x, w, b = (tf.convert_to_tensor(a) for a in (x, w, b))
    y = tf.nn.conv2d(x, w, strides=pair(stride), padding=padding.upper(), dilations=pair(dilation))
    return y + b


def in_float64(*arrays):
    """The arrays as float64 (exactly: every float32 is a float64)."""
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def tf_reference(case, bias=True):
    """TensorFlow's float64 forward result for the case's (possibly float32) values."""
    b = case.b if bias else np.zeros_like(case.b)
    return tf_conv(*in_float64(case.x, case.w, b), **case.kwargs).numpy()


def tf_reference_grads(case, dy):
    """``(dx, dw, db)`` from ``tf.GradientTape`` in float64, given the output gradient."""
    args = [tf.constant(a) for a in in_float64(case.x, case.w, case.b)]
    with tf.GradientTape() as tape:
        tape.watch(args)
        y = tf_conv(*args, **case.kwargs)
    dy = tf.constant(np.asarray(dy, dtype=np.float64))
    return [g.numpy() for g in tape.gradient(y, args, output_gradients=dy)]


# --- forward ------------------------------------------------------------------------------


@FAST
@given(case=conv_cases())
def test_conv2d_matches_tf(case):
    ours = conv.conv2d(case.x, case.w, case.b, **case.kwargs)
    assert_close(ours, tf_reference(case), case.x.dtype)


@FAST
@given(case=conv_cases())
def test_conv2d_without_bias_matches_tf(case):
    ours = conv.conv2d(case.x, case.w, **case.kwargs)
    assert_close(ours, tf_reference(case, bias=False), case.x.dtype)


@settings(max_examples=40, deadline=None)
@given(case=conv_cases())
def test_conv2d_naive_equals_conv2d(case):
    naive = conv.conv2d_naive(case.x, case.w, case.b, **case.kwargs)
    assert_close(naive, conv.conv2d(case.x, case.w, case.b, **case.kwargs), case.x.dtype)


def test_padding_is_case_insensitive_and_pairs_equal_ints():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 8, 3))
    w = rng.standard_normal((3, 2, 3, 4))
    np.testing.assert_array_equal(
        conv.conv2d(x, w, stride=2, padding="SAME", dilation=2),
        conv.conv2d(x, w, stride=(2, 2), padding="same", dilation=[2, 2]),
    )


def test_small_example_by_hand():
    # A 3x3 image of 1..9 and a 2x2 kernel that picks "top-left + bottom-right".
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    w = np.array([[1.0, 0.0], [0.0, 1.0]]).reshape(2, 2, 1, 1)
    expected = np.array([[1 + 5, 2 + 6], [4 + 8, 5 + 9]], dtype=float).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(conv.conv2d(x, w), expected)
    np.testing.assert_array_equal(conv.conv2d_naive(x, w), expected)


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "padding"),
    [
        pytest.param(k, s, d, p, id=f"k{k}-s{s}-d{d}-{p}")
        for k, s, d in [(1, 1, 1), (3, 1, 1), (3, 2, 1), (5, 1, 1), (5, 2, 1), (3, 1, 2)]
        for p in ("valid", "same")
    ],
)
def test_conv2d_matches_tf_float32_kernels(kernel, stride, dilation, padding):
    """Against TensorFlow's float32 kernels themselves, on the shapes chapters use."""
    rng = np.random.default_rng(100 * kernel + 10 * stride + dilation)
    x = rng.standard_normal((4, 12, 12, 3)).astype(np.float32)
    w = rng.standard_normal((kernel, kernel, 3, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    args = [tf.constant(a) for a in (x, w, b)]
    with tf.GradientTape() as tape:
        tape.watch(args)
        y = tf_conv(*args, **kwargs)
    assert y.dtype == tf.float32
    assert_close(conv.conv2d(x, w, b, **kwargs), y, np.float32)
    if dilation == 1:  # no CPU backward pass for dilated convolutions (see above)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        grads = tape.gradient(y, args, output_gradients=tf.constant(dy))
        for got, want in zip(conv.conv2d_backward(x, w, dy, **kwargs), grads, strict=True):
            assert_close(got, want, np.float32)


# --- backward -----------------------------------------------------------------------------


@FAST
@given(case=conv_cases(dilation=st.just(1)))
def test_conv2d_backward_matches_tf(case):
    dy = case.dy_like(conv.conv2d(case.x, case.w, case.b, **case.kwargs))
    ours = conv.conv2d_backward(case.x, case.w, dy, **case.kwargs)
    for got, want in zip(ours, tf_reference_grads(case, dy), strict=True):
        assert got.shape == want.shape
        assert_close(got, want, case.x.dtype)


def numerical_gradient(loss, array, step=1e-3):
    """Central differences of ``loss()`` with respect to every entry of ``array`` (in place)."""
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + step
        up = loss()
        flat[i] = saved - step
        down = loss()
        flat[i] = saved
        grad_flat[i] = (up - down) / (2 * step)
    return grad


@settings(max_examples=25, deadline=None)
@given(
    case=conv_cases(
        dtype=np.float64,
        dilation=st.sampled_from([2, (2, 1), (1, 2)]),
        max_side=8,
        max_batch=2,
        max_channels=2,
        max_kernel=3,
    )
)
def test_dilated_conv2d_backward_matches_finite_differences(case):
    x, w, b = case.x.copy(), case.w.copy(), case.b.copy()
    dy = case.dy_like(conv.conv2d(x, w, b, **case.kwargs))

    def loss():
        return float(np.sum(conv.conv2d(x, w, b, **case.kwargs) * dy))

    dx, dw, db = conv.conv2d_backward(x, w, dy, **case.kwargs)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dw, numerical_gradient(loss, w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(db, numerical_gradient(loss, b), rtol=1e-6, atol=1e-6)


# --- output size and "same" padding -------------------------------------------------------


@FAST
@given(
    size=st.integers(1, 12),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]),
)
def test_conv_output_size_and_same_padding_match_tf(size, kernel, stride, dilation, padding):
    k_eff = dilation * (kernel - 1) + 1
    if padding == "valid" and k_eff > size:
        with pytest.raises(ValueError, match="kernel is too large"):
            conv.conv_output_size(size, kernel, stride, padding, dilation)
        return
    x = np.random.default_rng(size).standard_normal((1, size, 3, 1))
    w = np.random.default_rng(kernel).standard_normal((kernel, 1, 1, 1))
    y = tf.nn.conv2d(x, w, strides=(stride, 1), padding=padding.upper(), dilations=(dilation, 1))
    assert conv.conv_output_size(size, kernel, stride, padding, dilation) == y.shape[1]
    if padding == "same":
        before, after = conv.same_padding(size, kernel, stride, dilation)
        explicit = [[0, 0], [before, after], [0, 0], [0, 0]]
        y_explicit = tf.nn.conv2d(
            x, w, strides=(stride, 1), padding=explicit, dilations=(dilation, 1)
        )
        np.testing.assert_array_equal(y.numpy(), y_explicit.numpy())


def test_same_padding_puts_the_extra_pixel_at_the_end():
    assert conv.same_padding(5, 2) == (0, 1)
    assert conv.same_padding(4, 3, stride=2) == (0, 1)
    assert conv.same_padding(28, 3) == (1, 1)
    assert conv.same_padding(7, 3, dilation=2) == (2, 2)
    assert conv.same_padding(8, 1, stride=2) == (0, 0)  # never negative
    assert conv.conv_output_size(28, 3) == 26
    assert conv.conv_output_size(28, 3, padding="same") == 28
    assert conv.conv_output_size(28, 3, stride=2, padding="same") == 14
    assert conv.conv_output_size(7, 3, stride=2, dilation=2) == 2


# --- bad input ----------------------------------------------------------------------------

X = np.zeros((2, 6, 6, 3))
W = np.zeros((3, 3, 3, 4))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: conv.conv2d(np.zeros((6, 6, 3)), W), r"x must be a 4-D", id="x-rank"),
        pytest.param(
            lambda: conv.conv2d(np.zeros((2, 0, 6, 3)), W), r"x must have height", id="x-empty"
        ),
        pytest.param(lambda: conv.conv2d(X, np.zeros((3, 3, 3))), r"w must be a 4-D", id="w-rank"),
        pytest.param(
            lambda: conv.conv2d(X, np.zeros((3, 3, 2, 4))), r"w must have C_in = 3", id="channels"
        ),
        pytest.param(lambda: conv.conv2d(X, W, np.zeros(3)), r"b must have shape", id="b-shape"),
        pytest.param(
            lambda: conv.conv2d(X, W, np.zeros((1, 4))), r"b must have shape", id="b-rank"
        ),
        pytest.param(
            lambda: conv.conv2d(X, W, stride=0), r"stride must be an integer >= 1", id="stride-0"
        ),
        pytest.param(lambda: conv.conv2d(X, W, stride=1.5), r"stride must be", id="stride-float"),
        pytest.param(lambda: conv.conv2d(X, W, stride=(1, 0)), r"stride must be", id="stride-pair"),
        pytest.param(
            lambda: conv.conv2d(X, W, stride=(1, 2, 3)), r"stride must be", id="stride-triple"
        ),
        pytest.param(lambda: conv.conv2d(X, W, stride=True), r"stride must be", id="stride-bool"),
        pytest.param(lambda: conv.conv2d(X, W, dilation=0), r"dilation must be", id="dilation-0"),
        pytest.param(
            lambda: conv.conv2d(X, W, dilation=3), r"w is too large for x", id="dilated-too-big"
        ),
        pytest.param(
            lambda: conv.conv2d(X, np.zeros((7, 3, 3, 4))), r"w is too large", id="kernel-too-big"
        ),
        pytest.param(
            lambda: conv.conv2d(X, W, padding="full"),
            r"padding must be 'valid' or 'same', got 'full'",
            id="padding",
        ),
        pytest.param(
            lambda: conv.conv2d(X, W, padding=None), r"padding must be", id="padding-none"
        ),
        pytest.param(
            lambda: conv.conv2d_naive(X, W, stride=-1), r"stride must be", id="naive-stride"
        ),
        pytest.param(
            lambda: conv.conv2d_backward(X, W, np.zeros((2, 4, 4, 3))),
            r"dy must have shape",
            id="dy-shape",
        ),
        pytest.param(
            lambda: conv.conv2d_backward(X, W[:, :, :2], np.zeros((2, 4, 4, 4))),
            r"w must have C_in",
            id="bwd-w",
        ),
        pytest.param(lambda: conv.conv_output_size(0, 3), r"size must be", id="size-0"),
        pytest.param(lambda: conv.conv_output_size(5, 0), r"kernel must be", id="kernel-0"),
        pytest.param(
            lambda: conv.conv_output_size(5, 3, stride=0), r"stride must be", id="size-stride"
        ),
        pytest.param(
            lambda: conv.conv_output_size(5, 3, padding="full"), r"padding must be", id="size-pad"
        ),
        pytest.param(
            lambda: conv.conv_output_size(5, 3, dilation=3), r"kernel is too large", id="size-big"
        ),
        pytest.param(
            lambda: conv.same_padding(5, 3, dilation=0), r"dilation must be", id="same-dilation"
        ),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: conv.conv2d(X.astype(int), W), r"x must be a float32 or float64", id="x-int"
        ),
        pytest.param(
            lambda: conv.conv2d(X, W.astype(np.float32)), r"w must have the same dtype", id="w-f32"
        ),
        pytest.param(
            lambda: conv.conv2d(X, W, np.zeros(4, np.float32)), r"b must have the same", id="b-f32"
        ),
        pytest.param(
            lambda: conv.conv2d_backward(X, W, np.zeros((2, 4, 4, 4), np.float32)),
            r"dy must have the same dtype",
            id="dy-f32",
        ),
        pytest.param(
            lambda: conv.conv2d(X.astype(np.float16), W), r"got dtype float16", id="x-f16"
        ),
    ],
)
def test_bad_dtype_raises_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_float32_in_float32_out():
    x, w = X.astype(np.float32), W.astype(np.float32)
    assert conv.conv2d(x, w).dtype == np.float32
    assert conv.conv2d_naive(x, w).dtype == np.float32
    dy = np.ones((2, 4, 4, 4), np.float32)
    assert all(g.dtype == np.float32 for g in conv.conv2d_backward(x, w, dy))
