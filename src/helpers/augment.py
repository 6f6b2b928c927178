"""Data augmentation for the trainer's ``augment=`` hook, and test-time augmentation (chapter 7).

:class:`RandomAffine` moves every image of a batch by its own small random shift, rotation
and zoom: one affine map per image, applied with bilinear interpolation, the border filled
with 0 (black on MNIST). Pass it to :func:`helpers.training.train` as ``augment=``: it runs
in the ``tf.data`` pipeline, on each batch, with fresh random draws every epoch.

Why a :class:`tf.random.Generator` and not ``tf.random.uniform(..., seed=...)``: a stateful
random op inside a ``tf.data`` function restarts from its seed every time the dataset is
iterated again, and Keras iterates a finite dataset afresh each epoch, so every epoch would
see the *same* "random" transformations. A generator created outside the pipeline keeps its
state across epochs (``tests/test_augment.py`` checks both facts).

:func:`predict_tta` averages a model's probabilities over a few shifted copies of each
image: test-time augmentation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def affine_transforms(angle, zoom, shift, height: int, width: int):
    """Return the ``(N, 8)`` projective transforms that rotate, zoom and shift about the centre.

    ``angle: (N,)`` radians (positive turns the digit counter-clockwise as displayed),
    ``zoom: (N,)`` scale factors (> 1 enlarges), ``shift: (N, 2)`` pixels ``(dx, dy)``
    (right, down). TensorFlow's image transform maps each *output* pixel ``(x, y)`` to the
    input point it reads from, ``x_in = a0 x + a1 y + a2``, ``y_in = b0 x + b1 y + b2``,
    so the rows hold the inverse map ``p_in = c + R(angle) (p_out - c - shift) / zoom``,
    with ``c`` the image centre.
    """
    import tensorflow as tf

    angle = tf.cast(angle, tf.float32)
    zoom = tf.cast(zoom, tf.float32)
    shift = tf.cast(shift, tf.float32)
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    cx, cy = (width - 1) / 2, (height - 1) / 2
    ox, oy = cx + shift[:, 0], cy + shift[:, 1]  # the centre of the output digit
    a0, a1, b0, b1 = cos, -sin, sin, cos
    a2 = cx - a0 * ox - a1 * oy
    b2 = cy - b0 * ox - b1 * oy
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def apply_transforms(images, transforms):
    """Resample ``images: (N, H, W, C)`` float32 through ``transforms: (N, 8)``; returns the same shape.

    Bilinear interpolation; points that fall outside the input read 0.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")


class RandomAffine:
    """Random shift, rotation and zoom of each image in a batch, seeded.

    ``max_shift``: pixels, each of ``dx``, ``dy`` uniform in ``[-max_shift, max_shift]``;
    ``max_rotation``: degrees, uniform in ``[-max_rotation, max_rotation]``; ``max_zoom``:
    scale uniform in ``[1 - max_zoom, 1 + max_zoom]``. Calling it on a batch
    ``(B, H, W, C)`` float32 returns a transformed batch of the same shape. Two instances
    made with the same ``seed`` produce the same sequence of transformations.
    """

    def __init__(self, max_shift: float = 2.0, max_rotation: float = 10.0, max_zoom: float = 0.1,
                 seed: int = 0):
        import tensorflow as tf

        for name, value, upper in (("max_shift", max_shift, 14.0), ("max_rotation", max_rotation, 180.0),
                                   ("max_zoom", max_zoom, 0.9)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= upper:
                raise ValueError(f"{name} must be a number in [0, {upper:g}], got {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.max_shift, self.max_rotation = float(max_shift), float(max_rotation)
        self.max_zoom = float(max_zoom)
        self.seed = int(seed)
        self.generator = tf.random.Generator.from_seed(self.seed)

    def __repr__(self) -> str:
        return (f"RandomAffine(max_shift={self.max_shift:g}, max_rotation={self.max_rotation:g}, "
                f"max_zoom={self.max_zoom:g}, seed={self.seed})")

    def __call__(self, images):
        """Transform ``images: (B, H, W, C)``; each image gets its own random draw."""
        import tensorflow as tf

        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape.rank != 4:
            raise ValueError(f"images must have shape (B, H, W, C), got {images.shape}")
        n = tf.shape(images)[0]
        uniform = self.generator.uniform  # in [-1, 1), fresh numbers on every call
        angle = uniform([n], -1.0, 1.0) * (self.max_rotation * math.pi / 180)
        zoom = 1.0 + uniform([n], -1.0, 1.0) * self.max_zoom
        shift = uniform([n, 2], -1.0, 1.0) * self.max_shift
        transforms = affine_transforms(angle, zoom, shift, images.shape[1], images.shape[2])
        return apply_transforms(images, transforms)


def shifted_copies(x: np.ndarray, shifts: Sequence[tuple[float, float]]) -> list[np.ndarray]:
    """Return one copy of ``x: (N, H, W, C)`` per ``(dx, dy)`` in ``shifts``, moved by that many pixels."""
    x = np.asarray(x, np.float32)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, H, W, C), got {x.shape}")
    if not shifts:
        raise ValueError("shifts must hold at least one (dx, dy) pair, got none")
    n = len(x)
    out = []
    for dx, dy in shifts:
        transforms = affine_transforms(np.zeros(n), np.ones(n), np.tile([[dx, dy]], (n, 1)),
                                       x.shape[1], x.shape[2])
        out.append(apply_transforms(x, transforms).numpy())
    return out


#: The shifts :func:`predict_tta` averages over by default: the image and four 1-pixel moves.
TTA_SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def predict_tta(model, x: np.ndarray, shifts: Sequence[tuple[float, float]] = TTA_SHIFTS,
                batch_size: int = 1000) -> np.ndarray:
    """Return softmax probabilities ``(N, classes)`` averaged over shifted copies of ``x``.

    ``model`` outputs logits; ``x: (N, H, W, C)``. With ``shifts=((0, 0),)`` this is the
    plain prediction.
    """
    import tensorflow as tf

    probs = [tf.nn.softmax(model.predict(xs, batch_size=batch_size, verbose=0)).numpy()
             for xs in shifted_copies(x, shifts)]
    return np.mean(probs, axis=0)
