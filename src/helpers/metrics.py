"""Evaluation beyond accuracy: the confusion matrix and the pairs a model mixes up."""

from __future__ import annotations

import numpy as np


def _labels(name: str, y, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D array of integer class indices, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must hold classes in [0, {num_classes}), got range [{y.min()}, {y.max()}]")
    return y


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Return the ``(num_classes, num_classes)`` count matrix; row = true, column = predicted."""
    y_true = _labels("y_true", y_true, num_classes)
    y_pred = _labels("y_pred", y_pred, num_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def most_confused(cm: np.ndarray, top: int = 5) -> list[tuple[int, int, int]]:
    """Return the ``top`` off-diagonal cells as ``(true, predicted, count)``, largest first.

    Ties are broken by (true, predicted) order, so the list is reproducible.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square 2-D matrix, got shape {cm.shape}")
    pairs = [(int(i), int(j), int(cm[i, j])) for i in range(len(cm)) for j in range(len(cm)) if i != j]
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return [p for p in pairs[:top] if p[2] > 0]
