"""One update step of SGD, SGD with momentum, Adam and AdamW, from scratch in NumPy (chapter 7).

Each function takes one weight tensor ``w``, its gradient ``g`` (same shape) and the
optimizer's state for that tensor, and returns the new weights and the new state; nothing
is modified in place. The formulas are Keras 3's (checked against ``keras.optimizers`` by
``tests/test_scratch_optimizers.py``), with the learning rate ``lr``:

- SGD:       ``w <- w - lr * g``
- momentum:  ``v <- mu * v - lr * g``;  ``w <- w + v``
- Adam:      ``m <- b1 m + (1 - b1) g``;  ``s <- b2 s + (1 - b2) g^2``;
  ``w <- w - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(s) + eps)``
- AdamW:     ``w <- w - lr * wd * w``, then the Adam step (decay decoupled from the gradient)

``t`` counts steps from 1. Keras puts ``eps`` outside the bias correction of ``s`` (the
"epsilon hat" of the Adam paper), which matters only when ``s`` is tiny.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adam_step", "adamw_step", "momentum_step", "sgd_step"]


def _check(w: np.ndarray, g: np.ndarray, lr: float, **state: np.ndarray) -> None:
    if np.shape(g) != np.shape(w):
        raise ValueError(f"g must have the shape of w {np.shape(w)}, got {np.shape(g)}")
    for name, value in state.items():
        if np.shape(value) != np.shape(w):
            raise ValueError(f"{name} must have the shape of w {np.shape(w)}, got {np.shape(value)}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")


def sgd_step(w: np.ndarray, g: np.ndarray, lr: float, weight_decay: float = 0.0) -> np.ndarray:
    """Plain SGD: step against the gradient. Returns the new ``w`` (same shape)."""
    _check(w, g, lr)
    w = w - lr * weight_decay * w  # decoupled weight decay, as Keras applies it (0: none)
    return w - lr * g


def momentum_step(w: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, momentum: float = 0.9,
                  weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """SGD with momentum: ``v`` accumulates past steps. Returns ``(w, v)``, both ``w``'s shape."""
    _check(w, g, lr, v=v)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    w = w - lr * weight_decay * w
    v = momentum * v - lr * g
    return w + v, v


def adam_step(w: np.ndarray, g: np.ndarray, m: np.ndarray, s: np.ndarray, t: int, lr: float,
              beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam: a step per weight scaled by running averages of ``g`` and ``g**2``. Returns ``(w, m, s)``.

    ``m``: running mean of the gradient, ``s``: of its square (both start at 0), ``t``: the
    number of this step, from 1.
    """
    _check(w, g, lr, m=m, s=s)
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 1:
        raise ValueError(f"t must be the step number, an integer >= 1, got {t!r}")
    m = beta1 * m + (1 - beta1) * g
    s = beta2 * s + (1 - beta2) * g**2
    step = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)  # bias correction of both averages
    return w - step * m / (np.sqrt(s) + eps), m, s


def adamw_step(w: np.ndarray, g: np.ndarray, m: np.ndarray, s: np.ndarray, t: int, lr: float,
               weight_decay: float = 0.004, beta1: float = 0.9, beta2: float = 0.999,
               eps: float = 1e-7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AdamW: shrink the weights by ``lr * weight_decay``, then take an Adam step. Returns ``(w, m, s)``.

    The decay does not pass through Adam's per-weight scaling: every weight shrinks by the
    same fraction, which is what "decoupled" means (Adam with an L2 term in the loss would
    shrink weights with small gradient history much more).
    """
    if not 0.0 <= weight_decay < 1.0:
        raise ValueError(f"weight_decay must be in [0, 1), got {weight_decay!r}")
    w = w - lr * weight_decay * w
    return adam_step(w, g, m, s, t, lr, beta1, beta2, eps)
