"""Unit tests of helpers.data.shift_images (chapter 2's translation test)."""

import numpy as np
import pytest

from helpers.data import shift_images


def test_shift_right_and_down_fills_with_zeros():
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3)
    assert shift_images(x, dx=1)[0].tolist() == [[0, 1, 2], [0, 4, 5], [0, 7, 8]]
    assert shift_images(x, dy=1)[0].tolist() == [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    assert shift_images(x, dx=-1, dy=-1)[0].tolist() == [[5, 6, 0], [8, 9, 0], [0, 0, 0]]


def test_zero_shift_is_a_copy_and_shape_dtype_are_kept():
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    y = shift_images(x, 0, 0)
    assert y.dtype == x.dtype and y.shape == x.shape and np.array_equal(x, y)
    assert y is not x


def test_shift_matches_roll_when_the_border_is_empty():
    x = np.zeros((2, 10, 10, 3))
    x[:, 3:7, 3:7] = np.random.default_rng(1).random((2, 4, 4, 3))
    for dx, dy in [(2, 0), (-3, 1), (0, -3), (3, 3)]:
        assert np.array_equal(shift_images(x, dx, dy), np.roll(x, (dy, dx), axis=(1, 2)))


def test_shift_back_and_forth_loses_only_the_border():
    x = np.random.default_rng(2).random((3, 8, 8))
    y = shift_images(shift_images(x, 2, -1), -2, 1)
    assert np.array_equal(y[:, 1:, :6], x[:, 1:, :6])
    assert np.all(y[:, 0] == 0) and np.all(y[:, :, 6:] == 0)


@pytest.mark.parametrize(
    ("args", "match"),
    [((np.zeros((3, 3)), 1, 0), "x must have shape"), ((np.zeros((1, 3, 3)), 3, 0), "dx"),
     ((np.zeros((1, 3, 5)), 0, -3), "dy"), ((np.zeros((1, 3, 3)), 1.5, 0), "dx")],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        shift_images(*args)
