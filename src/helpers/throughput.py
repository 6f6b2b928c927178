"""Training throughput (images per second) of a model, in this process or in a fresh one.

Chapter 6 turns one knob at a time (batch size, XLA, precision, BatchNormalization, threads)
and compares images per second against a baseline measured in the same run. Thread counts
can only be set before TensorFlow starts its runtime, so :func:`throughput_in_subprocess`
measures them in a fresh Python process: ``python -m helpers.throughput --intra 1 ...``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def _compiled(build: Callable[[], object], jit_compile: bool = False):
    import keras

    model = build()
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    return model


def _batches(x, y, batch_size: int):
    """``(x, y)`` as a cached, repeated ``tf.data`` pipeline of full batches."""
    import tensorflow as tf

    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be an integer in [1, {len(x)}], got {batch_size!r}")
    opts = tf.data.Options()
    opts.autotune.enabled = False  # see helpers.training.make_dataset: keeps teardown stalls off the clock
    return (tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size, drop_remainder=True).cache()
            .repeat().prefetch(2).with_options(opts))


def _check_steps(steps: int) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")


def train_rates(build: Callable[[], object], x, y, batch_size: int, steps: int = 60,
                repeat: int = 3, jit_compile: bool = False) -> list[float]:
    """Images/s of ``model.fit`` over ``steps`` steps, once per repeat, after a warm-up fit that traces.

    ``build()`` returns an uncompiled Keras model with logits out; it is compiled with Adam
    and sparse cross-entropy. ``x: (N, H, W, C)``, ``y: (N,)``; batches are drawn from them
    with ``tf.data`` (cached, repeated), so the input pipeline costs almost nothing.
    """
    _check_steps(steps)
    ds = _batches(x, y, batch_size)
    model = _compiled(build, jit_compile)
    model.fit(ds, steps_per_epoch=max(2, steps // 4), epochs=1, verbose=0, shuffle=False)  # trace and warm up
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        rates.append(steps * batch_size / (time.perf_counter() - start))
    return rates


def train_throughput(build: Callable[[], object], x, y, batch_size: int, steps: int = 60,
                     repeat: int = 3, jit_compile: bool = False) -> float:
    """Median images/s of ``model.fit`` over ``steps`` steps (see :func:`train_rates`)."""
    return statistics.median(train_rates(build, x, y, batch_size, steps, repeat, jit_compile))


def interleaved_rates(builds: dict[str, Callable[[], object]], x, y, batch_size: int, steps: int = 30,
                      rounds: int = 5) -> dict[str, list[float]]:
    """Images/s of each model of ``builds``, measured in alternation: ``{name: [rate per round]}``.

    Every model is built, compiled (as in :func:`train_rates`) and warmed up first; then,
    ``rounds`` times over, each trains ``steps`` steps of ``batch_size`` images in turn. A
    busy spell on a shared machine then slows every candidate alike, instead of whichever
    happened to run at the time (see :func:`helpers.timing.measure_interleaved`).
    """
    from helpers.timing import measure_interleaved

    _check_steps(steps)
    if not builds:
        raise ValueError("builds must name at least one model builder, got none")
    ds = _batches(x, y, batch_size)
    models = {name: _compiled(build) for name, build in builds.items()}

    def fit(model):
        return lambda: model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)

    timings = measure_interleaved({name: fit(m) for name, m in models.items()}, rounds=rounds, repeat=1)
    return {name: [steps * batch_size / t for t in timing.times] for name, timing in timings.items()}


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far, over all its threads."""
    t = os.times()
    return t.user + t.system


def main(argv: list[str] | None = None) -> None:
    """Command line: set thread counts, then print one line of ``key=value`` pairs.

    ``intra_op_threads`` and ``inter_op_threads`` are read back from TensorFlow after
    setting them; ``cpu_per_wall`` is the CPU seconds the measurement used per wall-clock
    second (about the number of cores kept busy); ``images_per_s`` is the throughput.
    """
    parser = argparse.ArgumentParser(description="Training throughput of an MNIST model")
    parser.add_argument("--intra", type=int, default=0, help="intra-op threads (0: TensorFlow's default)")
    parser.add_argument("--inter", type=int, default=0, help="inter-op threads (0: TensorFlow's default)")
    parser.add_argument("--model", default="mnist_cnn", choices=["mnist_cnn", "fast_cnn"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="timed fits; the median is reported")
    parser.add_argument("--jit", action="store_true", help="compile the training step with XLA")
    parser.add_argument("--nondeterministic", action="store_true",
                        help="leave op determinism off (Keras refuses XLA when it is on)")
    args = parser.parse_args(argv)

    from helpers.env import silenced_stderr

    with silenced_stderr():
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    from helpers import models
    from helpers.data import load_mnist
    from helpers.env import seed_everything

    seed_everything(0, deterministic=not args.nondeterministic)
    data = load_mnist(normalize=True, channel_axis=True)
    n = args.batch * 8
    build = getattr(models, args.model)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    rates = train_rates(build, data.x_train[:n], data.y_train[:n], args.batch, args.steps,
                        repeat=args.repeat, jit_compile=args.jit)
    busy = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
    print(f"intra_op_threads={tf.config.threading.get_intra_op_parallelism_threads()} "
          f"inter_op_threads={tf.config.threading.get_inter_op_parallelism_threads()} "
          f"cpu_per_wall={busy:.2f} images_per_s={statistics.median(rates):.1f} "
          f"runs={','.join(f'{r:.1f}' for r in rates)}")


def throughput_in_subprocess(intra: int = 0, inter: int = 0, model: str = "mnist_cnn", batch: int = 128,
                             steps: int = 60, jit_compile: bool = False, deterministic: bool = True,
                             timeout: float = 600, details: bool = False,
                             repeat: int = 3) -> float | dict[str, Any]:
    """Run :func:`main` in a fresh Python process with the given settings; return images/s (median).

    With ``details=True``, return everything the process reported: ``images_per_s``, the
    thread counts TensorFlow really used, ``cpu_per_wall`` (cores kept busy) and ``runs``
    (the images/s of each of the ``repeat`` timed fits).
    Keras silently turns ``jit_compile=True`` off while TensorFlow's op determinism is on, so
    measure XLA with ``deterministic=False`` (and its baseline likewise).
    """
    cmd = [sys.executable, "-m", "helpers.throughput", "--intra", str(intra), "--inter", str(inter),
           "--model", model, "--batch", str(batch), "--steps", str(steps), "--repeat", str(repeat)]
    cmd += ["--jit"] if jit_compile else []
    cmd += [] if deterministic else ["--nondeterministic"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in out.stdout.splitlines() if "images_per_s=" in line]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"throughput subprocess failed (exit {out.returncode}): {out.stderr[-500:]}")
    pairs = dict(pair.split("=", 1) for pair in lines[-1].split())
    report: dict[str, Any] = {k: float(v) for k, v in pairs.items() if k != "runs"}
    report["runs"] = [float(v) for v in pairs["runs"].split(",")]
    for name, asked in (("intra_op_threads", intra), ("inter_op_threads", inter)):
        if report[name] != asked:
            raise RuntimeError(f"asked for {name}={asked}, TensorFlow used {report[name]:g}")
    return report if details else report["images_per_s"]


if __name__ == "__main__":
    main()
