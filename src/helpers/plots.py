"""The book's figures. Each function draws one figure and returns it.

In a notebook, assign the result (``fig = show_digits(...)``) so the figure is drawn once.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def show_digits(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    size: float = 1.2,
    title_colors: Sequence[str] | None = None,
):
    """Draw a grid of grey-scale images, ``images: (N, H, W)`` or ``(N, H, W, 1)``."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 1), got {images.shape}")
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have one entry per image ({n}), got {len(titles)}")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r")
            if titles is not None:
                color = title_colors[i] if title_colors is not None else "black"
                ax.set_title(titles[i], fontsize=8, color=color)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, Sequence[float]], metrics: Sequence[str] = ("loss", "accuracy")):
    """Plot training and validation curves per epoch from ``model.fit(...).history``."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=True):
        if metric not in history:
            raise ValueError(f"history has no {metric!r}; it has {sorted(history)}")
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "o-", label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_confusion(cm: np.ndarray, class_names: Sequence[str] | None = None):
    """Draw a confusion matrix (rows true, columns predicted) with counts in the cells.

    The diagonal is drawn in one colour and errors in another, on a log scale, so that a
    handful of mistakes stays visible next to a thousand correct answers.
    """
    cm = np.asarray(cm)
    k = len(cm)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    errors = np.where(np.eye(k, dtype=bool), np.nan, cm.astype(float))
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    im = ax.imshow(np.log1p(errors), cmap="Reds")
    ax.imshow(np.where(np.eye(k, dtype=bool), 1.0, np.nan), cmap="Greens", vmin=0, vmax=2)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, label="log(1 + errors)")
    fig.tight_layout()
    return fig


def bar_chart(labels: Sequence[str], values: Sequence[float], ylabel: str, log: bool = False):
    """Draw a labelled bar chart, each bar annotated with its value."""
    if len(labels) != len(values):
        raise ValueError(f"labels and values must have the same length, got {len(labels)} and {len(values)}")
    fig, ax = plt.subplots(figsize=(1.3 * len(labels) + 2, 3.4))
    bars = ax.bar(labels, values, color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" for v in values], fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_curves(
    x: np.ndarray,
    panels: dict[str, dict[str, np.ndarray]],
    ncols: int = 3,
    xlabel: str = "z",
    ylabel: str | None = None,
    size: tuple[float, float] = (3.3, 2.6),
):
    """Draw small multiples: one panel per entry of ``panels``, each with labelled curves.

    ``x: (M,)`` is shared by every curve; ``panels`` maps a panel title to
    ``{curve label: y}`` with each ``y: (M,)``. Each panel gets a legend, a grid and thin
    lines through 0; curves are told apart by line style as well as colour, so the figure
    survives black-and-white printing. Chapter 3 draws each activation with its derivative,
    chapter 4 each loss with its gradient.
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    if not panels:
        raise ValueError("panels must hold at least one panel, got none")
    for title, curves in panels.items():
        for label, y in curves.items():
            if np.shape(y) != x.shape:
                raise ValueError(f"panels[{title!r}][{label!r}] must have shape {x.shape}, got {np.shape(y)}")
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    styles = ("-", "--", ":", "-.")
    for ax, (title, curves) in zip(axes.flat, panels.items(), strict=False):
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(0, color="grey", lw=0.6)
        for i, (label, y) in enumerate(curves.items()):
            ax.plot(x, y, styles[i % len(styles)], lw=1.8, label=label)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if ylabel is not None:
            ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _number_grid(ax, values: np.ndarray, shown: np.ndarray, fmt: str, fontsize: float) -> None:
    """Draw ``values`` as a table of numbers; cells where ``shown`` is False stay empty."""
    rows, cols = values.shape
    ax.imshow(np.where(shown, 0.92, 1.0), cmap="gray", vmin=0, vmax=1)
    for i in range(rows):
        for j in range(cols):
            if shown[i, j]:
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", fontsize=fontsize)
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="grey", lw=0.6)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)


def plot_sliding_window(
    x: np.ndarray,
    y: np.ndarray,
    window: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    steps: Sequence[int] | None = None,
    ncols: int = 3,
    fmt: str = "g",
    size: float = 1.7,
):
    """Draw a sliding window step by step: the input with the window, the output filling in.

    ``x: (H, W)`` is the input and ``y: (H_out, W_out)`` the result of sliding a
    ``window`` (int or ``(KH, KW)``) over it with ``stride`` and no padding ("valid"), so
    ``H_out = (H - KH) // stride + 1`` (likewise ``W_out``). Each step is a pair of panels:
    the input with the current window outlined, and the output with the values computed
    so far (row-major order) and the current one outlined. ``steps`` are flat output
    indices (default: all of them); ``fmt`` formats the numbers. Chapter 1 draws a
    convolution with it, chapter 2 a pooling.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (H, W), got shape {x.shape}")
    if y.ndim != 2:
        raise ValueError(f"y must be a 2-D array (H_out, W_out), got shape {y.shape}")
    (kh, kw) = (window, window) if isinstance(window, int) else tuple(window)
    (sh, sw) = (stride, stride) if isinstance(stride, int) else tuple(stride)
    if min(kh, kw, sh, sw) < 1 or kh > x.shape[0] or kw > x.shape[1]:
        raise ValueError(f"window and stride must be >= 1 and the window must fit in x {x.shape}, "
                         f"got window {window!r}, stride {stride!r}")
    expected = ((x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1)
    if y.shape != expected:
        raise ValueError(f"y must have shape {expected} for x {x.shape}, window {window!r} and "
                         f"stride {stride!r}, got {y.shape}")
    steps = list(range(y.size)) if steps is None else list(steps)
    if not steps or not all(0 <= s < y.size for s in steps):
        raise ValueError(f"steps must be flat output indices in [0, {y.size}), got {steps!r}")
    ncols = max(1, min(ncols, len(steps)))
    nrows = -(-len(steps) // ncols)
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(2 * ncols * size, nrows * size * 1.05),
                             squeeze=False, gridspec_kw={"width_ratios": [x.shape[1], y.shape[1]] * ncols})
    order = np.arange(y.size).reshape(y.shape)
    fontsize = 8 if max(x.shape) <= 6 else 6
    for k, ax_pair in enumerate(axes.reshape(nrows * ncols, 2)):
        if k >= len(steps):
            ax_pair[0].axis("off")
            ax_pair[1].axis("off")
            continue
        i, j = divmod(steps[k], y.shape[1])
        _number_grid(ax_pair[0], x, np.ones(x.shape, bool), fmt, fontsize)
        ax_pair[0].add_patch(plt.Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, fill=True,
                                           facecolor="tab:red", alpha=0.18, edgecolor="tab:red", lw=2.2))
        ax_pair[0].set_title(f"step {steps[k] + 1}: window at ({i * sh}, {j * sw})", fontsize=8)
        _number_grid(ax_pair[1], y, order <= steps[k], fmt, fontsize)
        ax_pair[1].add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=2.2))
        ax_pair[1].set_title(f"output ({i}, {j})", fontsize=8)
    fig.tight_layout()
    return fig


def show_matrices(
    matrices: dict[str, np.ndarray], fmt: str = ".2f", cmap: str = "RdBu_r", size: float = 0.45
):
    """Draw small 2-D arrays side by side as colour-coded tables of their values.

    ``matrices`` maps a title to a 2-D array (e.g. a 3x3 kernel or a 4x4 gradient). Each
    panel has its own colour scale, symmetric around 0 so that the sign reads at a glance;
    ``fmt`` formats the numbers and ``size`` is inches per cell. Chapter 1 compares a
    learned kernel with the true one; chapter 2 shows pooling gradients.
    """
    if not matrices:
        raise ValueError("matrices must hold at least one array, got none")
    arrays = {title: np.asarray(m, dtype=float) for title, m in matrices.items()}
    for title, m in arrays.items():
        if m.ndim != 2:
            raise ValueError(f"matrices[{title!r}] must be 2-D, got shape {m.shape}")
    width = sum(m.shape[1] for m in arrays.values()) * size + 0.6 * len(arrays)
    height = max(m.shape[0] for m in arrays.values()) * size + 0.6
    fig, axes = plt.subplots(1, len(arrays), figsize=(width, height), squeeze=False,
                             gridspec_kw={"width_ratios": [m.shape[1] for m in arrays.values()]})
    for ax, (title, m) in zip(axes.flat, arrays.items(), strict=True):
        limit = float(np.abs(m).max()) or 1.0
        ax.imshow(m, cmap=cmap, vmin=-limit, vmax=limit)
        for (i, j), v in np.ndenumerate(m):
            color = "white" if abs(v) > 0.6 * limit else "black"
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8, color=color)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def show_feature_maps(
    maps: np.ndarray,
    titles: Sequence[str],
    row_labels: Sequence[str] | None = None,
    size: float = 1.5,
):
    """Draw feature maps in a grid: one row per image, one column per channel.

    ``maps: (R, H, W, C)``, e.g. a batch of digits filtered by C kernels; ``titles`` names
    the C columns and ``row_labels`` the R rows. A column whose values are all >= 0 is
    drawn in grey (white = 0); a column with negative values in red/blue on a scale
    symmetric around 0 (white = 0). Every column shares one scale across its rows, so
    rows can be compared. Chapter 1 shows classic kernels on MNIST digits with it.
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 4:
        raise ValueError(f"maps must have shape (R, H, W, C), got {maps.shape}")
    rows, _, _, cols = maps.shape
    if len(titles) != cols:
        raise ValueError(f"titles must name the {cols} channels, got {len(titles)}")
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"row_labels must label the {rows} rows, got {len(row_labels)}")
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.05), squeeze=False)
    for c in range(cols):
        column = maps[..., c]
        limit = float(np.abs(column).max()) or 1.0
        signed = column.min() < 0
        for r in range(rows):
            ax = axes[r, c]
            ax.imshow(column[r], cmap="RdBu_r" if signed else "gray_r",
                      vmin=-limit if signed else 0.0, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=9)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=9)
    fig.tight_layout()
    return fig


def plot_series(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    markers: bool = True,
    hline: tuple[float, str] | None = None,
    size: tuple[float, float] = (6.0, 3.5),
):
    """Draw one line per entry of ``series`` (``{label: (x, y)}``), each with its own x values.

    Lines are told apart by style as well as colour. ``hline=(y, label)`` adds a dotted
    reference line. Chapter 7 draws learning-rate schedules, the learning-rate range test,
    learning curves and training logs with it.
    """
    if not series:
        raise ValueError("series must hold at least one (x, y) pair, got none")
    fig, ax = plt.subplots(figsize=size)
    styles = ("-", "--", "-.", ":")
    for i, (label, (x, y)) in enumerate(series.items()):
        if np.shape(x) != np.shape(y) or np.ndim(x) != 1:
            raise ValueError(f"series[{label!r}] must be two 1-D sequences of the same length, "
                             f"got shapes {np.shape(x)} and {np.shape(y)}")
        ax.plot(x, y, styles[i % len(styles)], marker="o" if markers else None, ms=3.5, lw=1.6,
                label=label)
    if hline is not None:
        ax.axhline(hline[0], color="grey", ls=":", label=hline[1])
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both" if (logx or logy) else "major")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ladder(
    names: Sequence[str],
    means: Sequence[float],
    spreads: Sequence[float],
    seconds: Sequence[float],
    ylabel: str = "validation accuracy (%)",
):
    """Draw a ladder of rungs: accuracy (mean, with a bar for the spread) and training time.

    ``names``: one label per rung, in order; ``means``/``spreads``: accuracy in percent
    and its spread (half the range over seeds, drawn as an error bar); ``seconds``:
    training time per run. Left panel accuracy, right panel time, rungs top to bottom.
    """
    k = len(names)
    if k == 0 or not len(means) == len(spreads) == len(seconds) == k:
        raise ValueError(f"names, means, spreads and seconds must have the same non-zero length, got "
                         f"{k}, {len(means)}, {len(spreads)}, {len(seconds)}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 0.42 * k + 1.3), sharey=True,
                                      gridspec_kw={"width_ratios": [2, 1]})
    pos = np.arange(k)[::-1]
    left.errorbar(means, pos, xerr=spreads, fmt="o", color="tab:blue", capsize=3)
    for p, m in zip(pos, means, strict=True):
        left.annotate(f"{m:.2f}", (m, p), xytext=(6, 4), textcoords="offset points", fontsize=7)
    left.set_yticks(pos, list(names), fontsize=8)
    left.set_xlabel(ylabel)
    left.grid(alpha=0.3)
    right.barh(pos, seconds, color="tab:grey")
    right.set_xlabel("training seconds per run")
    right.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_reliability(diagrams: dict[str, dict[str, np.ndarray]], eces: dict[str, float] | None = None):
    """Draw reliability diagrams side by side: accuracy against confidence, per bin.

    ``diagrams`` maps a title to the output of :func:`helpers.metrics.reliability`. Bars
    show the accuracy in each non-empty bin, the diagonal marks perfect calibration, and
    the number of predictions per bin is printed on the bar. ``eces`` adds each panel's
    expected calibration error to its title.
    """
    if not diagrams:
        raise ValueError("diagrams must hold at least one reliability diagram, got none")
    fig, axes = plt.subplots(1, len(diagrams), figsize=(3.6 * len(diagrams), 3.4), squeeze=False)
    for ax, (title, r) in zip(axes.flat, diagrams.items(), strict=True):
        edges, full = r["edges"], r["count"] > 0
        width = np.diff(edges)
        ax.bar(edges[:-1][full], r["accuracy"][full], width=width[full], align="edge",
               edgecolor="black", color="tab:blue", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", label="calibrated")
        ax.plot(r["confidence"][full], r["accuracy"][full], "o", color="tab:red", ms=3,
                label="mean confidence")
        for e, w, a, n in zip(edges[:-1][full], width[full], r["accuracy"][full], r["count"][full],
                              strict=True):
            ax.text(e + w / 2, min(a, 0.93) + 0.02, f"{n}", ha="center", fontsize=6, rotation=90)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(title + (f"\nECE {eces[title]:.4f}" if eces and title in eces else ""), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
