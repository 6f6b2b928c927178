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
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
