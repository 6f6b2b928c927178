"""Seeding, determinism and the environment line printed at the top of every chapter.

Every chapter starts with one call::

    from helpers.env import setup
    tf = setup(seed=0)

which imports TensorFlow without its C++ start-up chatter, seeds Python, NumPy and
TensorFlow, turns on deterministic TensorFlow ops, and prints one line that says what
the numbers below it were measured on.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import numpy as np

#: The seed every chapter uses unless it says otherwise.
DEFAULT_SEED = 0


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Send file descriptor 2 to ``/dev/null`` for the duration of the block.

    TensorFlow's C++ runtime writes log lines straight to the process's stderr (file
    descriptor 2), below Python's ``sys.stderr``, and ``TF_CPP_MIN_LOG_LEVEL`` does not
    stop all of them. Redirecting the descriptor itself is the only reliable way to keep
    them out of a notebook.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> ModuleType:
    """Import TensorFlow with its C++ start-up log lines silenced, and return the module.

    The first operation is run inside the silenced block too, since TensorFlow prints
    more lines when it first initialises its CPU kernels.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with silenced_stderr():
        import tensorflow as tf

        tf.constant(1.0) + 1.0  # noqa: B018  (first op: initialises the kernels)
        tf.get_logger().setLevel("ERROR")
    return tf


def seed_everything(seed: int = DEFAULT_SEED, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow/Keras with one number.

    With ``deterministic=True`` TensorFlow's op determinism is switched on too, so two
    runs of the same training on the same machine give the same weights. (Across
    different CPUs the floating-point kernels may still differ in the last bits.)
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    tf = import_tensorflow()
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(int(seed))  # Python, NumPy and the backend
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@dataclass(frozen=True)
class CpuInfo:
    """What the book needs to know about the processor."""

    model: str
    cores: int
    flags: frozenset[str]
    vendor: str = ""
    family: int | None = None
    clock_mhz: float | None = None

    def has(self, flag: str) -> bool:
        """Return True if the CPU reports ``flag`` (as spelled in ``/proc/cpuinfo``)."""
        return flag in self.flags


def cpu_info() -> CpuInfo:
    """Read the CPU model, the number of usable cores and the feature flags.

    On Linux the model and flags come from ``/proc/cpuinfo``; elsewhere the model comes
    from :func:`platform.processor` and the flag set is empty.
    """
    model, flags = platform.processor() or platform.machine(), frozenset()
    vendor, family, clock = "", None, None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and value:
                    model = value
                elif key in ("flags", "Features") and not flags:
                    flags = frozenset(value.split())
                elif key == "vendor_id" and not vendor:
                    vendor = value
                elif key == "cpu family" and family is None and value.isdigit():
                    family = int(value)
                elif key == "cpu MHz" and clock is None:
                    clock = float(value)
    except (OSError, ValueError):
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return CpuInfo(model=model, cores=cores, flags=flags, vendor=vendor, family=family, clock_mhz=clock)


def memory_gib() -> float | None:
    """Return the machine's total memory in GiB (one decimal), or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def environment_line() -> str:
    """Return one line naming TensorFlow, Keras and NumPy versions, the CPU and any GPU."""
    tf = import_tensorflow()
    import keras

    cpu = cpu_info()
    gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    gpu = ", ".join(gpus) if gpus else "none"
    return (
        f"TensorFlow {tf.__version__} | Keras {keras.__version__} | NumPy {np.__version__} | "
        f"CPU: {cpu.model}, {cpu.cores} cores | GPU: {gpu}"
    )


def setup(seed: int = DEFAULT_SEED, deterministic: bool = True) -> ModuleType:
    """Prepare a chapter: quiet TensorFlow, seed everything, print the environment line.

    Returns the ``tensorflow`` module, so a chapter's setup cell can write
    ``tf = setup()``.
    """
    tf = import_tensorflow()
    seed_everything(seed, deterministic=deterministic)
    mode = "deterministic ops" if deterministic else "non-deterministic ops"
    print(f"{environment_line()} | seed {seed}, {mode}")
    return tf
