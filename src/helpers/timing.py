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


def measure(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeat`` times timed.

    Returns a :class:`Timing`. ``fn`` should finish its work before returning (for
    TensorFlow, return a NumPy value or call ``.numpy()`` so the op has really run).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an integer >= 1, got {repeat!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
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
