"""Activation functions and their derivatives, from scratch in NumPy (chapter 3, "Activations").

Every function takes an array of any shape and returns an array of the same shape.
float32 and float64 inputs keep their dtype; other real inputs (Python numbers, lists,
integer or boolean arrays, float16) are computed in float64. The definitions follow
TensorFlow's ``tf.nn`` ops, including the value of each derivative at the kink ``z = 0``
(``relu_grad(0) = 0``, ``leaky_relu_grad(0) = alpha``), and the property tests in
``tests/test_scratch_activations.py`` check them against ``tf.nn`` and ``tf.GradientTape``.

The ``*_grad`` functions give the elementwise derivative ``f'(z)``; softmax and
log-softmax are not elementwise, so for them there are vector-Jacobian products
(``softmax_backward``, ``log_softmax_backward``): given the upstream gradient ``dy`` of a
scalar loss with respect to the output, they return its gradient with respect to ``z``.

Numerical care: ``sigmoid`` only ever evaluates ``exp(-|z|)``, which cannot overflow;
``softmax`` subtracts the maximum along ``axis`` first and ``log_softmax`` uses the
log-sum-exp trick, so logits of magnitude 1e4 give finite results and no warnings.

SciPy is not a dependency of the book, so the error function for the exact GELU comes
from the standard library's ``math.erfc`` applied elementwise with ``np.frompyfunc``.
That is accurate to the last bit or so in float64, and costs about 0.1 microseconds per
element (under a tenth of a second per million elements), which is plenty for the
chapter's plots and small demonstrations. ``erfc`` rather than ``erf`` is used because
``0.5 * z * erfc(-z / sqrt(2))`` keeps its relative accuracy for very negative ``z``,
where ``1 + erf(z / sqrt(2))`` would cancel to zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ACTIVATIONS",
    "gelu",
    "gelu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "log_softmax",
    "log_softmax_backward",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_backward",
    "swish",
    "swish_grad",
    "tanh",
    "tanh_grad",
]

#: ``tf.nn.leaky_relu``'s default negative slope. ``keras.activations.leaky_relu`` uses
#: the same 0.2; only the layer ``keras.layers.LeakyReLU`` defaults to 0.3.
LEAKY_RELU_ALPHA = 0.2

# sqrt(2 / pi), the constant in the tanh approximation of GELU (as written in tf.nn.gelu).
_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_CUBIC = 0.044715
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_Elementwise = Callable[[ArrayLike], np.ndarray]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# math.erfc applied elementwise; returns an object array, converted in _erfc.
_erfc_object = np.frompyfunc(math.erfc, 1, 1)


# --------------------------------------------------------------------------------------
# Input checks shared with helpers.scratch.losses
# --------------------------------------------------------------------------------------


def _as_float_array(x: ArrayLike, name: str) -> np.ndarray:
    """Return ``x`` as a float32 or float64 array, or raise ``ValueError`` naming ``name``.

    float32 and float64 arrays are returned unchanged (no copy); other real inputs are
    converted to float64. Complex, string and object inputs are refused.
    """
    array = np.asarray(x)
    if array.dtype in _FLOAT_DTYPES:
        return array
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raise ValueError(f"{name} must be a real-valued (float32 or float64) array, got dtype {array.dtype}")


def _check_axis(axis: object, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative axis of an ``ndim``-D array, or raise ``ValueError``."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} must be in [{-ndim}, {ndim}) for a {ndim}-D input, got {axis}")
    return int(axis) % ndim


def _check_same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{b_name} must have the same shape as {a_name}, {a.shape}, got {b.shape}")


# --------------------------------------------------------------------------------------
# Elementwise activations
# --------------------------------------------------------------------------------------


def relu(z: ArrayLike) -> np.ndarray:
    """Rectified linear unit, ``max(z, 0)``; same shape as ``z`` (chapter 3).

    Matches ``tf.nn.relu``.
    """
    z = _as_float_array(z, "z")
    return np.maximum(z, z.dtype.type(0))


def relu_grad(z: ArrayLike) -> np.ndarray:
    """Return the derivative of :func:`relu`: 1 where ``z > 0``, else 0 (chapter 3).

    Same shape as ``z``. At ``z = 0`` the derivative is taken as 0, as TensorFlow's
    gradient of ``tf.nn.relu`` does.
    """
    z = _as_float_array(z, "z")
    return (z > 0).astype(z.dtype)


def leaky_relu(z: ArrayLike, alpha: float = LEAKY_RELU_ALPHA) -> np.ndarray:
    """Leaky ReLU: ``z`` where ``z > 0``, else ``alpha * z``; same shape as ``z`` (chapter 3).

    The default ``alpha = 0.2`` is that of ``tf.nn.leaky_relu`` and of
    ``keras.activations.leaky_relu`` (the layer ``keras.layers.LeakyReLU`` defaults to
    0.3 instead).
    """
    z = _as_float_array(z, "z")
    return np.where(z > 0, z, z.dtype.type(alpha) * z)


def leaky_relu_grad(z: ArrayLike, alpha: float = LEAKY_RELU_ALPHA) -> np.ndarray:
    """Return the derivative of :func:`leaky_relu`: 1 where ``z > 0``, else ``alpha`` (chapter 3).

    Same shape as ``z``. At ``z = 0`` the derivative is ``alpha``, as in TensorFlow's
    ``LeakyReluGrad``.
    """
    z = _as_float_array(z, "z")
    one, slope = z.dtype.type(1), z.dtype.type(alpha)
    return np.where(z > 0, one, slope)


def sigmoid(z: ArrayLike) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-z))``; same shape as ``z`` (chapter 3).

    Evaluated through ``e = exp(-|z|)``, which lies in (0, 1] and cannot overflow:
    ``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` for ``z < 0``. So ``z = ±1e4`` gives
    exactly 1 and 0 with no overflow warning. Matches ``tf.sigmoid``.
    """
    z = _as_float_array(z, "z")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(z: ArrayLike) -> np.ndarray:
    """Return the derivative of :func:`sigmoid`, ``sigmoid(z) * (1 - sigmoid(z))`` (chapter 3).

    Same shape as ``z``. Written as ``e / (1 + e)**2`` with ``e = exp(-|z|)``, which is the
    same quantity (the derivative is even in ``z``) but keeps its relative accuracy in the
    tails, where ``1 - sigmoid(z)`` would round to zero.
    """
    z = _as_float_array(z, "z")
    e = np.exp(-np.abs(z))
    return e / ((1 + e) * (1 + e))


def tanh(z: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent; same shape as ``z`` (chapter 3). Matches ``tf.tanh``."""
    z = _as_float_array(z, "z")
    return np.tanh(z)


def tanh_grad(z: ArrayLike) -> np.ndarray:
    """Return the derivative of :func:`tanh`, ``1 - tanh(z)**2`` (chapter 3); shape of ``z``."""
    t = tanh(z)
    return 1 - t * t


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function of a float64 array, elementwise via ``math.erfc``."""
    return np.asarray(_erfc_object(x), dtype=np.float64)


def gelu(z: ArrayLike, approximate: bool = False) -> np.ndarray:
    """Gaussian error linear unit ``z * Phi(z)``; same shape as ``z`` (chapter 3).

    ``Phi`` is the standard normal CDF. With ``approximate=False`` the exact form
    ``0.5 * z * erfc(-z / sqrt(2))`` is evaluated in float64 and cast back to the input
    dtype; with ``approximate=True`` the tanh approximation
    ``0.5 * z * (1 + tanh(sqrt(2/pi) * (z + 0.044715 * z**3)))`` is used. Both match
    ``tf.nn.gelu`` (whose default is also ``approximate=False``).
    """
    z = _as_float_array(z, "z")
    if approximate:
        u = _SQRT_2_OVER_PI * (z + z.dtype.type(_GELU_CUBIC) * z * z * z)
        return 0.5 * z * (1 + np.tanh(u))
    x = z.astype(np.float64)
    return (0.5 * x * _erfc(-_SQRT_HALF * x)).astype(z.dtype)


def gelu_grad(z: ArrayLike, approximate: bool = False) -> np.ndarray:
    """Return the derivative of :func:`gelu` with the same ``approximate`` flag (chapter 3).

    Same shape as ``z``. Exact form: ``Phi(z) + z * phi(z)``, with ``phi`` the standard
    normal density (computed in float64, cast back). Tanh form: with
    ``t = tanh(u)``, ``u = sqrt(2/pi) * (z + 0.044715 z**3)``, the derivative is
    ``0.5 * (1 + t) + 0.5 * z * (1 - t**2) * sqrt(2/pi) * (1 + 3 * 0.044715 z**2)``.
    """
    z = _as_float_array(z, "z")
    if approximate:
        c = z.dtype.type(_GELU_CUBIC)
        t = np.tanh(_SQRT_2_OVER_PI * (z + c * z * z * z))
        du = _SQRT_2_OVER_PI * (1 + 3 * c * z * z)
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du
    x = z.astype(np.float64)
    with np.errstate(over="ignore"):  # x*x overflows only where exp(-x*x/2) is 0 anyway
        density = _INV_SQRT_2PI * np.exp(-0.5 * (x * x))
    return (0.5 * _erfc(-_SQRT_HALF * x) + x * density).astype(z.dtype)


def swish(z: ArrayLike) -> np.ndarray:
    """Swish (also called SiLU), ``z * sigmoid(z)``; same shape as ``z`` (chapter 3).

    Matches ``tf.nn.silu`` with its default ``beta = 1``.
    """
    z = _as_float_array(z, "z")
    return z * sigmoid(z)


def swish_grad(z: ArrayLike) -> np.ndarray:
    """Return the derivative of :func:`swish` (chapter 3); same shape as ``z``.

    ``swish'(z) = s + z * s * (1 - s)`` with ``s = sigmoid(z)``.
    """
    z = _as_float_array(z, "z")
    return sigmoid(z) + z * sigmoid_grad(z)


# --------------------------------------------------------------------------------------
# Softmax and log-softmax along one axis
# --------------------------------------------------------------------------------------


def softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    """Softmax ``exp(z) / sum(exp(z))`` along ``axis``; same shape as ``z`` (chapters 3, 4).

    The maximum along ``axis`` is subtracted first (which leaves the result unchanged),
    so every exponent is <= 0 and nothing overflows. Matches ``tf.nn.softmax``.
    """
    z = _as_float_array(z, "z")
    axis = _check_axis(axis, z.ndim)
    if z.size == 0:
        return z.copy()
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    """Log of :func:`softmax` along ``axis``; same shape as ``z`` (chapters 3, 4).

    Computed as ``z - m - log(sum(exp(z - m)))`` with ``m`` the maximum along ``axis``
    (the log-sum-exp trick): the sum is at least 1, so its log is finite, and no
    probability is ever rounded to 0 before the log is taken. Matches
    ``tf.nn.log_softmax``.
    """
    z = _as_float_array(z, "z")
    axis = _check_axis(axis, z.ndim)
    if z.size == 0:
        return z.copy()
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_backward(z: ArrayLike, dy: ArrayLike, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product of :func:`softmax` at ``z`` with upstream gradient ``dy``.

    ``z`` and ``dy`` have the same shape, as does the result ``dz``:
    ``dz = y * (dy - sum(dy * y, axis))`` with ``y = softmax(z, axis)``, which is
    ``dy`` multiplied by the softmax Jacobian without ever forming it (chapters 3, 4).
    """
    z = _as_float_array(z, "z")
    dy = _as_float_array(dy, "dy").astype(z.dtype, copy=False)
    _check_same_shape(z, "z", dy, "dy")
    y = softmax(z, axis=axis)
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax_backward(z: ArrayLike, dy: ArrayLike, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product of :func:`log_softmax` at ``z`` with upstream gradient ``dy``.

    ``z`` and ``dy`` have the same shape, as does the result
    ``dz = dy - softmax(z, axis) * sum(dy, axis)`` (chapters 3, 4).
    """
    z = _as_float_array(z, "z")
    dy = _as_float_array(dy, "dy").astype(z.dtype, copy=False)
    _check_same_shape(z, "z", dy, "dy")
    y = softmax(z, axis=axis)
    return dy - y * np.sum(dy, axis=axis, keepdims=True)


#: Name -> (activation, elementwise derivative), for chapter 3 to loop over when it
#: plots each activation next to its derivative. Softmax is left out: it is not
#: elementwise, so it has no curve to plot.
ACTIVATIONS: dict[str, tuple[_Elementwise, _Elementwise]] = {
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "gelu": (gelu, gelu_grad),
    "swish": (swish, swish_grad),
}
