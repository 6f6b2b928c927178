"""Chapter 8's arithmetic: a sweep's Pareto frontier, where returns diminish, data parallelism's cost.

- :func:`pareto_front`: the points no other point beats on both cost and accuracy.
- :func:`diminishing_point`: the frontier point past which doubling the cost buys less than
  a stated gain in accuracy.
- :func:`ring_allreduce_seconds` and :func:`data_parallel_efficiency`: a model of what
  synchronous data-parallel training gains with N workers, from the time a worker computes
  per step and the time the workers spend summing gradients (a ring all-reduce).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _check_pairs(cost: Sequence[float], acc: Sequence[float]) -> None:
    if len(cost) != len(acc):
        raise ValueError(f"cost and acc must have the same length, got {len(cost)} and {len(acc)}")
    if not len(cost):
        raise ValueError("cost and acc must hold at least one point, got none")
    bad = [c for c in cost if not (isinstance(c, int | float) and math.isfinite(c) and c > 0)]
    if bad:
        raise ValueError(f"cost must hold finite numbers > 0, got {bad[0]!r}")


def pareto_front(cost: Sequence[float], acc: Sequence[float]) -> list[int]:
    """Return the indices of the points on the Pareto frontier, cheapest first.

    ``cost[i]`` (FLOPs, seconds: lower is better) and ``acc[i]`` (higher is better) describe
    point ``i``. A point is on the frontier if no other point is at least as cheap *and*
    at least as accurate, and strictly better in one of the two. Walking the points from
    cheapest to dearest, each frontier point is more accurate than every cheaper one.
    """
    _check_pairs(cost, acc)
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -acc[i]))
    front, best = [], -math.inf
    for i in order:
        if acc[i] > best:
            front.append(i)
            best = acc[i]
    return front


def gains_per_doubling(cost: Sequence[float], acc: Sequence[float], front: Sequence[int]) -> list[float]:
    """Return the accuracy gained per doubling of cost between consecutive frontier points.

    ``(acc[b] - acc[a]) / log2(cost[b] / cost[a])`` for each consecutive pair ``a, b`` of
    ``front``, in the units of ``acc`` (multiply fractions by 100 for percentage points).
    """
    _check_pairs(cost, acc)
    return [(acc[b] - acc[a]) / math.log2(cost[b] / cost[a]) for a, b in zip(front, front[1:], strict=False)]


def diminishing_point(cost: Sequence[float], acc: Sequence[float], min_gain: float) -> int:
    """Return the frontier point where returns diminish: past it, doubling the cost gains < ``min_gain``.

    Walks the frontier from the cheapest point; at each point, looks at every dearer
    frontier point and the accuracy it gains per doubling of cost. The first point from
    which none of them gains ``min_gain`` or more (in the units of ``acc``) is returned;
    so a flat step followed by a steep one does not stop the walk early. Returns the last
    frontier point if returns never diminish.
    """
    if not min_gain > 0:
        raise ValueError(f"min_gain must be > 0, got {min_gain!r}")
    front = pareto_front(cost, acc)
    for k, a in enumerate(front):
        later = front[k + 1:]
        if all((acc[b] - acc[a]) / math.log2(cost[b] / cost[a]) < min_gain for b in later):
            return a
    return front[-1]  # not reached: the last point has no later points


def ring_allreduce_seconds(params: int, workers: int, bandwidth: float, latency: float,
                           bytes_per_param: int = 4) -> float:
    """Seconds to sum ``params`` gradients across ``workers`` with a ring all-reduce.

    The ring sends each worker's gradients around in ``workers`` chunks: ``2 (N - 1)``
    messages per worker, each of ``S / N`` bytes (``S = params * bytes_per_param``), so
    ``t = 2 (N - 1) / N * S / bandwidth + 2 (N - 1) * latency``. ``bandwidth`` in bytes per
    second per link, ``latency`` in seconds per message. Zero for one worker. The bandwidth
    term barely grows with N (it tends to ``2 S / bandwidth``); the latency term grows
    linearly, which is why small models stop scaling first.
    """
    for name, value in (("params", params), ("workers", workers), ("bytes_per_param", bytes_per_param)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0 bytes/s, got {bandwidth!r}")
    if not latency >= 0:
        raise ValueError(f"latency must be >= 0 s, got {latency!r}")
    n, size = workers, params * bytes_per_param
    return 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * latency


def data_parallel_efficiency(compute_seconds: float, params: int, workers: int, bandwidth: float,
                             latency: float, overlap: float = 0.0) -> float:
    """Fraction of perfect scaling N workers reach: ``t_c / (t_c + (1 - overlap) * t_ar(N))``.

    Each worker computes a step on its own share of the batch in ``compute_seconds``
    (``t_c``; with the per-worker batch held fixed, this does not change with N), then the
    gradients are summed (:func:`ring_allreduce_seconds`, ``t_ar``). ``overlap``: the
    fraction of ``t_ar`` hidden behind the backward pass (frameworks start summing a
    layer's gradients while earlier layers still compute them). Throughput with N workers
    is ``N x efficiency`` times one worker's.
    """
    if not compute_seconds > 0:
        raise ValueError(f"compute_seconds must be > 0, got {compute_seconds!r}")
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must be in [0, 1], got {overlap!r}")
    t_ar = ring_allreduce_seconds(params, workers, bandwidth, latency)
    return compute_seconds / (compute_seconds + (1.0 - overlap) * t_ar)


def plot_pareto(ax, cost: Sequence[float], acc: Sequence[float], labels: Sequence[str],
                knee: int | None = None, log_x: bool = True):
    """Draw a sweep on ``ax``: every point, the Pareto frontier as a line, the knee circled.

    ``cost[i]``, ``acc[i]``, ``labels[i]`` describe point ``i`` (lower cost and higher
    accuracy are better). Points on the frontier are filled, the others hollow; ``knee``
    (an index) is ringed in red. Returns ``ax``.
    """
    if not len(cost) == len(acc) == len(labels):
        raise ValueError(f"cost, acc and labels must have the same length, got {len(cost)}, "
                         f"{len(acc)} and {len(labels)}")
    front = pareto_front(cost, acc)
    ax.plot([cost[i] for i in front], [acc[i] for i in front], "-", color="C0", lw=1, zorder=1,
            label="Pareto frontier")
    for i, (c, a) in enumerate(zip(cost, acc, strict=True)):
        on = i in front
        ax.scatter(c, a, s=28, zorder=2, facecolors="C0" if on else "white", edgecolors="C0")
        ax.annotate(labels[i], (c, a), fontsize=7, xytext=(4, -9), textcoords="offset points")
    if knee is not None:
        ax.scatter(cost[knee], acc[knee], s=160, facecolors="none", edgecolors="C3", lw=1.5, zorder=3,
                   label="returns diminish")
    if log_x:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    return ax
