"""Unit tests of the figure helpers in helpers.plots (drawn off-screen)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.plots import plot_curves  # noqa: E402


def test_plot_curves_draws_one_panel_per_entry_and_hides_the_rest():
    x = np.linspace(-1, 1, 11)
    panels = {"a": {"f": x, "f'": np.ones_like(x)}, "b": {"g": x**2}, "c": {"h": -x}, "d": {"k": 0 * x}}
    fig = plot_curves(x, panels, ncols=3)
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 6 and len(visible) == 4
    assert [ax.get_title() for ax in visible] == ["a", "b", "c", "d"]
    assert len(visible[0].get_legend().get_texts()) == 2
    plt.close(fig)


def test_plot_curves_bad_input():
    x = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="panels\\['a'\\]\\['f'\\]"):
        plot_curves(x, {"a": {"f": np.zeros(4)}})
    with pytest.raises(ValueError, match="x must be 1-D"):
        plot_curves(np.zeros((2, 2)), {"a": {"f": np.zeros(2)}})
    with pytest.raises(ValueError, match="panels"):
        plot_curves(x, {})
