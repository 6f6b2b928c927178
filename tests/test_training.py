import dataclasses

import numpy as np
import pytest

from helpers.cost import total_cost
from helpers.data import Mnist
from helpers.env import import_tensorflow
from helpers.models import fast_cnn
from helpers.training import (
    FAST,
    ORIGINAL,
    Recipe,
    build_for,
    make_dataset,
    one_cycle,
    run_recipe,
    total_steps,
    warm_up,
)

import_tensorflow()


def _tiny_data(n=256, n_test=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n + n_test, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n + n_test).astype(np.uint8)
    empty = np.zeros((0, 28, 28, 1), np.float32)
    return Mnist(x[:n], y[:n], empty, y[:0], x[n:], y[n:])


def test_make_dataset_batches_everything_once():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10)
    batches = list(make_dataset(x, y, batch_size=4, seed=1))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))


@pytest.mark.parametrize("batch", [0, 11, 2.5])
def test_make_dataset_bad_batch(batch):
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 10\]"):
        make_dataset(np.zeros((10, 1, 1, 1)), np.zeros(10), batch_size=batch)


def test_one_cycle_warms_up_then_decays():
    lr = one_cycle(0.01, total_steps=100, warmup_fraction=0.2, final_fraction=0.01)
    values = [float(lr(s)) for s in (0, 10, 20, 60, 100)]
    assert values[0] == pytest.approx(0.001)
    assert values[0] < values[1] < values[2] == pytest.approx(0.01)
    assert values[2] > values[3] > values[4] == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"peak_lr": 0}, "peak_lr must be > 0"), ({"total_steps": 1}, "total_steps must be an integer >= 2"),
     ({"warmup_fraction": 1.0}, r"warmup_fraction must be in \[0, 1\)")],
)
def test_one_cycle_bad_arguments(kwargs, match):
    args = {"peak_lr": 0.01, "total_steps": 100} | kwargs
    with pytest.raises(ValueError, match=match):
        one_cycle(**args)


def test_fast_cnn_cost_by_hand():
    cost = total_cost(fast_cnn())
    # conv1: 24*24 positions * 16 filters * 5*5*1; conv2: 8*8 * 32 * 5*5*16; dense: 4*4*32 -> 10
    assert cost.macs == 24 * 24 * 16 * 25 + 8 * 8 * 32 * 25 * 16 + 512 * 10
    assert cost.params == (25 * 16 + 16) + (25 * 16 * 32 + 32) + (512 * 10 + 10)


def test_recipes_differ_in_the_documented_knobs():
    assert (ORIGINAL.batch_size, ORIGINAL.epochs, ORIGINAL.validation_split) == (32, 5, 0.1)
    assert FAST.model == "fast_cnn" and FAST.schedule == "one_cycle" and FAST.epochs < ORIGINAL.epochs


def test_bad_recipe_fields_are_named():
    with pytest.raises(ValueError, match="recipe.model must be one of"):
        build_for(Recipe("x", model="resnet"), 100)
    with pytest.raises(ValueError, match="recipe.schedule must be"):
        build_for(Recipe("x", schedule="step"), 100)
    with pytest.raises(ValueError, match="recipe.pipeline must be"):
        run_recipe(Recipe("x", pipeline="csv"), _tiny_data())


@pytest.mark.parametrize("recipe", [ORIGINAL, FAST])
def test_run_recipe_on_tiny_data(recipe):
    data = _tiny_data()
    run = run_recipe(dataclasses.replace(recipe, epochs=2, batch_size=32), data, seed=0, track_curve=True)
    assert run.seconds > 0 and run.epochs == 2 and 0.0 <= run.test_accuracy <= 1.0
    assert len(run.curve) == 2 and run.curve[0][0] < run.curve[1][0] <= run.seconds + 1e-9
    assert len(run.history["loss"]) == 2


def test_run_recipe_is_reproducible():
    data = _tiny_data()
    recipe = dataclasses.replace(FAST, epochs=1, batch_size=64)
    a, b = run_recipe(recipe, data, seed=5), run_recipe(recipe, data, seed=5)
    assert a.history == b.history


def test_half_epochs_take_half_the_steps():
    data = _tiny_data(n=256)
    recipe = dataclasses.replace(FAST, batch_size=32, epochs=1.5)
    assert total_steps(recipe, 256) == 12
    run = run_recipe(recipe, data, seed=0, track_curve=True)
    assert run.epochs == 1.5 and len(run.curve) == 3  # one point per half epoch


@pytest.mark.parametrize("epochs, pipeline", [(1.25, "tf.data"), (0, "tf.data"), (1.5, "arrays")])
def test_bad_epochs_are_named(epochs, pipeline):
    recipe = dataclasses.replace(FAST, epochs=epochs, pipeline=pipeline)
    with pytest.raises(ValueError, match="recipe.epochs must be"):
        run_recipe(recipe, _tiny_data())


def test_make_dataset_cache_gives_the_same_batches():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10)
    plain = [b[1].numpy().tolist() for b in make_dataset(x, y, 5, seed=3)]
    cached = [b[1].numpy().tolist() for b in make_dataset(x, y, 5, seed=3, cache=True)]
    assert plain == cached


def test_warm_up_runs_each_recipe_briefly():
    warm_up(_tiny_data(n=128), recipes=(dataclasses.replace(FAST, batch_size=32),), steps=2)
