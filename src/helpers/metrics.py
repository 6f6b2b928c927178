"""Evaluation beyond accuracy: the confusion matrix, the pairs a model mixes up, calibration."""

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


# ---------------------------------------------------------------------------------------
# Calibration (chapter 7): does a model's confidence match how often it is right?
# ---------------------------------------------------------------------------------------


def _probabilities(probs, y, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must have shape (N, classes) with N >= 1, got {probs.shape}")
    if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs must be probabilities (non-negative rows that sum to 1); "
                         "apply a softmax to logits first")
    y = _labels("y", y, probs.shape[1])
    if len(y) != len(probs):
        raise ValueError(f"probs and y must have the same length, got {len(probs)} and {len(y)}")
    return probs, y


def reliability(probs, y, bins: int = 10) -> dict[str, np.ndarray]:
    """Bin predictions by confidence; per bin, the mean confidence and the accuracy.

    ``probs: (N, classes)`` probabilities, ``y: (N,)`` true labels. A prediction's
    confidence is its largest probability; the ``bins`` equal-width bins split [0, 1].
    Returns arrays of length ``bins``: ``edges`` (``bins + 1`` values), ``confidence``
    (mean confidence in the bin, NaN if empty), ``accuracy`` (fraction right, NaN if
    empty) and ``count``. A calibrated model has ``accuracy == confidence`` in every bin:
    the reliability diagram plots one against the other.
    """
    probs, y = _probabilities(probs, y)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)  # bin i: (e_i, e_i+1]
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=conf, minlength=bins) / count
        accuracy = np.bincount(which, weights=right, minlength=bins) / count
    return {"edges": edges, "confidence": confidence, "accuracy": accuracy, "count": count}


def expected_calibration_error(probs, y, bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over bins weighted by their size.

    ``ECE = sum_b (n_b / N) |accuracy_b - confidence_b|`` over the non-empty bins of
    :func:`reliability`. 0 for a perfectly calibrated model; an over-confident model that
    says 99% and is right 95% of the time adds 0.04 for those predictions.
    """
    r = reliability(probs, y, bins)
    full = r["count"] > 0
    gaps = np.abs(r["accuracy"][full] - r["confidence"][full])
    return float(np.sum(r["count"][full] * gaps) / r["count"].sum())
