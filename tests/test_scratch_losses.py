"""Property tests of helpers.scratch.losses against TensorFlow and Keras.

Losses are compared with ``tf.nn`` ops and with Keras loss objects built with
``reduction=None`` (one loss per example), gradients with ``tf.GradientTape``, in float32
and float64, on random batches (1-4 examples, 1-10 classes or features).

Tolerance: ``assert_allclose(ours, reference, rtol=TOL, atol=TOL)``, i.e.
``|ours - reference| <= TOL * (1 + |reference|)``, with TOL = 1e-6 in float64 and 1e-4
in float32.

Keras dtypes: a Keras loss object casts both of its inputs to its own ``dtype``, which
defaults to ``keras.config.floatx()`` = float32, whatever the inputs' dtype; so a
float64 comparison against a default-built Keras loss would really be a comparison
against float32 arithmetic. The float64 cases therefore build the Keras loss with
``dtype="float64"`` (checked below to compute in float64), and the float32 cases use
the default. The ``tf.nn`` ops compute in their inputs' dtype.
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tolerance import FAST, assert_close

from helpers.env import import_tensorflow
from helpers.scratch import losses

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow imports quietly)

DTYPES = st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])



def keras_dtype(dtype):
    """The dtype to build a Keras loss with so that it computes in ``dtype``."""
    return "float64" if dtype == np.float64 else None  # None: floatx, float32


def floats(dtype, low, high):
    """Finite, normal floats of ``dtype`` in [low, high] (bounds rounded to ``dtype``)."""
    low, high = float(dtype.type(low)), float(dtype.type(high))
    return st.floats(low, high, width=8 * dtype.itemsize, allow_nan=False, allow_subnormal=False)


def value_and_grad(loss_fn, target, prediction):
    """``loss_fn(target, prediction)`` per example, and d(sum of losses)/d(prediction)."""
    x = tf.constant(prediction)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_fn(tf.constant(target), x)
    return loss.numpy(), tape.gradient(loss, x).numpy()


# ---------------------------------------------------------------------- classification


@st.composite
def classification(draw, bound=30.0):
    """(labels (N,), logits (N, K)) with N in 1-4 and K in 1-10."""
    dtype = draw(DTYPES)
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 10))
    logits = draw(hnp.arrays(dtype, (n, k), elements=floats(dtype, -bound, bound)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return labels, logits


@FAST
@given(case=classification())
def test_sparse_cross_entropy_matches_tf_nn(case):
    labels, logits = case
    ref, ref_grad = value_and_grad(
        lambda y, x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x),
        labels,
        logits,
    )
    assert_close(losses.sparse_cross_entropy(labels, logits), ref, logits.dtype)
    assert_close(losses.sparse_cross_entropy_grad(labels, logits), ref_grad, logits.dtype)


@FAST
@given(case=classification())
def test_sparse_cross_entropy_matches_keras(case):
    labels, logits = case
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None, dtype=keras_dtype(logits.dtype)
    )
    ref, ref_grad = value_and_grad(loss, labels, logits)
    assert_close(losses.sparse_cross_entropy(labels, logits), ref, logits.dtype)
    assert_close(losses.sparse_cross_entropy_grad(labels, logits), ref_grad, logits.dtype)


@FAST
@given(case=classification(bound=20.0))
def test_naive_cross_entropy_agrees_for_moderate_logits(case):
    labels, logits = case
    assert_close(
        losses.naive_cross_entropy(labels, logits), losses.sparse_cross_entropy(labels, logits), logits.dtype
    )


@st.composite
def categorical(draw, targets="distributions", probabilities=False):
    """(targets (N, K), predictions (N, K), label_smoothing).

    ``targets="distributions"``: one-hot rows or random rows summing to 1;
    ``targets="weights"``: arbitrary non-negative weights (Keras does not require them to
    sum to 1). Predictions are logits, or, with ``probabilities=True``, non-negative
    unnormalised scores with some exact zeros and tiny values, so that Keras'
    normalisation and its clipping to [1e-7, 1 - 1e-7] are both exercised.
    """
    dtype = draw(DTYPES)
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 10))
    if targets == "distributions" and draw(st.booleans()):
        labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
        target = np.eye(k, dtype=dtype)[labels]
    else:
        target = draw(hnp.arrays(dtype, (n, k), elements=floats(dtype, 0.0, 1.0)))
        if targets == "distributions":
            assume(np.all(target.sum(axis=1) > 0.01))
            target = target / target.sum(axis=1, keepdims=True)
    if probabilities:
        scores = st.one_of(st.just(0.0), floats(dtype, 1e-12, 1e-6), floats(dtype, 1e-3, 1.0))
        predictions = draw(hnp.arrays(dtype, (n, k), elements=scores))
        assume(np.all(predictions.sum(axis=1) > 0))
    else:
        predictions = draw(hnp.arrays(dtype, (n, k), elements=floats(dtype, -30.0, 30.0)))
    smoothing = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    return target, predictions, smoothing


def keras_categorical(from_logits, smoothing, dtype):
    loss = keras.losses.CategoricalCrossentropy(
        from_logits=from_logits,
        label_smoothing=smoothing,
        reduction=None,
        dtype=keras_dtype(dtype),
    )

    def call(targets, predictions):
        with warnings.catch_warnings():  # Keras warns about a single class (K = 1)
            warnings.simplefilter("ignore", SyntaxWarning)
            return loss(targets, predictions)

    return call


@FAST
@given(case=categorical())
def test_cross_entropy_from_logits_matches_keras(case):
    targets, logits, smoothing = case
    loss = keras_categorical(True, smoothing, logits.dtype)
    ref, ref_grad = value_and_grad(loss, targets, logits)
    ours = losses.cross_entropy(targets, logits, from_logits=True, label_smoothing=smoothing)
    assert_close(ours, ref, logits.dtype)
    assert_close(losses.cross_entropy_grad(targets, logits, smoothing), ref_grad, logits.dtype)


def smoothed_cross_entropy_unfused(smoothing):
    """-sum(t * log_softmax(x)) with Keras' label smoothing, differentiated op by op."""

    def call(targets, logits):
        if smoothing:
            targets = targets * (1 - smoothing) + smoothing / targets.shape[-1]
        return -tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1)

    return call


@FAST
@given(case=categorical(targets="weights"))
def test_cross_entropy_with_unnormalised_targets(case):
    # The loss value still matches Keras. The gradient is compared with the op-by-op
    # formula instead: TensorFlow's fused softmax_cross_entropy_with_logits (which Keras
    # calls) returns softmax - targets as its gradient, which is the derivative only when
    # each row of targets sums to 1 (see the next test).
    targets, logits, smoothing = case
    ref = keras_categorical(True, smoothing, logits.dtype)(targets, logits)
    ours = losses.cross_entropy(targets, logits, label_smoothing=smoothing)
    assert_close(ours, ref, logits.dtype)
    _, ref_grad = value_and_grad(smoothed_cross_entropy_unfused(smoothing), targets, logits)
    assert_close(losses.cross_entropy_grad(targets, logits, smoothing), ref_grad, logits.dtype)


def test_fused_tensorflow_gradient_assumes_targets_sum_to_one():
    targets, logits = np.array([[2.0, 0.0]]), np.array([[0.0, 0.0]])
    # The fused kernel itself: with op determinism on (as after helpers.env.seed_everything),
    # tf.nn.softmax_cross_entropy_with_logits takes an op-by-op path with the true gradient.
    _, tf_grad = tf.raw_ops.SoftmaxCrossEntropyWithLogits(features=logits, labels=targets)
    np.testing.assert_allclose(tf_grad.numpy(), [[0.5 - 2.0, 0.5]])  # softmax - targets
    # loss = -2 log softmax(x)_0, whose derivative is 2 softmax(x) - targets
    np.testing.assert_allclose(losses.cross_entropy_grad(targets, logits), [[-1.0, 1.0]])


@FAST
@given(case=categorical(probabilities=True))
def test_cross_entropy_from_probabilities_matches_keras(case):
    targets, probabilities, smoothing = case
    ref = keras_categorical(False, smoothing, probabilities.dtype)(targets, probabilities)
    ours = losses.cross_entropy(targets, probabilities, from_logits=False, label_smoothing=smoothing)
    assert_close(ours, ref, probabilities.dtype)


def test_default_keras_loss_computes_in_float32_and_float64_on_request():
    x = np.array([[0.1, 0.2, 0.7]])
    y = np.array([[0.0, 0.0, 1.0]])
    assert keras.losses.CategoricalCrossentropy(reduction=None)(y, x).dtype == tf.float32
    loss = keras.losses.CategoricalCrossentropy(reduction=None, dtype="float64")
    assert loss(y, x).dtype == tf.float64
    np.testing.assert_allclose(loss(y, x), -np.log(0.7), rtol=1e-15)


def test_clipping_uses_keras_epsilon():
    assert keras.config.epsilon() == losses.KERAS_EPSILON == 1e-7
    loss = losses.cross_entropy([[1.0, 0.0]], [[0.0, 1.0]], from_logits=False)
    np.testing.assert_allclose(loss, -np.log(1e-7), rtol=1e-12)


# ---------------------------------------------------------------------- regression


@st.composite
def regression(draw):
    """(y, y_hat, delta): the same shape (batch 1-4, [0-2 axes], last axis 1-10)."""
    dtype = draw(DTYPES)
    shape = (
        (draw(st.integers(1, 4)),)
        + draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
        + (draw(st.integers(1, 10)),)
    )
    y = draw(hnp.arrays(dtype, shape, elements=floats(dtype, -10.0, 10.0)))
    y_hat = draw(hnp.arrays(dtype, shape, elements=floats(dtype, -10.0, 10.0)))
    delta = draw(st.floats(0.05, 5.0))
    return y, y_hat, delta


def _keras_regression(name, delta, dtype):
    kwargs = {"reduction": None, "dtype": keras_dtype(dtype)}
    if name == "huber":
        return keras.losses.Huber(delta, **kwargs)
    if name == "mse":
        return keras.losses.MeanSquaredError(**kwargs)
    return keras.losses.MeanAbsoluteError(**kwargs)


REGRESSION = {
    "huber": (losses.smooth_l1, losses.smooth_l1_grad),
    "mse": (losses.mse, losses.mse_grad),
    "mae": (losses.mae, losses.mae_grad),
}


@pytest.mark.parametrize("name", REGRESSION)
@FAST
@given(case=regression())
def test_regression_loss_matches_keras(name, case):
    y, y_hat, delta = case
    ours, ours_grad = REGRESSION[name]
    kwargs = {"delta": delta} if name == "huber" else {}
    keras_loss = _keras_regression(name, delta, y_hat.dtype)
    # Mean over the last axis, as Keras.
    ref, ref_grad = value_and_grad(keras_loss, y, y_hat)
    assert_close(ours(y, y_hat, **kwargs), ref, y_hat.dtype)
    assert_close(ours_grad(y, y_hat, **kwargs), ref_grad, y_hat.dtype)
    # Elementwise: the same Keras loss over a trailing axis of length 1.
    ref, ref_grad = value_and_grad(keras_loss, y[..., None], y_hat[..., None])
    assert_close(ours(y, y_hat, elementwise=True, **kwargs), ref, y_hat.dtype)
    assert_close(ours_grad(y, y_hat, elementwise=True, **kwargs), ref_grad[..., 0], y_hat.dtype)


def test_l1_and_l2_by_hand():
    # errors e = y_hat - y of -3, 0.5 and 2 in one example of three values
    y, y_hat = np.array([[1.0, 0.0, -1.0]]), np.array([[-2.0, 0.5, 1.0]])
    np.testing.assert_allclose(losses.l2(y, y_hat), [(9 + 0.25 + 4) / 3])
    np.testing.assert_allclose(losses.l1(y, y_hat), [(3 + 0.5 + 2) / 3])
    np.testing.assert_allclose(losses.l2_grad(y, y_hat), [[-6 / 3, 1 / 3, 4 / 3]])
    np.testing.assert_allclose(losses.l1_grad(y, y_hat), [[-1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_array_equal(losses.l2(y, y_hat, elementwise=True), [[9, 0.25, 4]])
    np.testing.assert_array_equal(losses.l1_grad(y, y_hat, elementwise=True), [[-1, 1, 1]])


def test_smooth_l1_by_hand():
    e = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    y = np.zeros_like(e)
    np.testing.assert_array_equal(
        losses.smooth_l1(y, e, elementwise=True), [2.5, 0.5, 0.125, 0, 0.125, 0.5, 2.5]
    )
    np.testing.assert_array_equal(losses.smooth_l1_grad(y, e, elementwise=True), [-1, -1, -0.5, 0, 0.5, 1, 1])
    np.testing.assert_allclose(losses.smooth_l1(y, e, delta=2.0), np.mean([4, 0.5, 0.125, 0, 0.125, 0.5, 4]))


# ---------------------------------------------------------------------- large logits

LARGE_LOGITS = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
LARGE_LABELS = np.array([0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_losses_are_finite_and_exact_for_large_logits(dtype):
    logits = LARGE_LOGITS.astype(dtype)
    onehot = np.eye(3, dtype=dtype)[LARGE_LABELS]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or invalid-value warning fails
        results = {
            "sparse": (losses.sparse_cross_entropy(LARGE_LABELS, logits), [0, 2e4]),
            "sparse_grad": (
                losses.sparse_cross_entropy_grad(LARGE_LABELS, logits),
                [[0, 0, 0], [-1, 1, 0]],
            ),
            "categorical": (losses.cross_entropy(onehot, logits), [0, 2e4]),
            # smoothed targets (0.9 + 0.1/3, 0.1/3, 0.1/3): 0.1/3 * (2e4 + 1e4) in row 0
            "smoothed": (losses.cross_entropy(onehot, logits, label_smoothing=0.1), [1e3, 1.9e4]),
            "categorical_grad": (losses.cross_entropy_grad(onehot, logits), [[0, 0, 0], [-1, 1, 0]]),
        }
    for name, (result, expected) in results.items():
        assert result.dtype == dtype, name
        np.testing.assert_allclose(result, expected, rtol=1e-6, atol=0, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_naive_cross_entropy_breaks_for_large_logits(dtype):
    with pytest.warns(RuntimeWarning):
        loss = losses.naive_cross_entropy(LARGE_LABELS, LARGE_LOGITS.astype(dtype))
    assert np.isnan(loss[0])  # exp(1e4) = inf, and inf / inf = nan
    assert np.isinf(loss[1])  # exp(-1e4) / inf = 0, and -log 0 = inf


# ---------------------------------------------------------------------- bad input

LOGITS = np.zeros((2, 3))


@pytest.mark.parametrize(
    "fn", [losses.sparse_cross_entropy, losses.sparse_cross_entropy_grad, losses.naive_cross_entropy]
)
@pytest.mark.parametrize(
    "labels, logits, message",
    [
        ([0, 3], LOGITS, r"labels must be in \[0, 3\) for 3 classes, got 3"),
        ([-1, 0], LOGITS, r"labels must be in \[0, 3\) for 3 classes, got -1"),
        ([0.0, 1.0], LOGITS, "labels must be integers, got dtype float64"),
        ([0, 1, 2], LOGITS, r"labels must have shape \(2,\), .* got shape \(3,\)"),
        ([[0, 1]], LOGITS, r"labels must have shape \(2,\), .* got shape \(1, 2\)"),
        ([0, 1], np.zeros(3), r"logits must be 2-D, \(examples, classes\), got shape \(3,\)"),
        ([0], np.zeros((1, 2, 3)), r"logits must be 2-D, .* got shape \(1, 2, 3\)"),
        ([], np.zeros((0, 0)), r"logits must have at least one class, got shape \(0, 0\)"),
        ([0], [["a"]], "logits must be a real-valued .* got dtype <U1"),
    ],
)
def test_sparse_bad_input_is_refused(fn, labels, logits, message):
    with pytest.raises(ValueError, match=message):
        fn(labels, logits)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5, float("nan"), "0.1", None])
def test_label_smoothing_outside_0_1_is_refused(smoothing):
    targets = np.eye(3)[:2]
    with pytest.raises(ValueError, match="label_smoothing must be"):
        losses.cross_entropy(targets, LOGITS, label_smoothing=smoothing)
    with pytest.raises(ValueError, match="label_smoothing must be"):
        losses.cross_entropy_grad(targets, LOGITS, label_smoothing=smoothing)


def test_categorical_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"targets must have the same shape as predictions"):
        losses.cross_entropy(np.eye(3), LOGITS)
    with pytest.raises(ValueError, match=r"targets must have the same shape as logits, \(2, 3\)"):
        losses.cross_entropy_grad(np.eye(2), LOGITS)
    with pytest.raises(ValueError, match=r"predictions must be 2-D, .* got shape \(3,\)"):
        losses.cross_entropy(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="targets must be a real-valued"):
        losses.cross_entropy(np.array([[1j]]), np.ones((1, 1)))


@pytest.mark.parametrize("fn", [losses.smooth_l1, losses.smooth_l1_grad])
@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan"), "1", None])
def test_non_positive_delta_is_refused(fn, delta):
    with pytest.raises(ValueError, match="delta must be"):
        fn(np.zeros(3), np.ones(3), delta=delta)


@pytest.mark.parametrize(
    "fn", [losses.mse, losses.mse_grad, losses.mae, losses.mae_grad, losses.smooth_l1, losses.smooth_l1_grad]
)
def test_regression_bad_shapes_are_refused(fn):
    with pytest.raises(ValueError, match=r"y must have the same shape as y_hat, \(2, 3\), got \(3,"):
        fn(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="y_hat must have at least one axis"):
        fn(1.0, 2.0)
    assert np.shape(fn(1.0, 2.0, elementwise=True)) == ()
