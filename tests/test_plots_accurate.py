"""Chapter 7's figure helpers: series, ladder and reliability diagrams (drawn off-screen)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.metrics import reliability  # noqa: E402
from helpers.plots import plot_ladder, plot_reliability, plot_series  # noqa: E402


def test_plot_series_draws_each_line_with_its_own_x():
    fig = plot_series({"a": ([1, 2, 3], [3, 2, 1]), "b": ([10, 20], [1, 1])}, "x", "y", logx=True,
                      hline=(1.5, "ref"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "ref"]
    assert ax.get_xscale() == "log"
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [10, 20])
    plt.close(fig)
    with pytest.raises(ValueError, match=r"series\['a'\] must be two 1-D sequences of the same length"):
        plot_series({"a": ([1, 2], [1])}, "x", "y")
    with pytest.raises(ValueError, match="series must hold at least one"):
        plot_series({}, "x", "y")


def test_plot_ladder_one_row_per_rung():
    fig = plot_ladder(["a", "b", "c"], [98.0, 98.5, 99.1], [0.1, 0.05, 0.0], [3.0, 4.0, 9.0])
    left, right = fig.axes
    assert [t.get_text() for t in left.get_yticklabels()] == ["a", "b", "c"]
    assert len(right.patches) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="same non-zero length, got 2, 1, 2, 2"):
        plot_ladder(["a", "b"], [1.0], [0.0, 0.0], [1.0, 1.0])


def test_plot_reliability_one_panel_per_model_with_ece_in_the_title():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    r = reliability(probs, np.array([0, 1, 1]), bins=5)
    fig = plot_reliability({"m1": r, "m2": r}, eces={"m1": 0.1234})
    assert len(fig.axes) == 2
    assert "ECE 0.1234" in fig.axes[0].get_title() and fig.axes[1].get_title() == "m2"
    assert len(fig.axes[0].patches) == int((r["count"] > 0).sum())
    plt.close(fig)
    with pytest.raises(ValueError, match="diagrams must hold at least one"):
        plot_reliability({})
