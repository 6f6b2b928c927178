import dataclasses
import functools

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
    accuracy,
    keras_train_step,
    make_dataset,
    make_optimizer,
    model_for,
    one_cycle,
    run_recipe,
    total_steps,
    train,
    warm_up,
)

tf = import_tensorflow()


def _tiny_data(n=256, n_test=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n + n_test, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n + n_test).astype(np.uint8)
    empty = np.zeros((0, 28, 28, 1), np.float32)
    return Mnist(x[:n], y[:n], empty, y[:0], x[n:], y[n:])


def _small():
    return fast_cnn(width=4)


SMALL = Recipe("small", batch_size=32, epochs=1)

# ------------------------------------------------------------------ the input pipeline


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


def _two_epochs(ds):
    return [[b[1].numpy().tolist() for b in ds] for _ in range(2)]


def test_make_dataset_reshuffles_each_epoch_unless_cached():
    x = np.arange(40, dtype=np.float32).reshape(40, 1, 1, 1)
    y = np.arange(40)
    plain = _two_epochs(make_dataset(x, y, 8, seed=3))
    cached = _two_epochs(make_dataset(x, y, 8, seed=3, cache=True))
    assert plain[0] != plain[1], "without a cache each epoch has a new order"
    assert cached[0] == cached[1], "the cache replays the first epoch's batches"
    assert cached[0] == plain[0]


def test_make_dataset_augments_and_one_hots():
    x = np.ones((6, 2, 2, 1), np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    xb, yb = next(iter(make_dataset(x, y, 6, augment=lambda b: b * 3.0, num_classes=3)))
    np.testing.assert_array_equal(xb.numpy(), 3.0)
    np.testing.assert_array_equal(yb.numpy().argmax(1), np.sort(yb.numpy().argmax(1))[np.argsort(
        np.argsort(yb.numpy().argmax(1)))])
    assert yb.shape == (6, 3) and np.all(yb.numpy().sum(1) == 1)


def test_make_dataset_refuses_augment_with_cache():
    with pytest.raises(ValueError, match="cache=True would freeze"):
        make_dataset(np.zeros((4, 1, 1, 1)), np.zeros(4), 2, cache=True, augment=lambda b: b)


# ------------------------------------------------------------------ schedules and recipes


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


@pytest.mark.parametrize(
    "field, value",
    [("optimizer", "rmsprop"), ("schedule", "step"), ("pipeline", "csv"), ("precision", "float16"),
     ("epochs", 1.25), ("epochs", 0), ("peak_lr", 0.0), ("weight_decay", 1.5), ("batch_size", 0),
     ("steps_per_execution", 0), ("train_fraction", 0.0)],
)
def test_bad_recipe_fields_are_named(field, value):
    with pytest.raises(ValueError, match=f"recipe.{field} must be"):
        dataclasses.replace(FAST, **{field: value})


def test_half_epochs_need_the_tf_data_pipeline():
    with pytest.raises(ValueError, match="recipe.epochs must be whole with the 'arrays' pipeline"):
        Recipe("x", epochs=1.5, pipeline="arrays")


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="recipe.model must be one of"):
        model_for(Recipe("x", model="resnet"))


@pytest.mark.parametrize(
    "optimizer, cls, momentum",
    [("adam", "Adam", None), ("adamw", "AdamW", None), ("sgd", "SGD", 0.0), ("momentum", "SGD", 0.9)],
)
def test_make_optimizer_builds_the_named_optimizer(optimizer, cls, momentum):
    wd = 0.01 if optimizer != "adam" else 0.0
    opt = make_optimizer(Recipe("x", optimizer=optimizer, weight_decay=wd), 1000)
    assert type(opt).__name__ == cls
    if momentum is not None:
        assert opt.momentum == momentum
    if wd:
        assert opt.weight_decay == pytest.approx(wd)


def test_adam_refuses_weight_decay():
    with pytest.raises(ValueError, match="needs optimizer 'adamw'"):
        make_optimizer(Recipe("x", weight_decay=0.01), 1000)


# ------------------------------------------------------------------ the trainer


def test_train_is_reproducible_with_a_seed():
    data = _tiny_data()
    a = train(_small, data.x_train, data.y_train, SMALL, seed=4)
    b = train(_small, data.x_train, data.y_train, SMALL, seed=4)
    c = train(_small, data.x_train, data.y_train, SMALL, seed=5)
    assert a.history == b.history and a.history != c.history
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_train_times_epochs_and_keeps_validation_off_the_clock():
    data = _tiny_data()
    done = train(_small, data.x_train, data.y_train, dataclasses.replace(SMALL, epochs=3),
                 validation=(data.x_test, data.y_test))
    assert len(done.epoch_seconds) == 3 and len(done.history["val_accuracy"]) == 3
    assert np.all(np.diff(done.epoch_seconds) > 0) and done.seconds == done.epoch_seconds[-1]
    assert done.eval_seconds > 0
    assert [s for s, _ in done.curve()] == done.epoch_seconds
    with pytest.raises(ValueError, match="metric must be one of"):
        done.curve("val_nothing")


def test_train_logs_one_line_per_epoch(capsys):
    data = _tiny_data()
    train(_small, data.x_train, data.y_train, dataclasses.replace(SMALL, epochs=2), log=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"] and all("loss" in line for line in lines)


def test_train_applies_the_augmentation():
    # An augmentation that blanks every image leaves the first convolution's kernel untouched:
    # with zero input its gradient is zero, and Adam makes no step on a zero gradient.
    data = _tiny_data()
    initial = train(_small, data.x_train[:32], data.y_train[:32], dataclasses.replace(SMALL, peak_lr=1e-12),
                    seed=1).model.get_layer("conv1").kernel.numpy()
    blank = train(_small, data.x_train, data.y_train, SMALL, seed=1, augment=lambda b: b * 0.0)
    plain = train(_small, data.x_train, data.y_train, SMALL, seed=1)
    np.testing.assert_allclose(blank.model.get_layer("conv1").kernel.numpy(), initial, atol=1e-9)
    assert not np.allclose(plain.model.get_layer("conv1").kernel.numpy(), initial, atol=1e-4)


def test_train_runs_a_custom_step():
    data = _tiny_data()
    calls = tf.Variable(0)

    def step(model, batch):
        calls.assign_add(1)
        return keras_train_step(model, batch)

    done = train(_small, data.x_train, data.y_train, SMALL, train_step=step)
    assert int(calls.numpy()) == len(data.x_train) // SMALL.batch_size
    assert int(done.model.optimizer.iterations.numpy()) == int(calls.numpy())


def test_train_with_label_smoothing_uses_one_hot_labels():
    data = _tiny_data()
    done = train(_small, data.x_train, data.y_train, dataclasses.replace(SMALL, label_smoothing=0.1),
                 validation=(data.x_test, data.y_test))
    assert type(done.model.loss).__name__ == "CategoricalCrossentropy"
    assert done.model.loss.label_smoothing == pytest.approx(0.1)
    assert "val_accuracy" in done.history


def test_train_under_a_strategy_matches_plain_training():
    data = _tiny_data()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    mirrored = train(_small, data.x_train, data.y_train, SMALL, strategy=strategy, seed=2)
    plain = train(_small, data.x_train, data.y_train, SMALL, seed=2)
    assert mirrored.model.distribute_strategy is strategy
    for wa, wb in zip(mirrored.model.get_weights(), plain.model.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, atol=1e-5)


def test_train_in_mixed_precision_restores_the_policy():
    import keras

    data = _tiny_data()
    done = train(_small, data.x_train, data.y_train, dataclasses.replace(SMALL, precision="mixed_bfloat16"))
    assert done.model.get_layer("conv1").compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_train_needs_a_builder_for_a_strategy():
    data = _tiny_data()
    with pytest.raises(ValueError, match="pass a function that builds the model"):
        train(_small(), data.x_train, data.y_train, dataclasses.replace(SMALL, precision="mixed_bfloat16"))


def test_train_refuses_mismatched_data():
    with pytest.raises(ValueError, match="x and y must be arrays of the same length"):
        train(_small, np.zeros((4, 28, 28, 1), np.float32), np.zeros(3), SMALL)


# ------------------------------------------------------------------ chapter 6's shorthand


@pytest.mark.parametrize("recipe", [ORIGINAL, FAST])
def test_run_recipe_on_tiny_data(recipe):
    data = _tiny_data()
    run = run_recipe(dataclasses.replace(recipe, epochs=2, batch_size=32, train_fraction=0.75,
                                         validation_split=0.0), data, seed=0, validate=True)
    expected = accuracy(run.model, data.x_test, data.y_test)
    assert run.test_accuracy == expected and run.epochs == 2
    assert len(run.curve) == 2 and run.curve[0][0] < run.curve[1][0] == pytest.approx(run.seconds)
    assert len(run.history["loss"]) == 2


def test_run_recipe_leaves_the_test_set_alone_when_asked():
    run = run_recipe(dataclasses.replace(FAST, epochs=1), _tiny_data(), test=False)
    assert run.test_accuracy is None


def test_run_recipe_is_reproducible():
    data = _tiny_data()
    recipe = dataclasses.replace(FAST, epochs=1, batch_size=64)
    a, b = run_recipe(recipe, data, seed=5), run_recipe(recipe, data, seed=5)
    assert a.history == b.history


@pytest.mark.parametrize("batch, spe, expected", [(32, 1, 12), (16, 8, 24), (32, 8, 24)])
def test_half_epochs_run_the_planned_steps(batch, spe, expected):
    # 256 images, 1.5 epochs: 12 steps at batch 32, 24 at batch 16; chunks of half an epoch are
    # whole multiples of steps_per_execution, since Keras rounds a chunk up to one otherwise
    data = _tiny_data(n=256)
    recipe = dataclasses.replace(FAST, batch_size=batch, epochs=1.5, train_fraction=1.0,
                                 steps_per_execution=spe)
    assert total_steps(recipe, 256) == expected
    run = run_recipe(recipe, data, seed=0)
    assert run.epochs == 1.5 and len(run.history["loss"]) == 3  # one entry per half epoch
    assert int(run.model.optimizer.iterations.numpy()) == expected


def test_warm_up_trains_each_recipe_for_the_given_steps():
    recipes = (dataclasses.replace(FAST, batch_size=32), dataclasses.replace(ORIGINAL, batch_size=16))
    runs = warm_up(_tiny_data(n=128), recipes=recipes, steps=2)
    assert [int(r.model.optimizer.iterations.numpy()) for r in runs] == [2, 2]


def test_accuracy_counts_matches():
    class Fixed:
        def predict(self, x, batch_size, verbose):
            return np.eye(10)[np.asarray(x).ravel().astype(int)]

    assert accuracy(Fixed(), np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError, match="same length"):
        accuracy(Fixed(), np.array([1]), np.array([1, 2]))


def test_partial_builders_are_builders():
    data = _tiny_data()
    done = train(functools.partial(fast_cnn, 2), data.x_train, data.y_train, SMALL)
    assert done.model.get_layer("conv1").filters == 2


def test_fast_cnn_with_the_seed_models_head_is_the_seed_model():
    from helpers.models import mnist_cnn

    seed_like = fast_cnn(32, kernel=3, dense=64)
    assert seed_like.count_params() == mnist_cnn().count_params() == 121_930
    assert [type(layer).__name__ for layer in seed_like.layers] == \
        [type(layer).__name__ for layer in mnist_cnn().layers]
    head = (1600 * 64 + 64) + (64 * 10 + 10)  # Dense(64) and Dense(10) on 64 features
    assert fast_cnn(32, kernel=3).count_params() == 121_930 - head + 1600 * 10 + 10
    with pytest.raises(ValueError, match="dense must be an integer >= 0"):
        fast_cnn(dense=-1)


def test_model_for_passes_the_architecture_fields():
    model = model_for(dataclasses.replace(FAST, width=8, kernel=3, dense=16))
    assert model.get_layer("conv1").kernel_size == (3, 3) and model.get_layer("dense").units == 16


def test_run_recipe_gives_a_curve_when_keras_holds_out_the_validation_split():
    data = _tiny_data()
    recipe = dataclasses.replace(ORIGINAL, epochs=2, batch_size=32)
    run = run_recipe(recipe, data, seed=0, test=False)
    assert [acc for _, acc in run.curve] == run.history["val_accuracy"] and len(run.curve) == 2


def test_compile_and_fit_recipe_are_the_trainer():
    from helpers.training import compile_recipe, fit_recipe

    data = _tiny_data()
    model = compile_recipe(_small(), SMALL, len(data.x_train))
    assert model.optimizer.__class__.__name__ == "Adam" and model.loss.from_logits
    hist = fit_recipe(model, data.x_train, data.y_train, SMALL, {"verbose": 0})
    assert len(hist.history["loss"]) == 1


def _run_training_cell(tmp_path, monkeypatch, no_progress):
    import nbformat
    from nbclient import NotebookClient

    if no_progress:
        monkeypatch.setenv("CNN_BOOK_NO_PROGRESS", "1")
    else:
        monkeypatch.delenv("CNN_BOOK_NO_PROGRESS", raising=False)
    code = ("from helpers.env import setup\ntf = setup(seed=0)\nimport numpy as np\n"
            "from helpers.models import fast_cnn\nfrom helpers.training import Recipe, train\n"
            "x = np.random.rand(256, 28, 28, 1).astype('float32'); y = np.arange(256) % 10\n"
            "done = train(lambda: fast_cnn(4), x, y, Recipe('r', batch_size=8, epochs=2), log=True)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb.cells[0].outputs


def test_live_progress_only_when_interactive(tmp_path, monkeypatch):
    quiet = _run_training_cell(tmp_path, monkeypatch, no_progress=True)
    assert {o["output_type"] for o in quiet} == {"stream"}  # the setup line and two epoch lines
    text = "".join(o["text"] for o in quiet if o["name"] == "stdout")
    epochs = [line for line in text.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]
    live = _run_training_cell(tmp_path, monkeypatch, no_progress=False)
    displays = [o for o in live if o["output_type"] == "display_data"]
    assert len(displays) == 1 and displays[0]["data"]["text/plain"] == ""  # cleared after the last epoch
