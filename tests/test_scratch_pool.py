"""Property tests of helpers.scratch.pool against TensorFlow.

Random cases (hypothesis): batch 1-4, height and width 1-12, channels 1-5, pool 1-5 per
axis, stride 1-3 per axis or the default (= pool), "valid" and "same" padding, float32
and float64. A "valid" pool larger than the input is never drawn (the height/width is
drawn from [pool, 12]); TensorFlow must not be called with one: its CPU max-pool kernel
dies with a floating-point exception (SIGFPE) on it instead of raising.

- Forward: ``max_pool2d`` / ``avg_pool2d`` against ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d``.
- Backward: against ``tf.GradientTape``. The data is continuous random normal, so the
  maximum of a window is unique; a separate test checks ties (TensorFlow sends the whole
  gradient to the first maximum of the window in row-major order).
- One exception: when a "same" window is larger than the input along an axis (so it
  hangs over both borders), TensorFlow 2.21's generic CPU AvgPoolGrad kernel (used for
  float64, and for float32 with ``TF_ENABLE_ONEDNN_OPTS=0``) returns a wrong gradient,
  one that disagrees with its own forward pass; oneDNN's float32 kernel is right. There
  the average-pooling gradient is checked with the adjoint identity
  ``<dx, v> = <dy, tf.nn.avg_pool2d(v)>`` for random ``v`` (exact, since average pooling
  is linear), using TensorFlow's forward pass.
- Every bad-input error, with the argument's name in the message.

Tolerance: ``assert_allclose(ours, tf, rtol=TOL, atol=TOL)``, i.e.
``|ours - tf| <= TOL * (1 + |tf|)``, with TOL = 1e-6 in float64 and 1e-4 in float32.
The inputs are passed to TensorFlow as ``tf.constant`` tensors: given a float64 NumPy
array directly, ``tf.nn.max_pool2d`` silently converts it to float32 (the op's default
dtype) and returns float32, which agrees with the exact result only to about 1e-7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerance import FAST, assert_close

from helpers.env import import_tensorflow
from helpers.scratch import pool

tf = import_tensorflow()


# name -> (our forward, our backward, TensorFlow's forward)
POOLS = {
    "max": (pool.max_pool2d, pool.max_pool2d_backward, tf.nn.max_pool2d),
    "avg": (pool.avg_pool2d, pool.avg_pool2d_backward, tf.nn.avg_pool2d),
}



def pair(value):
    """``(h, w)`` from an int or a pair."""
    return tuple(value) if isinstance(value, tuple) else (value, value)


def int_or_pair(low, high):
    """An int in [low, high], or a pair of them."""
    return st.one_of(
        st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high))
    )


@dataclass
class Case:
    """One random pooling: input, keyword arguments and a generator for ``dy``."""

    x: np.ndarray
    kwargs: dict
    rng: np.random.Generator

    def tf_kwargs(self):
        """The same pooling in ``tf.nn``'s terms (explicit strides, upper-case padding)."""
        size = pair(self.kwargs["pool"])
        stride = self.kwargs["stride"]
        return dict(
            ksize=size,
            strides=size if stride is None else pair(stride),
            padding=self.kwargs["padding"].upper(),
        )


@st.composite
def pool_cases(draw, dtype=None, elements=None):
    """A random pooling whose window fits the input when the padding is "valid"."""
    dtype = np.dtype(dtype or draw(st.sampled_from([np.float32, np.float64])))
    padding = draw(st.sampled_from(["valid", "same"]))
    size = draw(int_or_pair(1, 5))
    stride = draw(st.one_of(st.none(), int_or_pair(1, 3)))
    sides = [draw(st.integers(k if padding == "valid" else 1, 12)) for k in pair(size)]
    shape = (draw(st.integers(1, 4)), *sides, draw(st.integers(1, 5)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(shape) if elements is None else elements(rng, shape)).astype(dtype)
    return Case(x, dict(pool=size, stride=stride, padding=padding), rng)


def tf_grad(tf_pool, case, dy):
    """``dx`` from ``tf.GradientTape`` for the case, given the output gradient."""
    x = tf.constant(case.x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf_pool(x, **case.tf_kwargs())
    return tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()


@pytest.mark.parametrize("kind", POOLS)
@FAST
@given(case=pool_cases())
def test_pool_matches_tf(kind, case):
    ours, _, reference = POOLS[kind]
    expected = reference(tf.constant(case.x), **case.tf_kwargs())
    assert expected.dtype == case.x.dtype
    assert_close(ours(case.x, **case.kwargs), expected, case.x.dtype)


@pytest.mark.parametrize("kind", POOLS)
@FAST
@given(case=pool_cases())
def test_pool_backward_matches_tf(kind, case):
    forward, backward, reference = POOLS[kind]
    y = forward(case.x, **case.kwargs)
    dy = case.rng.standard_normal(y.shape).astype(case.x.dtype)
    dx = backward(case.x, dy, **case.kwargs)
    assert dx.shape == case.x.shape
    if kind == "avg" and overhangs_both_borders(case):
        # TensorFlow's AvgPoolGrad kernel is wrong here (see the module docstring). Average
        # pooling is linear, so check the adjoint identity <dx, v> = <dy, avg_pool(v)>
        # against TensorFlow's (correct) forward pass instead.
        for _ in range(3):
            v = case.rng.standard_normal(case.x.shape).astype(case.x.dtype)
            pooled_v = reference(tf.constant(v), **case.tf_kwargs()).numpy()
            assert_close(np.vdot(dx, v), np.vdot(dy, pooled_v), case.x.dtype)
    else:
        assert_close(dx, tf_grad(reference, case, dy), case.x.dtype)


def overhangs_both_borders(case):
    """Whether a "same" window is taller or wider than the input (so hangs over both sides)."""
    height, width = case.x.shape[1:3]
    pool_h, pool_w = pair(case.kwargs["pool"])
    return case.kwargs["padding"] == "same" and (pool_h > height or pool_w > width)


def test_avg_pool_backward_with_window_wider_than_input():
    """A case TensorFlow's own AvgPoolGrad gets wrong (it gives [0.75, 1.083, 1.083, 1.083]).

    Width 4, window 5, stride 1, "same": output j averages the input columns
    [j - 2, j + 2] that exist, i.e. 3, 4, 4 and 3 of them.
    """
    x = np.array([0.1, -0.1, 0.6, 0.1]).reshape(1, 1, 4, 1)
    dx = pool.avg_pool2d_backward(x, np.ones((1, 1, 4, 1)), pool=(1, 5), stride=1, padding="same")
    third, quarter = 1 / 3, 1 / 4
    expected = [
        third + 2 * quarter,
        2 * third + 2 * quarter,
        2 * third + 2 * quarter,
        third + 2 * quarter,
    ]
    np.testing.assert_allclose(dx.ravel(), expected, rtol=1e-12)
    # ...which is the gradient of TensorFlow's forward pass: it is linear in x.
    forward = tf.nn.avg_pool2d(tf.constant(np.eye(4).reshape(4, 1, 4, 1)), (1, 5), 1, "SAME")
    np.testing.assert_allclose(dx.ravel(), forward.numpy().sum(axis=(1, 2, 3)), rtol=1e-12)


def small_integers(rng, shape):
    """Values in {0, 1, 2}: most windows have tied maxima."""
    return rng.integers(0, 3, size=shape)


@settings(max_examples=40, deadline=None)
@given(case=pool_cases(elements=small_integers))
def test_max_pool_backward_ties_match_tf(case):
    y = pool.max_pool2d(case.x, **case.kwargs)
    dy = case.rng.standard_normal(y.shape).astype(case.x.dtype)
    dx = pool.max_pool2d_backward(case.x, dy, **case.kwargs)
    assert_close(dx, tf_grad(tf.nn.max_pool2d, case, dy), case.x.dtype)


def test_max_pool_tie_goes_to_first_maximum_in_row_major_order():
    x = np.array([[0.0, 2.0, 2.0], [2.0, 0.0, 2.0], [1.0, 2.0, 2.0]]).reshape(1, 3, 3, 1)
    dx = pool.max_pool2d_backward(x, np.ones((1, 2, 2, 1)), pool=2, stride=1)
    # Windows at (0,0), (0,1) -> cell (0,1); (1,0) -> cell (1,0); (1,1) -> cell (1,2).
    expected = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_same_padding_is_not_counted():
    x = np.ones((1, 3, 3, 1), np.float32)
    # "same" with pool 2, stride 2 pads one row and column at the bottom/right.
    np.testing.assert_array_equal(pool.avg_pool2d(x, 2, padding="same"), np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(pool.max_pool2d(-x, 2, padding="same"), -np.ones((1, 2, 2, 1)))
    dx = pool.avg_pool2d_backward(x, np.ones((1, 2, 2, 1), np.float32), 2, padding="same")
    np.testing.assert_allclose(
        dx[0, :, :, 0], [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]]
    )


def test_stride_defaults_to_pool_and_pairs_work():
    x = np.random.default_rng(0).standard_normal((2, 7, 9, 3))
    np.testing.assert_array_equal(pool.max_pool2d(x, 3), pool.max_pool2d(x, (3, 3), stride=3))
    y = pool.avg_pool2d(x, (2, 3), stride=(1, 2), padding="SAME")
    assert y.shape == (2, 7, 5, 3)


# --- bad input ----------------------------------------------------------------------------

X = np.zeros((2, 6, 6, 3))


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        pytest.param((np.zeros((6, 6, 3)),), {}, r"x must be a 4-D", id="x-rank"),
        pytest.param((np.zeros((2, 6, 0, 3)),), {}, r"x must have height", id="x-empty"),
        pytest.param((X,), dict(pool=0), r"pool must be an integer >= 1", id="pool-0"),
        pytest.param((X,), dict(pool=(2, 2.0)), r"pool must be", id="pool-float"),
        pytest.param((X,), dict(pool=7), r"pool is too large for x", id="pool-too-big"),
        pytest.param(
            (X,), dict(pool=(2, 7)), r"pool is too large for x: window width 7", id="pool-wide"
        ),
        pytest.param((X,), dict(stride=0), r"stride must be an integer >= 1", id="stride-0"),
        pytest.param((X,), dict(stride="2"), r"stride must be", id="stride-str"),
        pytest.param(
            (X,),
            dict(padding="full"),
            r"padding must be 'valid' or 'same', got 'full'",
            id="padding",
        ),
    ],
)
def test_bad_input_raises_value_error(kind, args, kwargs, match):
    forward, backward, _ = POOLS[kind]
    with pytest.raises(ValueError, match=match):
        forward(*args, **kwargs)
    with pytest.raises(ValueError, match=match):
        backward(*args, np.zeros((2, 3, 3, 3)), **kwargs)


@pytest.mark.parametrize("kind", POOLS)
def test_bad_dy_and_dtype(kind):
    forward, backward, _ = POOLS[kind]
    with pytest.raises(
        ValueError, match=r"dy must have shape \(N, H_out, W_out, C\) = \(2, 3, 3, 3\)"
    ):
        backward(X, np.zeros((2, 3, 3, 1)))
    with pytest.raises(TypeError, match=r"dy must have the same dtype as x"):
        backward(X, np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(TypeError, match=r"x must be a float32 or float64 array, got dtype int"):
        forward(X.astype(int))


@pytest.mark.parametrize("kind", POOLS)
def test_float32_in_float32_out(kind):
    forward, backward, _ = POOLS[kind]
    x = X.astype(np.float32)
    assert forward(x).dtype == np.float32
    assert backward(x, np.ones((2, 3, 3, 3), np.float32)).dtype == np.float32
