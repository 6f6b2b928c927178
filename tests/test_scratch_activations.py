"""Property tests of helpers.scratch.activations against TensorFlow.

Every forward function is compared with its ``tf.nn`` counterpart, and every derivative
or vector-Jacobian product with ``tf.GradientTape``, on random shapes (batch 1-4, up to
two more axes, last axis 1-10) in float32 and float64.

Tolerance: ``assert_allclose(ours, tf, rtol=TOL, atol=TOL)``, i.e.
``|ours - tf| <= TOL * (1 + |tf|)``, with TOL = 1e-6 in float64 and 1e-4 in float32.
TensorFlow computes these ops in the input dtype, so float64 is compared in float64.
The observed differences are far smaller (about 1e-15 in float64, 1e-6 in float32),
except for two TensorFlow quirks in float64, which agree only to about 1e-8: the
``alpha`` of ``tf.nn.leaky_relu`` is a float32 op attribute, and ``tf.nn.gelu`` builds
its constants 0.7071067811865476 and 0.044715 with ``tf.cast`` from float32. Our GELU is
checked separately against the standard library's ``math.erfc`` to 1e-13.

Subnormal inputs are not drawn: TensorFlow's CPU kernels flush them to zero, so e.g.
its ReLU gradient at z = 1e-40 is 0 while NumPy's (correctly) is 1.
"""

import functools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tolerance import FAST, assert_close

from helpers.env import import_tensorflow
from helpers.scratch import activations as act

tf = import_tensorflow()


@st.composite
def tensors(draw, bound=20.0, dtype=None):
    """A float32 or float64 array of shape (batch 1-4, [0-2 axes of 1-4], last axis 1-10)."""
    dtype = np.dtype(dtype or draw(st.sampled_from([np.float32, np.float64])))
    shape = (
        (draw(st.integers(1, 4)),)
        + draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
        + (draw(st.integers(1, 10)),)
    )
    elements = st.floats(-bound, bound, width=8 * dtype.itemsize, allow_nan=False, allow_subnormal=False)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def tf_forward_and_grad(fn, z, dy=None):
    """Value of ``fn(z)`` and the vector-Jacobian product with ``dy`` (default: ones)."""
    x = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    dy = None if dy is None else tf.constant(dy)
    return y.numpy(), tape.gradient(y, x, output_gradients=dy).numpy()


# name -> (ours, our derivative, TensorFlow's op)
ELEMENTWISE = {
    "relu": (act.relu, act.relu_grad, tf.nn.relu),
    "leaky_relu": (act.leaky_relu, act.leaky_relu_grad, tf.nn.leaky_relu),
    "sigmoid": (act.sigmoid, act.sigmoid_grad, tf.sigmoid),
    "tanh": (act.tanh, act.tanh_grad, tf.tanh),
    "gelu": (act.gelu, act.gelu_grad, tf.nn.gelu),
    "gelu_tanh": (
        functools.partial(act.gelu, approximate=True),
        functools.partial(act.gelu_grad, approximate=True),
        functools.partial(tf.nn.gelu, approximate=True),
    ),
    "swish": (act.swish, act.swish_grad, tf.nn.silu),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@FAST
@given(z=tensors())
def test_elementwise_matches_tensorflow(name, z):
    ours, ours_grad, reference = ELEMENTWISE[name]
    ref_value, ref_grad = tf_forward_and_grad(reference, z)
    assert_close(ours(z), ref_value, z.dtype)
    assert_close(ours_grad(z), ref_grad, z.dtype)


@FAST
@given(z=tensors(), alpha=st.floats(0.0, 1.0))
def test_leaky_relu_with_alpha_matches_tensorflow(z, alpha):
    ref_value, ref_grad = tf_forward_and_grad(lambda x: tf.nn.leaky_relu(x, alpha=alpha), z)
    assert_close(act.leaky_relu(z, alpha=alpha), ref_value, z.dtype)
    assert_close(act.leaky_relu_grad(z, alpha=alpha), ref_grad, z.dtype)


def test_leaky_relu_default_slope_is_tensorflows():
    import inspect

    import keras

    tf_default = inspect.signature(tf.nn.leaky_relu).parameters["alpha"].default
    keras_default = inspect.signature(keras.activations.leaky_relu).parameters
    assert act.LEAKY_RELU_ALPHA == tf_default == 0.2
    assert keras_default["negative_slope"].default == 0.2


@st.composite
def tensors_with_axis(draw, bound=50.0):
    z = draw(tensors(bound=bound))
    axis = draw(st.integers(-z.ndim, z.ndim - 1))
    dy = draw(hnp.arrays(z.dtype, z.shape, elements=st.floats(-2, 2, width=8 * z.itemsize)))
    return z, axis, dy


@pytest.mark.parametrize(
    "ours, ours_backward, reference",
    [
        (act.softmax, act.softmax_backward, tf.nn.softmax),
        (act.log_softmax, act.log_softmax_backward, tf.nn.log_softmax),
    ],
    ids=["softmax", "log_softmax"],
)
@FAST
@given(case=tensors_with_axis())
def test_softmax_family_matches_tensorflow(ours, ours_backward, reference, case):
    z, axis, dy = case
    ref_value, ref_vjp = tf_forward_and_grad(lambda x: reference(x, axis=axis), z, dy)
    assert_close(ours(z, axis=axis), ref_value, z.dtype)
    assert_close(ours_backward(z, dy, axis=axis), ref_vjp, z.dtype)


def test_gelu_matches_the_standard_library_in_float64():
    z = np.linspace(-10.0, 10.0, 201)
    exact = [0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in z]
    tanh_form = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in z]
    # erfc(x) amplifies the rounding of its argument by about 2x^2 in the tail: rtol 1e-13
    np.testing.assert_allclose(act.gelu(z), exact, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(act.gelu(z, approximate=True), tanh_form, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "swish"])
def test_each_derivative_in_the_table_is_the_slope_of_its_function(name):
    # Central differences of the function itself, in float64, on a grid that avoids the
    # kink at 0 of the ReLUs; their error is of order h**2 times the third derivative.
    f, f_grad = act.ACTIVATIONS[name]
    z, h = np.linspace(-6.05, 6.05, 122), 1e-5
    slope = (f(z + h) - f(z - h)) / (2 * h)
    np.testing.assert_allclose(f_grad(z), slope, rtol=0, atol=1e-7)


def test_tanh_approximate_gelu_derivative_is_its_slope():
    z, h = np.linspace(-6.05, 6.05, 122), 1e-5
    slope = (act.gelu(z + h, approximate=True) - act.gelu(z - h, approximate=True)) / (2 * h)
    np.testing.assert_allclose(act.gelu_grad(z, approximate=True), slope, rtol=0, atol=1e-7)


# ---------------------------------------------------------------------- large inputs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_are_finite_and_exact(dtype):
    z = np.array([1e4, -1e4, 0.0], dtype=dtype)
    expected = {
        act.sigmoid: [1, 0, 0.5],
        act.sigmoid_grad: [0, 0, 0.25],
        act.tanh: [1, -1, 0],
        act.tanh_grad: [0, 0, 1],
        act.swish: [1e4, 0, 0],
        act.swish_grad: [1, 0, 0.5],
        act.gelu: [1e4, 0, 0],
        act.gelu_grad: [1, 0, 0.5],
        functools.partial(act.gelu, approximate=True): [1e4, 0, 0],
        functools.partial(act.gelu_grad, approximate=True): [1, 0, 0.5],
        act.softmax: [1, 0, 0],
        act.log_softmax: [0, -2e4, -1e4],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or invalid-value warning fails
        for fn, values in expected.items():
            result = fn(z)
            assert result.dtype == dtype
            np.testing.assert_allclose(result, values, rtol=1e-6, atol=0, err_msg=str(fn))
        dy = np.array([1.0, 2.0, 3.0], dtype=dtype)
        np.testing.assert_array_equal(act.softmax_backward(z, dy), [0, 0, 0])
        np.testing.assert_array_equal(act.log_softmax_backward(z, dy), [-5, 2, 3])


def test_other_inputs_are_computed_in_float64():
    assert act.relu([-1, 2]).dtype == np.float64
    assert act.softmax(np.arange(3)).dtype == np.float64
    np.testing.assert_allclose(act.gelu(np.float32(1.0)), 0.8413447, rtol=1e-6)


def test_softmax_of_empty_array_is_empty():
    assert act.softmax(np.zeros((0, 3))).shape == (0, 3)
    assert act.log_softmax(np.zeros((2, 0))).shape == (2, 0)


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn", [act.relu, act.sigmoid_grad, act.gelu, act.softmax])
def test_non_real_input_is_refused(fn):
    with pytest.raises(ValueError, match="z must be a real-valued .* got dtype complex128"):
        fn(np.array([1j]))
    with pytest.raises(ValueError, match="z must be a real-valued .* got dtype <U1"):
        fn(["a"])


@pytest.mark.parametrize("fn", [act.softmax, act.log_softmax])
@pytest.mark.parametrize(
    "axis, message",
    [
        (2, r"axis must be in \[-2, 2\) for a 2-D input, got 2"),
        (-3, r"axis must be in \[-2, 2\) for a 2-D input, got -3"),
        (1.0, "axis must be an integer, got 1.0"),
        (True, "axis must be an integer, got True"),
        (None, "axis must be an integer, got None"),
    ],
)
def test_unknown_axis_is_refused(fn, axis, message):
    with pytest.raises(ValueError, match=message):
        fn(np.zeros((2, 3)), axis=axis)


@pytest.mark.parametrize("fn", [act.softmax_backward, act.log_softmax_backward])
def test_backward_refuses_mismatched_dy_and_bad_axis(fn):
    with pytest.raises(ValueError, match=r"dy must have the same shape as z, \(2, 3\), got \(3,"):
        fn(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="axis must be in"):
        fn(np.zeros((2, 3)), np.zeros((2, 3)), axis=5)
