"""Convolution, pooling, activations, losses and optimizer steps written from scratch in NumPy.

NHWC layout and TensorFlow's semantics throughout; float32 or float64 in, the same dtype
out. Each function is checked against ``tf.nn`` / Keras by property-based tests.
Chapters 1-4 of the book build these up one at a time; chapter 7 adds the optimizers.
"""

from helpers.scratch.activations import *  # noqa: F403
from helpers.scratch.conv import *  # noqa: F403
from helpers.scratch.losses import *  # noqa: F403
from helpers.scratch.optimizers import *  # noqa: F403
from helpers.scratch.pool import *  # noqa: F403
