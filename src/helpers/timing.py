"""One way to time things, used by every chapter and benchmark.

Warm up first (the first call pays for tracing, allocation and caches), repeat, and
report the median, which shrugs off the odd slow run on a shared machine. Compare
against a baseline timed the same way in the same process: ratios travel between
machines, absolute seconds do not.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timing:
    """Seconds of each repeat of one measured call, with the median and spread."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        """Fastest call in seconds."""
        return min(self.times)

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median: how noisy the repeats were."""
        return (max(self.times) - min(self.times)) / self.median if self.median else 0.0

    def __str__(self) -> str:
        """E.g. ``12.3 ms (median of 7, spread 4%)``."""
        return f"{format_seconds(self.median)} (median of {len(self.times)}, spread {self.spread:.0%})"


def _check_count(name: str, value: int, minimum: int) -> None:
    """Raise ValueError unless ``value`` is an integer >= ``minimum``, naming the argument."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def measure(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeat`` times timed.

    Returns a :class:`Timing`. ``fn`` should finish its work before returning (for
    TensorFlow, return a NumPy value or call ``.numpy()`` so the op has really run).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _check_count("repeat", repeat, 1)
    _check_count("warmup", warmup, 0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


@dataclass
class Stopwatch:
    """Context manager that records the wall time of one block in ``.seconds``.

    >>> with Stopwatch() as sw:
    ...     pass
    >>> sw.seconds >= 0
    True
    """

    seconds: float = field(default=0.0, init=False)
    _start: float = field(default=0.0, init=False, repr=False)

    def __enter__(self) -> Stopwatch:
        """Start the clock."""
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the clock."""
        self.seconds = time.perf_counter() - self._start


def format_seconds(seconds: float) -> str:
    """Format a duration with a unit that fits: ``850 µs``, ``12.3 ms``, ``4.56 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def measure_interleaved(
    fns: dict[str, Callable[[], object]], rounds: int = 7, repeat: int = 3, warmup: int = 1
) -> dict[str, Timing]:
    """Time several functions in alternation, so that a busy spell hits them all alike.

    Each function is first called ``warmup`` times untimed; then, ``rounds`` times over,
    each function in turn is called ``repeat`` times and timed. Returns
    ``{name: Timing}`` with ``rounds * repeat`` times per function, in the order of
    ``fns``. On a shared machine whose load drifts, this compares fairer than timing one
    function after the other with :func:`measure`: a slow minute lands on every candidate,
    not on whichever happened to run then.
    """
    if not fns:
        raise ValueError("fns must hold at least one function, got none")
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"fns[{name!r}] must be callable, got {type(fn).__name__}")
    _check_count("rounds", rounds, 1)
    _check_count("repeat", repeat, 1)
    _check_count("warmup", warmup, 0)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].extend(measure(fn, repeat=repeat, warmup=0).times)
    return {name: Timing(tuple(t)) for name, t in times.items()}


def layer_times(model, x, repeat: int = 10, warmup: int = 2) -> list[tuple[str, float, float]]:
    """Median forward and forward+backward seconds of each layer of ``model`` on the batch ``x``.

    Each layer is timed on its own, fed the output of the layers before it, inside a
    ``tf.function``. Forward+backward computes the gradients of the sum of the layer's output
    with respect to its weights and (except for the first layer, whose input is the data)
    its input, i.e. one training step's work for that layer.
    Returns ``[(layer name, forward s, forward+backward s), ...]``: a poor man's profiler
    that says which layer the time goes to.
    """
    import tensorflow as tf

    rows = []
    h = tf.constant(x)
    for i, layer in enumerate(model.layers):
        def forward(t, layer=layer):
            return layer(t, training=True)

        def step(t, layer=layer, wrt_input=i > 0):
            with tf.GradientTape() as tape:
                tape.watch(t)
                out = tf.reduce_sum(layer(t, training=True))
            return tape.gradient(out, [t, *layer.trainable_weights] if wrt_input else layer.trainable_weights)

        fwd, fb = tf.function(forward), tf.function(step)
        t_fwd = measure(lambda f=fwd, h=h: f(h).numpy(), repeat=repeat, warmup=warmup).median
        t_fb = measure(lambda f=fb, h=h: [g.numpy() for g in f(h)], repeat=repeat, warmup=warmup).median
        rows.append((layer.name, t_fwd, t_fb))
        h = layer(h, training=False)
    return rows
