"""The shipped hardened model, models/robust.keras, holds its bounds under attack.

The model is loaded fresh from disk and attacked with FGSM and PGD written here, on their
own, without ``helpers.robustness`` (whose attacks trained and evaluated it): the loss is
computed from the log-softmax by hand, the gradient taken by a tape watching the images, the
projection written as a clip of the perturbation. Bounds (issue 11): at least 98.5% clean
accuracy and 90% under PGD with 20 steps and a random start at eps = 0.1 (L-infinity, inputs
in [0, 1]), on the full 10,000-image test set, and no sign of gradient masking: PGD leaves
no more accuracy than FGSM at the same eps.
"""

import numpy as np
import pytest

from helpers.data import load_mnist
from helpers.env import import_tensorflow
from helpers.paths import shipped_model

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow imports quietly)

BATCH = 1000


@pytest.fixture(scope="module")
def model_and_data():
    model = keras.models.load_model(shipped_model("robust.keras"))
    data = load_mnist(normalize=True, channel_axis=True)
    return model, data.x_test, data.y_test.astype(np.int64)


def _input_gradient(model, x, y):
    """Gradient of the mean cross-entropy with respect to the images (the tape watches them)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        log_p = tf.nn.log_softmax(model(x, training=False), axis=-1)
        picked = tf.gather(log_p, y, axis=1, batch_dims=1)
        loss = -tf.reduce_mean(picked)
    return tape.gradient(loss, x)


@tf.function(reduce_retracing=True)
def _fgsm(model, x, y, eps):
    return tf.clip_by_value(x + eps * tf.sign(_input_gradient(model, x, y)), 0.0, 1.0)


@tf.function(reduce_retracing=True)
def _pgd(model, x, y, eps, alpha, delta):
    for _ in range(20):
        delta = delta + alpha * tf.sign(_input_gradient(model, x + delta, y))
        delta = tf.clip_by_value(delta, -eps, eps)
        delta = tf.clip_by_value(x + delta, 0.0, 1.0) - x
    return x + delta


def _accuracy(model, x, y, attack=None, eps=0.0, seed=0):
    rng = np.random.default_rng(seed)
    right = 0
    for i in range(0, len(x), BATCH):
        xb, yb = tf.constant(x[i:i + BATCH]), tf.constant(y[i:i + BATCH])
        if attack == "fgsm":
            xb = _fgsm(model, xb, yb, tf.constant(eps))
        elif attack == "pgd":
            start = rng.uniform(-eps, eps, xb.shape).astype(np.float32)
            start = np.clip(x[i:i + BATCH] + start, 0.0, 1.0) - x[i:i + BATCH]
            xb = _pgd(model, xb, yb, tf.constant(eps), tf.constant(2.5 * eps / 20), tf.constant(start))
            assert float(tf.reduce_max(tf.abs(xb - x[i:i + BATCH]))) <= eps + 1e-6
        right += int((np.argmax(model(xb, training=False).numpy(), axis=1) == y[i:i + BATCH]).sum())
    return right / len(x)


def test_the_model_is_small_and_takes_images_in_0_1():
    path = shipped_model("robust.keras")
    assert path.stat().st_size < 5e6
    model = keras.models.load_model(path)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert model.layers[-1].get_config().get("activation") in (None, "linear"), "logits out"


def test_clean_and_pgd20_accuracy_on_the_full_test_set(model_and_data):
    model, x, y = model_and_data
    clean = _accuracy(model, x, y)
    pgd = _accuracy(model, x, y, "pgd", 0.1)
    fgsm = _accuracy(model, x, y, "fgsm", 0.1)
    assert clean >= 0.985, f"clean accuracy {clean:.4f}"
    assert pgd >= 0.90, f"PGD-20 at eps 0.1: {pgd:.4f}"
    assert pgd <= fgsm, f"gradient masking? PGD {pgd:.4f} above FGSM {fgsm:.4f} at eps 0.1"


def test_no_gradient_masking_at_eps_0_3(model_and_data):
    model, x, y = model_and_data
    x, y = x[:2000], y[:2000]
    assert _accuracy(model, x, y, "pgd", 0.3) <= _accuracy(model, x, y, "fgsm", 0.3)
