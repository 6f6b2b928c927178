import math

import pytest

from helpers.scaling import (
    data_parallel_efficiency,
    diminishing_point,
    gains_per_doubling,
    pareto_front,
    ring_allreduce_seconds,
)

# cost (e.g. MFLOPs) and accuracy (%) of six made-up points
COST = [1.0, 2.0, 4.0, 3.0, 8.0, 16.0]
ACC = [95.0, 97.0, 98.0, 96.5, 98.05, 98.1]


def test_pareto_front_keeps_only_undominated_points_cheapest_first():
    assert pareto_front(COST, ACC) == [0, 1, 2, 4, 5]  # point 3 costs more than 1 and is worse


def test_pareto_front_ties_keep_the_more_accurate_of_equal_cost():
    assert pareto_front([1.0, 1.0, 2.0], [90.0, 91.0, 91.0]) == [1]


def test_gains_per_doubling_by_hand():
    gains = gains_per_doubling(COST, ACC, [0, 1, 2])
    assert gains == pytest.approx([2.0, 1.0])


def test_diminishing_point_is_where_doubling_stops_paying():
    # from point 2 (cost 4), doubling gains 0.05 then 0.1/2 = 0.05 points per doubling
    assert diminishing_point(COST, ACC, min_gain=0.1) == 2
    assert diminishing_point(COST, ACC, min_gain=1.5) == 1  # 2 -> 4 gains only 1 point
    assert diminishing_point(COST, ACC, min_gain=0.01) == 5  # every step pays: the last point


def test_diminishing_point_looks_past_a_flat_step():
    # a flat step (1 -> 2) followed by a steep one (2 -> 4): the walk must not stop at 1
    assert diminishing_point([1.0, 2.0, 4.0], [95.0, 95.01, 98.0], min_gain=0.1) == 2


@pytest.mark.parametrize(("cost", "acc", "match"), [
    ([1.0], [1.0, 2.0], "same length"),
    ([], [], "at least one point"),
    ([0.0, 1.0], [1.0, 2.0], "cost must hold finite numbers > 0"),
])
def test_pareto_front_refuses_bad_input(cost, acc, match):
    with pytest.raises(ValueError, match=match):
        pareto_front(cost, acc)


def test_diminishing_point_needs_a_positive_gain():
    with pytest.raises(ValueError, match="min_gain must be > 0"):
        diminishing_point(COST, ACC, 0)


def test_ring_allreduce_by_hand():
    # 1 million float32 = 4 MB; 2 workers over 1 GB/s with 10 us per message:
    # 2 (2-1)/2 * 4e6 / 1e9 + 2 (2-1) * 1e-5 = 4 ms + 20 us
    assert ring_allreduce_seconds(1_000_000, 2, 1e9, 1e-5) == pytest.approx(0.004 + 2e-5)
    assert ring_allreduce_seconds(1_000_000, 1, 1e9, 1e-5) == 0.0
    # the bandwidth term tends to 2 S / B; the latency term grows linearly
    big = ring_allreduce_seconds(1_000_000, 1000, 1e9, 0.0)
    assert big == pytest.approx(2 * 4e6 / 1e9, rel=2e-3)
    assert ring_allreduce_seconds(10, 101, 1e12, 1e-3) == pytest.approx(0.2, rel=1e-6)


def test_efficiency_by_hand():
    # compute 10 ms, all-reduce 10 ms: half of perfect scaling; hiding half of it: 2/3
    t_ar = ring_allreduce_seconds(1_250_000, 2, 1e9, 0.0)
    assert t_ar == pytest.approx(0.005)
    assert data_parallel_efficiency(0.005, 1_250_000, 2, 1e9, 0.0) == pytest.approx(0.5)
    assert data_parallel_efficiency(0.005, 1_250_000, 2, 1e9, 0.0, overlap=0.5) == pytest.approx(2 / 3)
    assert data_parallel_efficiency(0.005, 1_250_000, 1, 1e9, 0.0) == 1.0
    effs = [data_parallel_efficiency(0.01, 100_000, n, 1.25e8, 5e-5) for n in (2, 8, 64)]
    assert effs == sorted(effs, reverse=True) and all(0 < e < 1 for e in effs)
    assert not math.isnan(effs[-1])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"params": 0}, "params must be a positive integer"),
    ({"workers": 0}, "workers must be a positive integer"),
    ({"bandwidth": 0.0}, "bandwidth must be > 0"),
    ({"latency": -1.0}, "latency must be >= 0"),
])
def test_ring_allreduce_refuses_bad_input(kwargs, match):
    args = {"params": 10, "workers": 2, "bandwidth": 1e9, "latency": 0.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        ring_allreduce_seconds(**args)


def test_efficiency_refuses_bad_input():
    with pytest.raises(ValueError, match="compute_seconds must be > 0"):
        data_parallel_efficiency(0.0, 10, 2, 1e9, 0.0)
    with pytest.raises(ValueError, match=r"overlap must be in \[0, 1\]"):
        data_parallel_efficiency(1.0, 10, 2, 1e9, 0.0, overlap=1.5)
