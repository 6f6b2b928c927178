"""The book's one trainer, its recipes, the input pipeline and the learning-rate schedules.

Every model the book trains goes through :func:`train`: it takes the model (or a function
that builds it), the data and a :class:`Recipe` (optimizer, learning rate and schedule,
batch, epochs, loss, precision), compiles and fits, and returns a :class:`Trained` with
the model, its history and its timing. Hooks cover what later chapters need: data
augmentation in the input pipeline, a ``tf.distribute`` strategy, callbacks, a custom
loss, mixed precision, and a custom training step (adversarial training).

:func:`run_recipe` is chapter 6's shorthand: seed, build the recipe's own model, train,
evaluate. ``benchmarks/time_to_accuracy.py`` uses it too.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------
# Input pipeline and schedules
# ---------------------------------------------------------------------------------------


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0, shuffle: bool = True,
                 cache: bool = False, augment: Callable | None = None, num_classes: int | None = None):
    """Return a ``tf.data`` pipeline over in-memory arrays: shuffle, batch, gather, prefetch.

    ``x: (N, H, W, C)`` float32, ``y: (N,)`` integer labels. Each epoch the *indices* 0..N-1
    are shuffled with a seeded buffer of size N, batched, and each batch of images is
    gathered from the arrays in one op. Shuffling indices instead of images keeps the
    shuffle buffer small (N integers rather than N images), so refilling it between epochs
    costs almost nothing. ``cache=True`` caches the gathered batches of the first epoch
    (and so repeats its order); it pays only when producing a batch is costly.

    ``augment``: a function from a batch of images ``(B, H, W, C)`` to a batch of the same
    shape (TensorFlow ops, or Keras preprocessing layers), applied to every batch after
    gathering: a fresh random transformation each epoch. ``num_classes``: if given, labels
    are one-hot encoded (for losses with label smoothing).
    """
    import tensorflow as tf

    _check_batch(batch_size, len(x))
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable, got {type(augment).__name__}")
    if augment is not None and cache:
        raise ValueError("cache=True would freeze the first epoch's augmentation; use one or the other")
    images, labels = tf.constant(x), tf.constant(y)
    # Autotuning off: its background thread can hold up the end of `fit` by seconds while
    # the iterator is torn down (measured in chapter 6), which would land on the clock.
    ds = tf.data.Dataset.range(len(x))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

    def gather(i):
        xb, yb = tf.gather(images, i), tf.gather(labels, i)
        if num_classes is not None:
            yb = tf.one_hot(tf.cast(yb, tf.int32), num_classes)
        return xb, yb

    ds = ds.batch(batch_size).map(gather)
    if cache:
        ds = ds.cache()
    if augment is not None:
        ds = ds.map(lambda xb, yb: (augment(xb), yb))
    opts = tf.data.Options()
    opts.autotune.enabled = False
    return ds.prefetch(2).with_options(opts)


def _check_batch(batch_size: int, n: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an integer in [1, {n}], got {batch_size!r}")


def one_cycle(peak_lr: float, total_steps: int, warmup_fraction: float = 0.2, final_fraction: float = 0.01):
    """Linear warm-up from ``peak_lr / 10`` to ``peak_lr``, then cosine decay to ``final_fraction * peak``.

    Returns a Keras learning-rate schedule (a callable of the step). With a warm-up, a large
    peak learning rate is safe, and the low rate at the end settles the weights: the pair
    lets a model reach its accuracy in fewer epochs.
    """
    import keras

    if not peak_lr > 0:
        raise ValueError(f"peak_lr must be > 0, got {peak_lr!r}")
    if not isinstance(total_steps, int) or total_steps < 2:
        raise ValueError(f"total_steps must be an integer >= 2, got {total_steps!r}")
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction!r}")
    warmup = int(warmup_fraction * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak_lr / 10 if warmup else peak_lr,
        decay_steps=total_steps - warmup,
        alpha=final_fraction,
        warmup_target=peak_lr if warmup else None,
        warmup_steps=warmup,
    )


# ---------------------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------------------

#: The optimizers a recipe can name (chapter 7 writes each update rule from scratch).
OPTIMIZERS = ("adam", "adamw", "sgd", "momentum")
#: The learning-rate schedules a recipe can name.
SCHEDULES = ("constant", "one_cycle", "cosine")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides how a model is trained, so two recipes can be compared knob by knob.

    How to optimize: ``optimizer`` (one of :data:`OPTIMIZERS`; ``"momentum"`` is SGD with
    momentum 0.9), ``peak_lr``, ``schedule`` (``"constant"``; ``"one_cycle"``: a warm-up
    over the first ``warmup_fraction`` of the steps, then cosine decay, see
    :func:`one_cycle`; ``"cosine"``: cosine decay from the start), ``weight_decay``
    (decoupled, for ``"adamw"`` and the SGD variants), ``label_smoothing``, ``batch_size``,
    ``epochs`` (a multiple of 0.5 with the ``tf.data`` pipeline: 1.5 is one and a half
    passes), ``steps_per_execution`` (training steps per call into the compiled graph),
    ``jit_compile`` (XLA), ``precision`` (a Keras dtype policy: ``"float32"`` or
    ``"mixed_bfloat16"``), ``pipeline`` (``"arrays"``: NumPy arrays handed to ``fit``, or
    ``"tf.data"``: :func:`make_dataset`).

    Used by :func:`run_recipe` only (ignored by :func:`train`, which is given its model and
    data): ``model`` (``"mnist_cnn"`` or ``"fast_cnn"``, see :mod:`helpers.models`; ``width``,
    ``kernel``, ``batch_norm`` and ``dense`` configure ``fast_cnn``), ``train_fraction`` (the
    first fraction of the training images to train on; the rest is the validation split) and
    ``validation_split``
    (a fraction Keras holds out itself, as the original text does; 0 for none).
    """

    name: str
    model: str = "mnist_cnn"
    batch_size: int = 32
    epochs: float = 5
    optimizer: str = "adam"
    peak_lr: float = 1e-3
    schedule: str = "constant"
    warmup_fraction: float = 0.2
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    pipeline: str = "arrays"
    steps_per_execution: int = 1
    validation_split: float = 0.0
    jit_compile: bool = False
    train_fraction: float = 0.9
    #: ``fast_cnn`` only: filters in the first convolution (the second has twice as many)
    width: int = 16
    #: ``fast_cnn`` only: BatchNormalization after each convolution
    batch_norm: bool = False
    #: ``fast_cnn`` only: side of the convolution kernels
    kernel: int = 5
    #: ``fast_cnn`` only: units of the seed model's hidden Dense head (0: no head)
    dense: int = 0
    precision: str = "float32"

    def __post_init__(self):
        """Check every field, naming the one that is wrong."""
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("schedule", self.schedule, SCHEDULES)
        _one_of("pipeline", self.pipeline, ("arrays", "tf.data"))
        _one_of("precision", self.precision, ("float32", "mixed_bfloat16"))
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"recipe.batch_size must be a positive integer, got {self.batch_size!r}")
        if not self.peak_lr > 0:
            raise ValueError(f"recipe.peak_lr must be > 0, got {self.peak_lr!r}")
        if not (self.epochs > 0 and float(2 * self.epochs).is_integer()):
            raise ValueError(f"recipe.epochs must be a positive multiple of 0.5, got {self.epochs!r}")
        if self.pipeline == "arrays" and not float(self.epochs).is_integer():
            raise ValueError(f"recipe.epochs must be whole with the 'arrays' pipeline, got {self.epochs!r}")
        for name in ("weight_decay", "label_smoothing", "validation_split", "warmup_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"recipe.{name} must be in [0, 1), got {value!r}")
        if not 0.0 < self.train_fraction <= 1.0:
            raise ValueError(f"recipe.train_fraction must be in (0, 1], got {self.train_fraction!r}")
        if not isinstance(self.steps_per_execution, int) or self.steps_per_execution < 1:
            raise ValueError(f"recipe.steps_per_execution must be an integer >= 1, "
                             f"got {self.steps_per_execution!r}")


def _one_of(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"recipe.{name} must be one of {list(allowed)}, got {value!r}")


#: The original text's recipe: Adam 1e-3, batch 32, 5 epochs, 10% held out for validation.
ORIGINAL = Recipe("original", validation_split=0.1, train_fraction=1.0)

#: The book's fast recipe (chapter 6), chosen on the validation split by
#: ``benchmarks/select_fast_recipe.py``: the fastest candidate whose mean validation
#: accuracy over three seeds reaches 0.990.
FAST = Recipe("fast", model="fast_cnn", batch_size=128, epochs=2, peak_lr=0.01, schedule="one_cycle",
              pipeline="tf.data", steps_per_execution=8, dense=64)


def steps_per_epoch(recipe: Recipe, n_train: int) -> int:
    """Optimizer steps in one pass over ``n_train`` images (after Keras' own validation split)."""
    return -(-int(n_train * (1 - recipe.validation_split)) // recipe.batch_size)


def fit_plan(recipe: Recipe, n_train: int) -> tuple[int, int | None]:
    """How ``fit`` is called for ``recipe``: ``(fit epochs, steps per fit epoch or None)``.

    Whole epochs are passes over the data (``None``: Keras counts the batches). Half epochs
    run as chunks of half a pass over a repeated dataset, each of a number of steps that is a
    multiple of ``steps_per_execution``: Keras 3 rounds a chunk up to such a multiple on a
    repeated dataset (measured: 21 steps per epoch with 8 steps per execution ran 24), so
    the plan rounds it down itself and the schedule counts the steps that really run.
    """
    if float(recipe.epochs).is_integer():
        return int(recipe.epochs), None
    chunks = round(2 * recipe.epochs)
    per_chunk = round(steps_per_epoch(recipe, n_train) * recipe.epochs) // chunks
    spe = recipe.steps_per_execution
    return chunks, max(spe, per_chunk // spe * spe)


def total_steps(recipe: Recipe, n_train: int) -> int:
    """Return the optimizer steps ``recipe`` takes on ``n_train`` images (see :func:`fit_plan`)."""
    epochs, per_epoch = fit_plan(recipe, n_train)
    return epochs * (per_epoch if per_epoch is not None else steps_per_epoch(recipe, n_train))


def learning_rate(recipe: Recipe, n_train: int):
    """Return the recipe's learning rate: a float (constant) or a Keras schedule over its steps."""
    import keras

    steps = max(2, total_steps(recipe, n_train))
    if recipe.schedule == "one_cycle":
        return one_cycle(recipe.peak_lr, steps, warmup_fraction=recipe.warmup_fraction)
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(recipe.peak_lr, steps, alpha=0.01)
    return recipe.peak_lr


def make_optimizer(recipe: Recipe, n_train: int):
    """Build the Keras optimizer the recipe names, with its learning rate or schedule."""
    import keras

    lr = learning_rate(recipe, n_train)
    wd = recipe.weight_decay or None
    if recipe.optimizer == "adam":
        if wd:
            raise ValueError("recipe.weight_decay needs optimizer 'adamw' "
                             "(Adam's own decay is L2, not decoupled)")
        return keras.optimizers.Adam(lr)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay)
    momentum = 0.9 if recipe.optimizer == "momentum" else 0.0
    return keras.optimizers.SGD(lr, momentum=momentum, weight_decay=wd)


def make_loss(recipe: Recipe):
    """Cross-entropy from logits; with label smoothing, the one-hot form (labels are one-hot then)."""
    import keras

    if recipe.label_smoothing:
        return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def model_for(recipe: Recipe):
    """Build (uncompiled) the model ``recipe`` names, with its architecture fields.

    ``fast_cnn`` takes ``width``, ``kernel``, ``batch_norm`` and ``dense`` from the recipe.
    """
    from helpers import models

    if recipe.model == "mnist_cnn":
        return models.mnist_cnn()
    if recipe.model == "fast_cnn":
        return models.fast_cnn(recipe.width, kernel=recipe.kernel, batch_norm=recipe.batch_norm,
                               dense=recipe.dense)
    raise ValueError(f"recipe.model must be one of ['fast_cnn', 'mnist_cnn'], got {recipe.model!r}")


# ---------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------


@dataclass
class Trained:
    """What :func:`train` returns.

    ``seconds``: wall time of training alone (tracing included, since a user waits for
    it; per-epoch validation excluded). ``epoch_seconds``: cumulative training seconds at
    the end of each epoch. ``history``: Keras' per-epoch logs (``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy`` ...). ``eval_seconds``: time spent on validation.
    """

    model: Any
    history: dict[str, list[float]]
    seconds: float
    epoch_seconds: list[float] = field(default_factory=list)
    eval_seconds: float = 0.0

    def curve(self, metric: str = "val_accuracy") -> list[tuple[float, float]]:
        """``[(training seconds so far, metric), ...]`` per epoch: a time-to-accuracy curve."""
        if metric not in self.history:
            raise ValueError(f"metric must be one of {sorted(self.history)}, got {metric!r}")
        return list(zip(self.epoch_seconds, self.history[metric], strict=True))


#: Set (to anything) to turn off the live progress line, as the book's own runs do: the
#: notebooks then store one short line per epoch and nothing else.
NO_PROGRESS_ENV = "CNN_BOOK_NO_PROGRESS"


def live_progress_wanted() -> bool:
    """Return True in an interactive notebook session, unless ``$CNN_BOOK_NO_PROGRESS`` is set.

    ``tools/run_book.py`` and the tests set it, so stored outputs stay one line per epoch;
    a reader running a chapter in JupyterLab sees a progress line updated in place.
    """
    import os

    if os.environ.get(NO_PROGRESS_ENV):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _LiveLine:
    """One line of output updated in place (a notebook display), at most every ``every`` seconds."""

    def __init__(self, every: float = 0.5):
        from IPython.display import Pretty, display

        self._pretty, self.every, self.last = Pretty, every, 0.0
        self.handle = display(Pretty(""), display_id=True)

    def show(self, text: str, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.last >= self.every:
            self.handle.update(self._pretty(text))
            self.last = now


def _clock_callback(clock: dict, log: bool, epochs: float, fit_epochs: int, live: bool = False):
    import keras

    class Clock(keras.callbacks.Callback):
        """Time each epoch with validation kept off the clock; print one line per epoch if asked.

        With ``live``, a progress line (epoch, batch, seconds) is updated in place while an
        epoch runs and cleared at its end.
        """

        def on_train_begin(self, logs=None):
            self.line = _LiveLine() if live and log else None

        def on_test_begin(self, logs=None):
            clock["test_start"] = time.perf_counter()

        def on_test_end(self, logs=None):
            clock["eval"] += time.perf_counter() - clock["test_start"]

        def on_train_batch_end(self, batch, logs=None):
            if self.line is not None:
                steps = self.params.get("steps") or "?"
                elapsed = time.perf_counter() - clock["start"] - clock["eval"]
                self.line.show(f"epoch {len(clock['epochs']) + 1}/{fit_epochs}: batch {batch + 1}/{steps}, "
                               f"{elapsed:.1f} s")

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - clock["start"] - clock["eval"]
            clock["epochs"].append(elapsed)
            if self.line is not None:
                self.line.show("", force=True)
            if log:
                done = (epoch + 1) * epochs / fit_epochs
                parts = [f"epoch {done:g}/{epochs:g}", f"{elapsed:6.1f} s"]
                parts += [f"{k} {v:.4f}" for k, v in (logs or {}).items() if k != "learning_rate"]
                print("  ".join(parts), flush=True)

    return Clock()


def keras_train_step(model, data):
    """Keras' own training step for ``model`` on one batch: what a custom step calls after its own work.

    A custom ``train_step`` for :func:`train` has the signature ``step(model, data) -> logs``;
    adversarial training, for example, replaces the images of ``data`` by attacked ones and
    then returns ``keras_train_step(model, (x_adv, y))``.
    """
    return type(model).train_step(model, data)


def compile_recipe(model, recipe: Recipe, n_train: int, loss=None, metrics=("accuracy",)):
    """Compile ``model`` as ``recipe`` says, for ``n_train`` images: the first half of :func:`train`."""
    model.compile(
        optimizer=make_optimizer(recipe, n_train),  # Adam ..., with the schedule
        loss=loss if loss is not None else make_loss(recipe),  # from logits
        metrics=list(metrics),
        steps_per_execution=recipe.steps_per_execution,  # steps per call into the graph
        jit_compile=recipe.jit_compile,  # XLA
    )
    return model


def fit_recipe(model, x, y, recipe: Recipe, fit_args: dict[str, Any], *, seed: int = 0,
               augment: Callable | None = None, num_classes: int | None = None):
    """Fit the compiled ``model`` on ``(x, y)`` as ``recipe`` says: the second half of :func:`train`.

    ``x: (N, H, W, C)``, ``y: (N,)``; ``fit_args`` go to ``model.fit`` (callbacks,
    validation data). Returns Keras' ``History``. :func:`train` starts its clock just
    before this call, so converting the arrays and tracing the graph count for both
    pipelines.
    """
    epochs, per_chunk = fit_plan(recipe, len(x))
    if recipe.pipeline == "arrays" and augment is None and num_classes is None:
        # NumPy arrays: Keras converts, shuffles and batches them itself
        return model.fit(x, y, batch_size=recipe.batch_size, epochs=epochs,
                         validation_split=recipe.validation_split, **fit_args)
    ds = make_dataset(x, y, recipe.batch_size, seed=seed, augment=augment,
                      num_classes=num_classes)
    if per_chunk is None:
        return model.fit(ds, epochs=epochs, shuffle=False, **fit_args)
    # half epochs: repeat the data and count steps, in chunks of half an epoch
    return model.fit(ds.repeat(), epochs=epochs, steps_per_epoch=per_chunk,
                     shuffle=False, **fit_args)


def train(
    model,
    x,
    y=None,
    recipe: Recipe | None = None,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    augment: Callable | None = None,
    strategy=None,
    callbacks: Sequence = (),
    loss=None,
    metrics: Sequence = ("accuracy",),
    train_step: Callable | None = None,
    seed: int = 0,
    log: bool = False,
) -> Trained:
    """Compile and fit ``model`` with ``recipe``; return the model, its history and its timing.

    Args:
        model: an uncompiled Keras model, or a function of no arguments that builds one. Pass
            a function when using ``strategy`` or a mixed precision recipe: the model must be
            created inside the strategy's scope and under the dtype policy, which :func:`train`
            sets up (and, for a function, it also clears the Keras session and seeds first,
            so the same seed gives the same initial weights).
        x: training images ``(N, H, W, C)`` float32.
        y: training labels ``(N,)``, integer classes.
        recipe: the :class:`Recipe` (optimizer, schedule, batch, epochs, loss, precision ...).
        validation: ``(x_val, y_val)`` evaluated after each epoch, off the training clock.
        augment: a function on a batch of images, applied in the input pipeline
            (the ``tf.data`` pipeline is used whenever this is given).
        strategy: a ``tf.distribute`` strategy; the model is built and compiled in its scope,
            the global batch is ``recipe.batch_size``, split across its replicas.
        callbacks: extra Keras callbacks.
        loss: a Keras loss to use instead of the recipe's cross-entropy from logits.
        metrics: Keras metrics to track.
        train_step: a custom step ``step(model, data) -> logs`` (see :func:`keras_train_step`).
        seed: seeds Python, NumPy and TensorFlow (initial weights, shuffling, dropout).
        log: print one short line per epoch (time, loss, metrics), never a progress bar; in
            an interactive notebook, also a progress line updated in place during each epoch
            (see :func:`live_progress_wanted`).

    Returns:
        :class:`Trained`.

    """
    import contextlib

    import keras

    from helpers.env import seed_everything

    recipe = recipe if recipe is not None else Recipe("default")
    if y is None or len(x) != len(y):
        raise ValueError(f"x and y must be arrays of the same length, got {len(x)} and "
                         f"{None if y is None else len(y)}")
    if validation is not None and recipe.validation_split:
        raise ValueError("give either validation=(x_val, y_val) or recipe.validation_split, not both")
    built_here = callable(model) and not isinstance(model, keras.Model)
    if not built_here and (strategy is not None or recipe.precision != "float32"):
        raise ValueError("with a strategy or mixed precision, pass a function that builds the model "
                         "(it must be created in the strategy's scope and under the dtype policy)")
    if built_here:
        keras.backend.clear_session()  # drop earlier models' graphs and state: each run starts clean
        gc.collect()
    seed_everything(seed)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        if built_here:
            keras.mixed_precision.set_global_policy(recipe.precision)
            try:
                model = model()
            finally:
                keras.mixed_precision.set_global_policy("float32")
        one_hot = bool(recipe.label_smoothing)
        compile_recipe(model, recipe, len(x), loss=loss, metrics=metrics)
    if train_step is not None:
        model.train_step = functools.partial(train_step, model)

    n_classes = int(model.output_shape[-1]) if one_hot else None
    val = None
    if validation is not None:
        x_val, y_val = validation
        val = (x_val, np.eye(n_classes, dtype=np.float32)[y_val] if one_hot else y_val)
    if recipe.validation_split and (recipe.pipeline == "tf.data" or augment is not None or one_hot):
        raise ValueError("recipe.validation_split works with the 'arrays' pipeline only; "
                         "pass validation=(x_val, y_val)")
    clock = {"start": 0.0, "eval": 0.0, "test_start": 0.0, "epochs": []}
    cbs = [_clock_callback(clock, log, float(recipe.epochs), fit_plan(recipe, len(x))[0],
                           live=live_progress_wanted()), *callbacks]
    fit_args: dict[str, Any] = {"validation_data": val, "callbacks": cbs, "verbose": 0}
    # The clock starts before the data is converted or batched, so both pipelines pay for it
    clock["start"] = time.perf_counter()
    hist = fit_recipe(model, x, y, recipe, fit_args, seed=seed, augment=augment, num_classes=n_classes)
    seconds = clock["epochs"][-1] if clock["epochs"] else 0.0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items() if k != "learning_rate"}
    return Trained(model=model, history=history, seconds=seconds, epoch_seconds=list(clock["epochs"]),
                   eval_seconds=clock["eval"])


# ---------------------------------------------------------------------------------------
# Chapter 6's shorthand
# ---------------------------------------------------------------------------------------


def run_recipe(recipe: Recipe, data, seed: int = 0, validate: bool = False, test: bool = True) -> TrainRun:
    """Seed, build and train ``recipe``'s own model on ``data`` (a :class:`helpers.data.Mnist`).

    Trains on the first ``recipe.train_fraction`` of ``data.x_train``. With ``validate=True``
    the rest of the training images (the validation split) is evaluated after every epoch,
    off the clock, giving :attr:`TrainRun.curve` (as does a recipe whose ``validation_split``
    makes Keras hold out the last images itself, like :data:`ORIGINAL`). With ``test=True`` (the default) the
    model is evaluated once on the full test set at the end: pass ``test=False`` while
    choosing, so that choices are made on the validation split alone.
    """
    n = int(len(data.x_train) * recipe.train_fraction)
    x, y = data.x_train[:n], data.y_train[:n]
    validation = None
    if validate:
        if n == len(data.x_train):
            raise ValueError("validate=True needs recipe.train_fraction < 1 "
                             "(the rest is the validation split)")
        validation = (data.x_train[n:], data.y_train[n:])
    done = train(functools.partial(model_for, recipe), x, y, recipe, validation=validation, seed=seed)
    acc = accuracy(done.model, data.x_test, data.y_test) if test else None
    curve = done.curve("val_accuracy") if "val_accuracy" in done.history else []
    return TrainRun(seconds=done.seconds, epochs=recipe.epochs, test_accuracy=acc, curve=curve,
                    history=done.history, model=done.model)


def warm_up(data, recipes: tuple[Recipe, ...] | None = None, steps: int = 20) -> list[TrainRun]:
    """Train each recipe's model for a few steps, so one-time start-up costs hit no measured run.

    TensorFlow initialises its thread pools on first use, and oneDNN builds its kernels for
    each new combination of layer and batch shape; without a warm-up, whichever recipe runs
    first would pay for that. The measured runs still trace their own new models.
    Returns the short runs.
    """
    recipes = recipes if recipes is not None else (ORIGINAL, FAST)
    runs = []
    for recipe in recipes:
        n = min(len(data.x_train), recipe.batch_size * steps)
        short = dataclasses.replace(recipe, name="warm-up", epochs=1, validation_split=0.0,
                                    train_fraction=n / len(data.x_train))
        runs.append(run_recipe(short, data, seed=0, test=False))
    return runs


# ---------------------------------------------------------------------------------------
# Results of a run
# ---------------------------------------------------------------------------------------


@dataclass
class TrainRun:
    """What one run of a :class:`Recipe` produced (see :func:`run_recipe`)."""

    seconds: float
    epochs: float
    test_accuracy: float | None = None
    #: (training seconds so far, validation accuracy) at the end of each epoch, if validated
    curve: list[tuple[float, float]] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    model: Any = None


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 2000) -> float:
    """Fraction of ``x`` the model classifies as ``y`` (argmax of its outputs).

    ``x: (N, 28, 28, 1)``; ``y: (N,)`` integer labels. Works for logits and probabilities.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    pred = model.predict(x, batch_size=batch_size, verbose=0).argmax(axis=1)
    return float((pred == np.asarray(y)).mean())
