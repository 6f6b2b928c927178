"""helpers.tuning: selection optimism, the learning-rate range test, power-law fits, ensembles."""

import numpy as np
import pytest

from helpers.env import import_tensorflow
from helpers.models import fast_cnn
from helpers.training import Recipe
from helpers.tuning import (
    Rung,
    adopt,
    best_of,
    choose_by_validation,
    ensemble_probs,
    keras_steps,
    lr_range_test,
    power_law_fit,
    selection_optimism,
    smooth,
    try_recipe,
)

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow imports quietly)


def test_choosing_among_equal_models_on_half_a_set_is_optimistic():
    rng = np.random.default_rng(0)
    correct = rng.random((10, 2000)) < 0.9  # ten models, all truly 90% accurate
    out = selection_optimism(correct, repeats=200)
    assert out["optimism"] > 0.005, "the best of ten on half the images looks better than it is"
    assert abs(out["chosen_on_b"] - 0.9) < 0.005, "on fresh images the choice is just a 90% model"


def test_one_clearly_better_model_has_little_optimism():
    rng = np.random.default_rng(1)
    correct = rng.random((3, 4000)) < np.array([[0.5], [0.6], [0.99]])
    out = selection_optimism(correct, repeats=100)
    assert abs(out["optimism"]) < 0.005
    assert out["spread_of_models"] > 0.4


def test_selection_optimism_bad_input():
    with pytest.raises(ValueError, match=r"correct must have shape \(K, N\) with K >= 2"):
        selection_optimism(np.ones((1, 10), bool))
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        selection_optimism(np.ones((2, 10), bool), repeats=0)


def test_power_law_fit_recovers_the_exponent():
    n = np.array([1000, 3000, 10_000, 30_000])
    c, slope = power_law_fit(n, 2.0 * n**-0.4)
    assert c == pytest.approx(2.0) and slope == pytest.approx(-0.4)
    with pytest.raises(ValueError, match="must be positive"):
        power_law_fit([1, 2], [0.1, 0.0])
    with pytest.raises(ValueError, match="same length >= 2"):
        power_law_fit([1], [0.1])


def test_smooth_is_bias_corrected():
    np.testing.assert_allclose(smooth([3.0, 3.0, 3.0]), 3.0)
    s = smooth([0.0, 10.0], beta=0.5)
    assert s[1] == pytest.approx((0.5 * 0.5 * 0 + 0.5 * 10) / (1 - 0.25))
    with pytest.raises(ValueError, match="beta must be in"):
        smooth([1.0], beta=1.0)


def _tiny(n=2048, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.random((n, 28, 28, 1)).astype(np.float32) * 0.1
    x[np.arange(n), 2 * y + 3, 2 * y + 3, 0] = 1.0  # a learnable pixel per class
    return x, y


def test_lr_range_test_rises_geometrically_and_stops_on_divergence():
    x, y = _tiny()
    recipe = Recipe("r", batch_size=32, pipeline="tf.data")
    lrs, losses = lr_range_test(lambda: fast_cnn(width=4), x, y, recipe, lr_min=1e-4, lr_max=10.0, steps=60)
    assert len(lrs) == len(losses) >= 10
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (1e5) ** (1 / 59))
    assert losses.min() < losses[0], "the loss falls at some rate"
    assert len(losses) < 60, "a rate of 10 must blow the loss up before the last step"
    assert not np.isfinite(losses[-1]) or losses[-1] > 4 * np.nanmin(losses[:-1])


def test_lr_range_test_logs_each_steps_own_loss():
    # with a tiny rate the weights barely move, so every step's loss stays near the first
    # (a running mean would agree too); with a big constant rate they must differ from a mean
    x, y = _tiny()
    recipe = Recipe("r", batch_size=32, pipeline="tf.data")
    lrs, losses = lr_range_test(lambda: fast_cnn(width=4), x, y, recipe, lr_min=1e-3, lr_max=1e-2,
                                steps=40, stop_factor=100.0)
    assert len(losses) == 40
    running = np.cumsum(losses) / np.arange(1, 41)
    assert np.abs(losses - running).max() > 0.05


def test_lr_range_test_needs_enough_images():
    x, y = _tiny(100)
    with pytest.raises(ValueError, match="x must hold at least steps \\* batch_size = 320 images, got 100"):
        lr_range_test(lambda: fast_cnn(width=4), x, y, Recipe("r", batch_size=32), steps=10)
    with pytest.raises(ValueError, match="0 < lr_min < lr_max"):
        lr_range_test(lambda: fast_cnn(width=4), x, y, Recipe("r"), lr_min=1.0, lr_max=0.1)


def test_keras_steps_matches_plain_sgd():
    w0 = np.ones((2, 2))
    grads = [np.full((2, 2), 0.5), np.full((2, 2), -1.0)]
    out = keras_steps(keras.optimizers.SGD(0.1), w0, grads)
    np.testing.assert_allclose(out[0], 0.95)
    np.testing.assert_allclose(out[1], 1.05)
    with pytest.raises(ValueError, match=r"grads\[0\] must have the shape of w0"):
        keras_steps(keras.optimizers.SGD(0.1), w0, [np.ones(3)])


def test_ensemble_probs_averages_softmax():
    x, _ = _tiny(8)
    models = [keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
              for _ in range(2)]
    expected = (tf.nn.softmax(models[0](x)) + tf.nn.softmax(models[1](x))).numpy() / 2
    np.testing.assert_allclose(ensemble_probs(models, x), expected, atol=1e-6)
    with pytest.raises(ValueError, match="models must hold at least one"):
        ensemble_probs([], x)


def test_rung_statistics_and_the_adoption_rule():
    base = Rung("base", [0.970, 0.974], [1.0, 3.0])
    assert base.mean == pytest.approx(0.972) and base.spread == pytest.approx(0.002)
    assert base.mean_seconds == 2.0 and "97.20%" in str(base)
    rungs = {"base": base, "noise": Rung("n", [0.971, 0.979], [1.0, 1.0]),
             "clear": Rung("c", [0.9805, 0.9815], [1.0, 1.0])}
    assert best_of(rungs) == "clear" and adopt("base", rungs) == "clear"
    del rungs["clear"]
    assert best_of(rungs) == "noise"
    assert adopt("base", rungs) == "base", "a gain of 0.3 points inside a 0.4-point spread is noise"
    with pytest.raises(ValueError, match="current must be one of the rungs"):
        adopt("missing", rungs)
    with pytest.raises(ValueError, match="rungs must hold at least one"):
        best_of({})


def test_try_recipe_trains_once_per_seed_and_scores_on_validation():
    x, y = _tiny(512)
    xv, yv = _tiny(256, seed=1)
    recipe = Recipe("r", batch_size=64, epochs=1, pipeline="tf.data")
    rung = try_recipe("tiny", lambda: fast_cnn(width=4), x, y, (xv, yv), recipe, seeds=(0, 1),
                      augment={"max_shift": 1.0, "max_rotation": 0.0, "max_zoom": 0.0})
    assert len(rung.accuracies) == len(rung.seconds) == len(rung.models) == 2
    assert rung.accuracies[0] != rung.accuracies[1] or not np.allclose(
        rung.models[0].get_layer("output").kernel.numpy(), rung.models[1].get_layer("output").kernel.numpy())
    pred = rung.models[0].predict(xv, verbose=0).argmax(axis=1)
    assert rung.accuracies[0] == pytest.approx((pred == yv).mean())
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        try_recipe("none", lambda: fast_cnn(width=4), x, y, (xv, yv), recipe, seeds=())


def _log(val: float, seconds: float, test=None) -> dict:
    return {"history": {"val_accuracy": [0.9, val]}, "train_seconds": seconds,
            "validation_images": 6000, "test_accuracy": test}


def test_choose_by_validation_takes_the_best_that_fits_the_time():
    logs = {"slow": _log(0.9990, 700.0), "good": _log(0.9962, 450.0), "fast": _log(0.9950, 300.0)}
    assert choose_by_validation(logs, max_seconds=600) == "good"
    assert choose_by_validation(logs, max_seconds=800) == "slow"


def test_choose_by_validation_breaks_a_tie_of_a_few_images_by_time():
    logs = {"a": _log(0.9965, 500.0), "b": _log(0.9960, 400.0)}  # 3 images apart
    assert choose_by_validation(logs, tie_images=3) == "b"
    assert choose_by_validation(logs, tie_images=2) == "a"


def test_choose_by_validation_refuses_test_scores_and_impossible_budgets():
    with pytest.raises(ValueError, match="validation only"):
        choose_by_validation({"a": _log(0.99, 100.0, test=0.99)})
    with pytest.raises(ValueError, match=r"max_seconds=600 \(the fastest took 900 s\)"):
        choose_by_validation({"a": _log(0.99, 900.0)})
    with pytest.raises(ValueError, match="at least one"):
        choose_by_validation({})
    with pytest.raises(ValueError, match="tie_images"):
        choose_by_validation({"a": _log(0.99, 100.0)}, tie_images=-1)
