"""helpers.metrics.reliability and expected_calibration_error on cases worked by hand."""

import numpy as np
import pytest

from helpers.metrics import expected_calibration_error, reliability


def test_hand_worked_bins():
    # two predictions at 0.95 (one right), two at 0.65 (both right), with 10 bins
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.35, 0.65], [0.35, 0.65]])
    y = np.array([0, 1, 1, 1])
    r = reliability(probs, y, bins=10)
    assert r["count"].tolist() == [0, 0, 0, 0, 0, 0, 2, 0, 0, 2]
    assert r["confidence"][9] == pytest.approx(0.95) and r["accuracy"][9] == pytest.approx(0.5)
    assert r["confidence"][6] == pytest.approx(0.65) and r["accuracy"][6] == pytest.approx(1.0)
    assert np.isnan(r["accuracy"][0])
    # ECE = 2/4 * |0.5 - 0.95| + 2/4 * |1 - 0.65|
    assert expected_calibration_error(probs, y, bins=10) == pytest.approx(0.5 * 0.45 + 0.5 * 0.35)


def test_bin_edges_belong_to_the_lower_bin_and_one_to_the_last():
    probs = np.array([[0.5, 0.5], [1.0, 0.0]])
    r = reliability(probs, np.array([0, 0]), bins=2)
    assert r["count"].tolist() == [1, 1]


def test_calibrated_by_construction_has_small_ece():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 200_000)
    right = rng.random(conf.size) < conf  # right exactly as often as it says
    probs = np.stack([conf, 1 - conf], axis=1)
    y = np.where(right, 0, 1)
    assert expected_calibration_error(probs, y, bins=10) < 0.005
    over = np.stack([np.minimum(conf + 0.05, 1.0), 1 - np.minimum(conf + 0.05, 1.0)], axis=1)
    assert expected_calibration_error(over, y, bins=10) > 0.04, "5 points of over-confidence shows up"


@pytest.mark.parametrize(("probs", "y", "message"), [
    (np.array([0.5, 0.5]), np.array([0]), r"probs must have shape \(N, classes\)"),
    (np.array([[2.0, 1.0]]), np.array([0]), "apply a softmax to logits first"),
    (np.array([[0.5, 0.5]]), np.array([2]), r"y must hold classes in \[0, 2\)"),
    (np.array([[0.5, 0.5]]), np.array([0, 1]), "probs and y must have the same length"),
])
def test_bad_input(probs, y, message):
    with pytest.raises(ValueError, match=message):
        reliability(probs, y)


def test_bad_bins():
    with pytest.raises(ValueError, match="bins must be a positive integer, got 0"):
        expected_calibration_error(np.array([[0.5, 0.5]]), np.array([0]), bins=0)
