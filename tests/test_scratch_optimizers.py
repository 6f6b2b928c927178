"""helpers.scratch.optimizers against keras.optimizers: the same weights after a few steps.

Each case runs three steps with different gradients from the same start, through the
NumPy step and through the Keras optimizer on a float64 variable, and compares the
weights after every step (tolerance 1e-6 in float64, as the other scratch tests).
"""

import numpy as np
import pytest
from tolerance import assert_close

from helpers.env import import_tensorflow
from helpers.scratch.optimizers import adam_step, adamw_step, momentum_step, sgd_step

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow imports quietly)

RNG = np.random.default_rng(0)
W0 = RNG.normal(size=(3, 4))
GRADS = [RNG.normal(size=(3, 4)) for _ in range(3)]
LR = 0.01
ZERO = np.zeros_like(W0)


def keras_weights(optimizer):
    """Weights after each of the steps over GRADS, taken by the Keras optimizer."""
    var = keras.Variable(W0, dtype="float64")
    out = []
    for g in GRADS:
        optimizer.apply_gradients([(tf.constant(g), var)])
        out.append(var.numpy().copy())
    return out


def scratch_weights(name, **kw):
    w, state, out = W0.copy(), {}, []
    zeros = np.zeros_like(W0)
    for t, g in enumerate(GRADS, start=1):
        if name == "sgd":
            w = sgd_step(w, g, LR, **kw)
        elif name == "momentum":
            w, state["v"] = momentum_step(w, g, state.get("v", zeros), LR, **kw)
        else:
            step = adam_step if name == "adam" else adamw_step
            w, state["m"], state["s"] = step(w, g, state.get("m", zeros), state.get("s", zeros), t, LR, **kw)
        out.append(w)
    return out


CASES = [
    ("sgd", {}, lambda: keras.optimizers.SGD(LR)),
    ("sgd", {"weight_decay": 0.1}, lambda: keras.optimizers.SGD(LR, weight_decay=0.1)),
    ("momentum", {"momentum": 0.9}, lambda: keras.optimizers.SGD(LR, momentum=0.9)),
    ("momentum", {"momentum": 0.5, "weight_decay": 0.05},
     lambda: keras.optimizers.SGD(LR, momentum=0.5, weight_decay=0.05)),
    ("adam", {}, lambda: keras.optimizers.Adam(LR)),
    ("adamw", {"weight_decay": 0.1}, lambda: keras.optimizers.AdamW(LR, weight_decay=0.1)),
]


@pytest.mark.parametrize(("name", "kw", "make"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_steps_match_keras(name, kw, make):
    ours, theirs = scratch_weights(name, **kw), keras_weights(make())
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b, np.float64)
    assert not np.allclose(ours[-1], W0), "three steps must move the weights"


def test_adamw_differs_from_adam_by_the_decay_alone():
    adam, adamw = scratch_weights("adam"), scratch_weights("adamw", weight_decay=0.1)
    first_gap = adam[0] - adamw[0]
    np.testing.assert_allclose(first_gap, LR * 0.1 * W0, rtol=1e-12)


def test_adam_first_step_has_size_lr_per_weight():
    # bias correction makes the first step lr * g / |g| (up to eps): the same size for every weight
    w, _, _ = adam_step(W0, GRADS[0], np.zeros_like(W0), np.zeros_like(W0), 1, LR)
    np.testing.assert_allclose(np.abs(W0 - w), LR, rtol=1e-4)  # eps shortens it a little


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sgd_step(W0, GRADS[0][:2], LR), r"g must have the shape of w \(3, 4\), got \(2, 4\)"),
    (lambda: sgd_step(W0, GRADS[0], 0.0), r"lr must be > 0, got 0.0"),
    (lambda: momentum_step(W0, GRADS[0], np.zeros(3), LR), r"v must have the shape of w"),
    (lambda: momentum_step(W0, GRADS[0], ZERO, LR, momentum=1.0), r"momentum must be in \[0, 1\)"),
    (lambda: adam_step(W0, GRADS[0], ZERO, ZERO, 0, LR), r"t must be the step number"),
    (lambda: adamw_step(W0, GRADS[0], ZERO, ZERO, 1, LR, weight_decay=-1),
     r"weight_decay must be in \[0, 1\)"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
