"""Unit tests of the sliding-window, matrix and feature-map figures (chapters 1 and 2)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.plots import plot_sliding_window, show_feature_maps, show_matrices  # noqa: E402


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_sliding_window_fills_the_output_in_row_major_order():
    x = np.arange(25).reshape(5, 5)
    y = np.arange(9).reshape(3, 3) * 10
    fig = plot_sliding_window(x, y, window=3, steps=[0, 4, 8], ncols=3)
    assert len(fig.axes) == 6
    inputs, outputs = fig.axes[0::2], fig.axes[1::2]
    assert all(len(texts(ax)) == 25 for ax in inputs)
    assert [len(texts(ax)) for ax in outputs] == [1, 5, 9]
    assert texts(outputs[1]) == ["0", "10", "20", "30", "40"]
    window = inputs[1].patches[0]
    assert (window.get_x(), window.get_y(), window.get_width()) == (0.5, 0.5, 3)
    plt.close(fig)


def test_sliding_window_with_stride_and_hidden_spare_panels():
    x = np.arange(16.0).reshape(4, 4)
    y = np.array([[5.0, 7.0], [13.0, 15.0]])
    fig = plot_sliding_window(x, y, window=2, stride=2, ncols=3)
    assert len(fig.axes) == 12 and sum(ax.axison for ax in fig.axes) == 8
    assert fig.axes[6].patches[0].get_xy() == (1.5, 1.5)  # step 4: output (1, 1), window at (2, 2)
    plt.close(fig)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [((np.zeros(5), np.zeros((3, 3)), 3), {}, "x must be"),
     ((np.zeros((5, 5)), np.zeros(3), 3), {}, "y must be a 2-D"),
     ((np.zeros((5, 5)), np.zeros((2, 2)), 3), {}, "y must have shape \\(3, 3\\)"),
     ((np.zeros((5, 5)), np.zeros((3, 3)), 6), {}, "window"),
     ((np.zeros((5, 5)), np.zeros((3, 3)), 3), {"steps": [9]}, "steps")],
)
def test_sliding_window_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_sliding_window(*args, **kwargs)


def test_show_matrices_one_panel_per_matrix_with_values():
    fig = show_matrices({"a": np.eye(3), "b": np.array([[1.0, -2.0]])}, fmt=".1f")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert texts(fig.axes[1]) == ["1.0", "-2.0"]
    plt.close(fig)
    with pytest.raises(ValueError, match="matrices\\['v'\\]"):
        show_matrices({"v": np.zeros(3)})
    with pytest.raises(ValueError, match="at least one"):
        show_matrices({})


def test_show_feature_maps_grid_and_colour_scales():
    maps = np.random.default_rng(0).normal(size=(2, 6, 6, 3))
    maps[..., 0] = np.abs(maps[..., 0])
    fig = show_feature_maps(maps, ["image", "b", "c"], row_labels=["r0", "r1"])
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "image"
    first, second = fig.axes[0].images[0], fig.axes[1].images[0]
    assert first.get_clim()[0] == 0.0 and second.get_clim()[0] == -second.get_clim()[1]
    assert fig.axes[3].get_ylabel() == "r1"
    plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        show_feature_maps(maps, ["a"])
    with pytest.raises(ValueError, match="maps must"):
        show_feature_maps(maps[0], ["a", "b", "c"])
