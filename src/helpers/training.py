"""Training recipes, timed the same way everywhere.

The input pipeline, the learning-rate schedule, and a fit that measures its own wall time
and, optionally, test accuracy over time.

Used by chapter 6 ("Faster") and ``benchmarks/time_to_accuracy.py``.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from dataclasses import dataclass, field

import numpy as np


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0, shuffle: bool = True,
                 cache: bool = False):
    """Return a ``tf.data`` pipeline over in-memory arrays: shuffle, batch, gather, prefetch.

    ``x: (N, H, W, C)`` float32, ``y: (N,)`` integer labels. Each epoch the *indices* 0..N-1
    are shuffled with a seeded buffer of size N, batched, and each batch of images is
    gathered from the arrays in one op. Shuffling indices instead of images keeps the
    shuffle buffer small (N integers rather than N images), so refilling it between epochs
    costs almost nothing. ``cache=True`` caches the gathered batches of the first epoch
    (and so repeats its order); it pays only when producing a batch is costly.
    """
    import tensorflow as tf

    _check_batch(batch_size, len(x))
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    images, labels = tf.constant(x), tf.constant(y)
    # Autotuning off: its background thread can hold up the end of `fit` by seconds while
    # the iterator is torn down (measured in chapter 6), which would land on the clock.
    ds = tf.data.Dataset.range(len(x))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))
    if cache:
        ds = ds.cache()
    opts = tf.data.Options()
    opts.autotune.enabled = False
    return ds.prefetch(2).with_options(opts)


def _check_batch(batch_size: int, n: int) -> None:
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
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


@dataclass
class TrainRun:
    """What one timed training run produced."""

    seconds: float
    epochs: float
    test_accuracy: float | None = None
    #: (training seconds so far, test accuracy) at the end of each epoch, if tracked
    curve: list[tuple[float, float]] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)


def test_accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 2000) -> float:
    """Fraction of ``x`` the model classifies as ``y`` (argmax of its outputs)."""
    pred = model.predict(x, batch_size=batch_size, verbose=0).argmax(axis=1)
    return float((pred == y).mean())


def _curve_callback(x_test, y_test, clock):
    import keras

    class TimeToAccuracy(keras.callbacks.Callback):
        """Record test accuracy at each epoch end, with the evaluation kept off the clock."""

        def on_epoch_end(self, epoch, logs=None):
            clock["train"] += time.perf_counter() - clock["start"]
            acc = test_accuracy(self.model, x_test, y_test)
            clock["curve"].append((clock["train"], acc))
            clock["start"] = time.perf_counter()

    return TimeToAccuracy()


def timed_fit(model, x, y=None, *, epochs: int, batch_size: int | None = None, test=None,
              track_curve: bool = False, **fit_kwargs) -> TrainRun:
    """Fit ``model`` and time the training alone.

    ``x``/``y`` as for ``model.fit`` (arrays, or a ``tf.data.Dataset`` in ``x`` with
    ``y=None``). ``test=(x_test, y_test)`` adds the final test accuracy; with
    ``track_curve=True`` also the accuracy after each epoch, timed without the evaluations.
    The model must already be compiled; the first call of a fresh model includes tracing,
    which is part of what a user waits for, so it is included.
    """
    if test is None and track_curve:
        raise ValueError("track_curve=True needs test=(x_test, y_test)")
    clock = {"train": 0.0, "start": 0.0, "curve": []}
    callbacks = list(fit_kwargs.pop("callbacks", []))
    if track_curve:
        callbacks.append(_curve_callback(*test, clock))
    clock["start"] = start = time.perf_counter()
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=0, **fit_kwargs)
    seconds = clock["train"] if track_curve else time.perf_counter() - start
    acc = test_accuracy(model, *test) if test is not None else None
    return TrainRun(seconds=seconds, epochs=epochs, test_accuracy=acc, curve=clock["curve"],
                    history={k: [float(v) for v in vals] for k, vals in hist.history.items()})


@dataclass(frozen=True)
class Recipe:
    """Everything that decides how a model is trained, so two recipes can be compared knob by knob.

    ``model``: ``"mnist_cnn"`` or ``"fast_cnn"`` (see :mod:`helpers.models`; ``width`` and
    ``batch_norm`` configure ``fast_cnn``);
    ``schedule``: ``"constant"`` or ``"one_cycle"``; ``pipeline``: ``"arrays"`` (NumPy arrays
    handed to ``fit``) or ``"tf.data"`` (:func:`make_dataset`); ``validation_split``: the
    fraction Keras holds out for per-epoch validation (0 for none). Every recipe trains on the
    same images: the first ``train_fraction`` of the training set. ``epochs`` may be a
    multiple of 0.5 with the ``tf.data`` pipeline (e.g. 1.5: one and a half passes).
    """

    name: str
    model: str = "mnist_cnn"
    batch_size: int = 32
    epochs: float = 5
    peak_lr: float = 1e-3
    schedule: str = "constant"
    pipeline: str = "arrays"
    steps_per_execution: int = 1
    validation_split: float = 0.0
    jit_compile: bool = False
    train_fraction: float = 0.9
    #: ``fast_cnn`` only: filters in the first convolution (the second has twice as many)
    width: int = 16
    #: ``fast_cnn`` only: BatchNormalization after each convolution
    batch_norm: bool = False
    #: Keras dtype policy for the model: ``"float32"`` or ``"mixed_bfloat16"``
    precision: str = "float32"


#: The original text's recipe: Adam 1e-3, batch 32, 5 epochs, 10% held out for validation.
ORIGINAL = Recipe("original", validation_split=0.1, train_fraction=1.0)

#: The book's fastest recipe (chapter 6): a cheaper model, batch 128, a one-cycle schedule
#: with a 10x higher peak learning rate, 1.5 epochs, tf.data, 8 steps per call.
FAST = Recipe("fast", model="fast_cnn", batch_size=128, epochs=1.5, peak_lr=1e-2,
              schedule="one_cycle", pipeline="tf.data", steps_per_execution=8)


def total_steps(recipe: Recipe, n_train: int) -> int:
    """Return the optimizer steps ``recipe`` takes on ``n_train`` images (batches per epoch x epochs)."""
    per_epoch = -(-int(n_train * (1 - recipe.validation_split)) // recipe.batch_size)
    return round(per_epoch * recipe.epochs)


def model_for(recipe: Recipe):
    """Build (uncompiled) the model ``recipe`` names, with its ``width`` and ``batch_norm``."""
    from helpers import models

    if recipe.model == "mnist_cnn":
        return models.mnist_cnn()
    if recipe.model == "fast_cnn":
        return models.fast_cnn(recipe.width, batch_norm=recipe.batch_norm)
    raise ValueError(f"recipe.model must be one of ['fast_cnn', 'mnist_cnn'], got {recipe.model!r}")


def build_for(recipe: Recipe, n_train: int):
    """Build and compile the model ``recipe`` asks for, for ``n_train`` training images."""
    import keras

    model = model_for(recipe)
    if recipe.schedule not in ("constant", "one_cycle"):
        raise ValueError(f"recipe.schedule must be 'constant' or 'one_cycle', got {recipe.schedule!r}")
    steps = total_steps(recipe, n_train)
    lr = one_cycle(recipe.peak_lr, steps) if recipe.schedule == "one_cycle" else recipe.peak_lr
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=recipe.steps_per_execution,
        jit_compile=recipe.jit_compile,
    )
    return model


def run_recipe(recipe: Recipe, data, seed: int = 0, track_curve: bool = False) -> TrainRun:
    """Seed, build and train ``recipe`` on ``data`` (a :class:`helpers.data.Mnist`, NHWC float32).

    Trains on the first ``recipe.train_fraction`` of ``data.x_train`` and reports accuracy
    on the full ``data.x_test``. Returns a :class:`TrainRun` with the training seconds.
    """
    import keras

    from helpers.env import seed_everything

    if recipe.pipeline not in ("arrays", "tf.data"):
        raise ValueError(f"recipe.pipeline must be 'arrays' or 'tf.data', got {recipe.pipeline!r}")
    whole = float(recipe.epochs).is_integer()
    if not (recipe.epochs > 0 and (float(2 * recipe.epochs).is_integer())):
        raise ValueError(f"recipe.epochs must be a positive multiple of 0.5, got {recipe.epochs!r}")
    n = int(len(data.x_train) * recipe.train_fraction)
    x, y = data.x_train[:n], data.y_train[:n]
    keras.backend.clear_session()  # drop earlier models' graphs and state: each run starts clean
    gc.collect()
    seed_everything(seed)
    if recipe.precision not in ("float32", "mixed_bfloat16"):
        raise ValueError(f"recipe.precision must be 'float32' or 'mixed_bfloat16', got {recipe.precision!r}")
    keras.mixed_precision.set_global_policy(recipe.precision)
    try:
        model = build_for(recipe, n)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    test = (data.x_test, data.y_test)
    if recipe.pipeline == "tf.data":
        ds = make_dataset(x, y, recipe.batch_size, seed=seed)  # shuffled by the pipeline itself
        if whole:
            return timed_fit(model, ds, epochs=int(recipe.epochs), test=test, track_curve=track_curve,
                             shuffle=False)
        # half epochs: repeat the data and count steps, in chunks of half an epoch
        chunks = round(2 * recipe.epochs)
        per_chunk = total_steps(recipe, n) // chunks
        run = timed_fit(model, ds.repeat(), epochs=chunks, steps_per_epoch=per_chunk, test=test,
                        track_curve=track_curve, shuffle=False)
        return dataclasses.replace(run, epochs=recipe.epochs)
    if not whole:
        raise ValueError(f"recipe.epochs must be whole with the 'arrays' pipeline, got {recipe.epochs!r}")
    return timed_fit(model, x, y, epochs=int(recipe.epochs), batch_size=recipe.batch_size, test=test,
                     track_curve=track_curve, validation_split=recipe.validation_split)


def warm_up(data, recipes: tuple[Recipe, ...] | None = None, steps: int = 20) -> None:
    """Train each recipe's model for a few steps, so one-time start-up costs hit no measured run.

    TensorFlow initialises its thread pools on first use, and oneDNN builds its kernels for
    each new combination of layer and batch shape; without a warm-up, whichever recipe runs
    first would pay for that. The measured runs still trace their own new models.
    """
    recipes = recipes if recipes is not None else (ORIGINAL, FAST)
    for recipe in recipes:
        n = min(len(data.x_train), recipe.batch_size * steps)
        short = dataclasses.replace(recipe, name="warm-up", epochs=1, validation_split=0.0,
                                    train_fraction=n / len(data.x_train))
        run_recipe(short, data, seed=0)
