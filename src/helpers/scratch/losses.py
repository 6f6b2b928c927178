"""Loss functions and their gradients, from scratch in NumPy (chapter 4, "Losses").

Classification losses take logits or probabilities of shape ``(N, K)`` (N examples,
K classes) and return one loss per example, shape ``(N,)``, like a Keras loss built with
``reduction=None``. Their gradients are taken with respect to the logits and have shape
``(N, K)``; they are the gradients of the per-example losses, so the gradient of the
batch mean is the returned array divided by N.

Regression losses (MSE/L2, MAE/L1, smooth L1/Huber) take two arrays of the same shape
and, like ``keras.losses.MeanSquaredError(reduction=None)`` and
``keras.losses.Huber(reduction=None)``, return the mean over the last axis: one loss per
example for targets of shape ``(N, D)``. With ``elementwise=True`` they return the
per-element loss instead (what chapter 4 plots). Gradients are with respect to the
prediction ``y_hat``.

dtypes: the result has the dtype of the predictions / logits (float32 or float64; other
real inputs are computed in float64); targets are cast to that dtype, as Keras does.

Numerical care: the stable functions go through ``log_softmax`` (log-sum-exp), so
logits of magnitude 1e4 give finite losses and no warnings. :func:`naive_cross_entropy`
is the textbook "softmax, then minus log" form, kept deliberately so the chapter can
show it overflowing to ``nan`` / ``inf`` on such logits.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from helpers.scratch.activations import (
    _as_float_array,
    _check_same_shape,
    log_softmax,
    softmax,
)

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "l1",
    "l1_grad",
    "l2",
    "l2_grad",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "naive_cross_entropy",
    "smooth_l1",
    "smooth_l1_grad",
    "sparse_cross_entropy",
    "sparse_cross_entropy_grad",
]

#: The fuzz factor ``keras.backend.epsilon()``: Keras clips probabilities to
#: ``[KERAS_EPSILON, 1 - KERAS_EPSILON]`` before taking their log.
KERAS_EPSILON = 1e-7


# --------------------------------------------------------------------------------------
# Input checks (the array checks shared with activations live there)
# --------------------------------------------------------------------------------------


def _check_logits(logits: ArrayLike, name: str) -> np.ndarray:
    """Return ``logits`` as a float array of shape ``(N, K)`` with ``K >= 1``, or raise."""
    array = _as_float_array(logits, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D, (examples, classes), got shape {array.shape}")
    if array.shape[1] < 1:
        raise ValueError(f"{name} must have at least one class, got shape {array.shape}")
    return array


def _check_labels(labels: ArrayLike, logits: np.ndarray) -> np.ndarray:
    """Return ``labels`` as an integer array of shape ``(N,)`` with values in ``[0, K)``."""
    array = np.asarray(labels)
    n_examples, n_classes = logits.shape
    if array.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {array.dtype}")
    if array.shape != (n_examples,):
        raise ValueError(
            f"labels must have shape ({n_examples},), one per row of logits "
            f"{logits.shape}, got shape {array.shape}"
        )
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        bad = array[(array < 0) | (array >= n_classes)]
        raise ValueError(f"labels must be in [0, {n_classes}) for {n_classes} classes, got {bad[0]}")
    return array


def _check_real(value: object, name: str) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_label_smoothing(value: object) -> float:
    """Return ``label_smoothing`` as a float in ``[0, 1]``, or raise ``ValueError``."""
    smoothing = _check_real(value, "label_smoothing")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {value!r}")
    return smoothing


def _check_delta(value: object) -> float:
    """Return the Huber ``delta`` as a positive float, or raise ``ValueError``."""
    delta = _check_real(value, "delta")
    if not delta > 0.0:  # also refuses nan
        raise ValueError(f"delta must be > 0, got {value!r}")
    return delta


def _check_pair(
    targets: ArrayLike, predictions: ArrayLike, t_name: str, p_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return targets and predictions as arrays of one shape, in the predictions' dtype."""
    predictions = _as_float_array(predictions, p_name)
    targets = _as_float_array(targets, t_name).astype(predictions.dtype, copy=False)
    _check_same_shape(predictions, p_name, targets, t_name)
    return targets, predictions


def _check_regression(y: ArrayLike, y_hat: ArrayLike, elementwise: bool) -> tuple[np.ndarray, np.ndarray]:
    """Check a regression loss's inputs; the mean over the last axis needs one."""
    y, y_hat = _check_pair(y, y_hat, "y", "y_hat")
    if not elementwise and y_hat.ndim == 0:
        raise ValueError(
            "y_hat must have at least one axis to average over (or pass elementwise=True), got a 0-D array"
        )
    return y, y_hat


def _smooth(targets: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Apply Keras' label smoothing: ``targets * (1 - ls) + ls / K``."""
    if not label_smoothing:
        return targets
    n_classes = targets.shape[-1]
    return targets * (1 - label_smoothing) + label_smoothing / n_classes


def _last_axis_mean(values: np.ndarray, elementwise: bool) -> np.ndarray:
    """Mean over the last axis (Keras' per-example regression loss) unless elementwise."""
    return values if elementwise else np.mean(values, axis=-1)


def _last_axis_mean_grad(grad: np.ndarray, elementwise: bool) -> np.ndarray:
    """Scale an elementwise gradient for the mean over the last axis unless elementwise."""
    return grad if elementwise else grad / grad.shape[-1]


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------


def sparse_cross_entropy(labels: ArrayLike, logits: ArrayLike) -> np.ndarray:
    """Cross-entropy of integer labels under softmax(logits), one loss per example (chapter 4).

    ``labels``: integers in ``[0, K)``, shape ``(N,)``; ``logits``: shape ``(N, K)``;
    result: shape ``(N,)``, ``-log softmax(logits)[i, labels[i]]`` computed with the
    log-sum-exp trick, so it stays finite for logits of magnitude 1e4. Matches
    ``tf.nn.sparse_softmax_cross_entropy_with_logits`` and
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)``.
    """
    logits = _check_logits(logits, "logits")
    labels = _check_labels(labels, logits)
    log_p = log_softmax(logits)[np.arange(logits.shape[0]), labels]
    return 0 - log_p  # rather than -log_p, so that a zero loss prints as 0, not -0


def sparse_cross_entropy_grad(labels: ArrayLike, logits: ArrayLike) -> np.ndarray:
    """Return the gradient of :func:`sparse_cross_entropy` w.r.t. the logits (chapter 4).

    Shape ``(N, K)``: ``softmax(logits) - onehot(labels)``, row ``i`` being the gradient of
    example ``i``'s loss.
    """
    logits = _check_logits(logits, "logits")
    labels = _check_labels(labels, logits)
    grad = softmax(logits)
    grad[np.arange(logits.shape[0]), labels] -= 1
    return grad


def naive_cross_entropy(labels: ArrayLike, logits: ArrayLike) -> np.ndarray:
    """Cross-entropy the unstable way: softmax first, then ``-log p`` (chapter 4).

    Same shapes and same value as :func:`sparse_cross_entropy` for moderate logits. Kept
    on purpose to show what goes wrong: ``exp`` overflows to ``inf`` for logits above
    about 709 in float64 (88 in float32), giving ``inf / inf = nan``, and a probability
    that underflows to 0 gives ``-log 0 = inf``. NumPy's overflow and
    invalid-value warnings are left on, since they are part of what the chapter shows.
    """
    logits = _check_logits(logits, "logits")
    labels = _check_labels(labels, logits)
    e = np.exp(logits)
    p = e / np.sum(e, axis=1, keepdims=True)
    return -np.log(p[np.arange(logits.shape[0]), labels])


def cross_entropy(
    targets: ArrayLike,
    predictions: ArrayLike,
    from_logits: bool = True,
    label_smoothing: float = 0.0,
) -> np.ndarray:
    """Categorical cross-entropy with one-hot or probability targets (chapter 4).

    ``targets`` and ``predictions``: shape ``(N, K)``; result: shape ``(N,)``, the loss
    ``-sum_k t[i, k] * log p[i, k]`` of each example. Same semantics as
    ``keras.losses.CategoricalCrossentropy(from_logits, label_smoothing, reduction=None)``:

    - label smoothing replaces the targets by ``targets * (1 - ls) + ls / K``;
    - ``from_logits=True``: ``log p = log_softmax(predictions)`` (log-sum-exp, stable);
    - ``from_logits=False``: each row of ``predictions`` is divided by its sum, clipped
      to ``[1e-7, 1 - 1e-7]`` (Keras' epsilon) and then logged. Predictions are not
      checked to be non-negative, as Keras does not check them either.

    Targets need not sum to 1; they are not checked either.
    """
    predictions = _check_logits(predictions, "predictions")
    targets, predictions = _check_pair(targets, predictions, "targets", "predictions")
    targets = _smooth(targets, _check_label_smoothing(label_smoothing))
    if from_logits:
        log_p = log_softmax(predictions)
    else:
        p = predictions / np.sum(predictions, axis=-1, keepdims=True)
        log_p = np.log(np.clip(p, KERAS_EPSILON, 1 - KERAS_EPSILON))
    return 0 - np.sum(targets * log_p, axis=-1)  # 0 - x: no -0 for a zero loss


def cross_entropy_grad(
    targets: ArrayLike, logits: ArrayLike, label_smoothing: float = 0.0
) -> np.ndarray:
    """Return the gradient of :func:`cross_entropy` (from logits) w.r.t. the logits.

    Shape ``(N, K)``, for targets and logits of shape ``(N, K)`` (chapter 4). With ``t``
    the (smoothed) targets, the gradient is ``softmax(logits) * sum(t) - t`` per row,
    which is the familiar ``softmax(logits) - t`` when the targets sum to 1. (TensorFlow's
    fused ``softmax_cross_entropy_with_logits``, which Keras uses, returns
    ``softmax(logits) - t`` as its gradient even when they do not, which is then not the
    derivative of the loss it computes.)
    """
    logits = _check_logits(logits, "logits")
    targets, logits = _check_pair(targets, logits, "targets", "logits")
    targets = _smooth(targets, _check_label_smoothing(label_smoothing))
    return softmax(logits) * np.sum(targets, axis=-1, keepdims=True) - targets


# --------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------


def mse(y: ArrayLike, y_hat: ArrayLike, elementwise: bool = False) -> np.ndarray:
    """Mean squared error ``(y_hat - y)**2`` averaged over the last axis (chapter 4).

    ``y`` and ``y_hat``: the same shape ``(..., D)``; result: shape ``(...)``, as
    ``keras.losses.MeanSquaredError(reduction=None)``; or, with ``elementwise=True``, the
    squared errors themselves with the shape of ``y_hat``. :func:`l2` is the same function.
    """
    y, y_hat = _check_regression(y, y_hat, elementwise)
    e = y_hat - y
    return _last_axis_mean(e * e, elementwise)


def mse_grad(y: ArrayLike, y_hat: ArrayLike, elementwise: bool = False) -> np.ndarray:
    """Return the gradient of :func:`mse` w.r.t. ``y_hat``: ``2 (y_hat - y) / D`` (chapter 4).

    Same shape as ``y_hat``; without the ``/ D`` when ``elementwise=True``.
    """
    y, y_hat = _check_regression(y, y_hat, elementwise)
    return _last_axis_mean_grad(2 * (y_hat - y), elementwise)


def mae(y: ArrayLike, y_hat: ArrayLike, elementwise: bool = False) -> np.ndarray:
    """Mean absolute error ``|y_hat - y|`` averaged over the last axis (chapter 4).

    Shapes as for :func:`mse`; matches ``keras.losses.MeanAbsoluteError(reduction=None)``.
    :func:`l1` is the same function.
    """
    y, y_hat = _check_regression(y, y_hat, elementwise)
    return _last_axis_mean(np.abs(y_hat - y), elementwise)


def mae_grad(y: ArrayLike, y_hat: ArrayLike, elementwise: bool = False) -> np.ndarray:
    """Return the gradient of :func:`mae` w.r.t. ``y_hat``: ``sign(y_hat - y) / D`` (chapter 4).

    Same shape as ``y_hat``; without the ``/ D`` when ``elementwise=True``. Where
    ``y_hat == y`` the gradient is 0, as TensorFlow's gradient of ``abs`` is.
    """
    y, y_hat = _check_regression(y, y_hat, elementwise)
    return _last_axis_mean_grad(np.sign(y_hat - y), elementwise)


def smooth_l1(
    y: ArrayLike, y_hat: ArrayLike, delta: float = 1.0, elementwise: bool = False
) -> np.ndarray:
    """Smooth L1 (Huber) loss averaged over the last axis (chapter 4).

    With ``e = y_hat - y``: ``0.5 * e**2`` where ``|e| <= delta``, else
    ``delta * (|e| - 0.5 * delta)``: quadratic near 0 like L2, linear in the tails like
    L1, and continuous with a continuous derivative at ``|e| = delta``. Shapes as for
    :func:`mse`; matches ``keras.losses.Huber(delta, reduction=None)``, which also
    averages over the last axis. ``delta`` must be > 0.
    """
    delta = _check_delta(delta)
    y, y_hat = _check_regression(y, y_hat, elementwise)
    e = y_hat - y
    a = np.abs(e)
    d = y_hat.dtype.type(delta)
    per_element = np.where(a <= d, 0.5 * e * e, d * (a - 0.5 * d))
    return _last_axis_mean(per_element, elementwise)


def smooth_l1_grad(
    y: ArrayLike, y_hat: ArrayLike, delta: float = 1.0, elementwise: bool = False
) -> np.ndarray:
    """Return the gradient of :func:`smooth_l1` w.r.t. ``y_hat`` (chapter 4).

    Same shape as ``y_hat``: the error ``y_hat - y`` clipped to ``[-delta, delta]``,
    divided by ``D`` unless ``elementwise=True``.
    """
    delta = _check_delta(delta)
    y, y_hat = _check_regression(y, y_hat, elementwise)
    d = y_hat.dtype.type(delta)
    return _last_axis_mean_grad(np.clip(y_hat - y, -d, d), elementwise)


#: L2 loss: the same function as :func:`mse` (mean squared error over the last axis).
l2 = mse
#: Gradient of :func:`l2`, the same function as :func:`mse_grad`.
l2_grad = mse_grad
#: L1 loss: the same function as :func:`mae` (mean absolute error over the last axis).
l1 = mae
#: Gradient of :func:`l1`, the same function as :func:`mae_grad`.
l1_grad = mae_grad
