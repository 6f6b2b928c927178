"""helpers.augment: the affine maps do what they say, the random batches are seeded and fresh each epoch."""

import numpy as np
import pytest

from helpers.augment import (
    RandomAffine,
    affine_transforms,
    apply_transforms,
    predict_tta,
    shifted_copies,
)
from helpers.data import shift_images
from helpers.env import import_tensorflow
from helpers.training import make_dataset

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow imports quietly)

RNG = np.random.default_rng(0)
X = RNG.random((5, 28, 28, 1)).astype(np.float32)


def transform(angle=0.0, zoom=1.0, dx=0.0, dy=0.0, x=X):
    n = len(x)
    t = affine_transforms(np.full(n, angle), np.full(n, zoom), np.tile([[dx, dy]], (n, 1)), 28, 28)
    return apply_transforms(x, t).numpy()


def test_identity_leaves_the_images_alone():
    np.testing.assert_allclose(transform(), X, atol=1e-6)


@pytest.mark.parametrize(("dx", "dy"), [(1, 0), (0, -2), (3, 2), (-1, -1)])
def test_whole_pixel_shifts_match_shift_images(dx, dy):
    np.testing.assert_allclose(transform(dx=dx, dy=dy), shift_images(X, dx, dy), atol=1e-6)


def test_quarter_turn_is_counter_clockwise_as_displayed():
    np.testing.assert_allclose(transform(angle=np.pi / 2), np.rot90(X, 1, axes=(1, 2)), atol=1e-5)


def test_zoom_keeps_the_centre_and_enlarges():
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 12:16, 12:16] = 1.0  # a 4x4 square in the middle
    out = transform(zoom=2.0, x=x)
    assert out[0, 13:15, 13:15].min() == pytest.approx(1.0)
    assert 40 < out.sum() < 90, "twice the size: about four times the ink"


def test_random_affine_is_seeded_and_differs_per_image():
    a, b = RandomAffine(seed=3)(X), RandomAffine(seed=3)(X)
    np.testing.assert_array_equal(a, b)
    same = np.repeat(X[:1], 4, axis=0)
    out = RandomAffine(seed=3)(same).numpy()
    assert all(not np.allclose(out[0], out[i]) for i in range(1, 4)), "each image gets its own draw"
    assert not np.allclose(RandomAffine(seed=4)(X), a)


def test_random_affine_stays_within_its_bounds():
    # a shift of at most 2 pixels and no rotation or zoom: the centre of mass moves at most 2
    x = np.zeros((64, 28, 28, 1), np.float32)
    x[:, 10:18, 10:18] = 1.0
    out = RandomAffine(max_shift=2, max_rotation=0, max_zoom=0, seed=0)(x).numpy()[..., 0]
    grid = np.arange(28)
    cy = (out.sum(axis=2) * grid).sum(axis=1) / out.sum(axis=(1, 2))
    cx = (out.sum(axis=1) * grid).sum(axis=1) / out.sum(axis=(1, 2))
    assert np.abs(cx - 13.5).max() <= 2 + 1e-4 and np.abs(cy - 13.5).max() <= 2 + 1e-4
    assert np.abs(cx - 13.5).max() > 1, "the shifts should use their range"


def test_fresh_augmentation_every_epoch_in_the_pipeline():
    y = np.arange(len(X))
    ds = make_dataset(X, y, len(X), shuffle=False, augment=RandomAffine(seed=0))
    first, second = (next(iter(ds))[0].numpy() for _ in range(2))
    assert not np.allclose(first, second), "a new epoch (a new iterator) must draw new transformations"


def test_a_seeded_random_op_would_repeat_every_epoch():
    # why RandomAffine keeps a tf.random.Generator: a plain seeded op restarts with each iterator
    y = np.arange(len(X))
    noise = lambda b: b + tf.random.uniform(tf.shape(b), seed=1)  # noqa: E731
    ds = make_dataset(X, y, len(X), shuffle=False, augment=noise)
    first, second = (next(iter(ds))[0].numpy() for _ in range(2))
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(("kw", "message"), [
    ({"max_shift": -1}, r"max_shift must be a number in \[0, 14\], got -1"),
    ({"max_rotation": 200}, r"max_rotation must be a number in \[0, 180\], got 200"),
    ({"max_zoom": 1.0}, r"max_zoom must be a number in \[0, 0.9\], got 1.0"),
    ({"seed": -2}, r"seed must be a non-negative integer, got -2"),
])
def test_random_affine_rejects_bad_settings(kw, message):
    with pytest.raises(ValueError, match=message):
        RandomAffine(**kw)


def test_random_affine_rejects_a_single_image():
    with pytest.raises(ValueError, match=r"images must have shape \(B, H, W, C\)"):
        RandomAffine()(X[0])


def test_shifted_copies_and_tta():
    copies = shifted_copies(X, [(0, 0), (1, 0)])
    np.testing.assert_allclose(copies[1], shift_images(X, 1, 0), atol=1e-6)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    plain = predict_tta(model, X, shifts=[(0, 0)])
    np.testing.assert_allclose(plain, tf.nn.softmax(model(X)).numpy(), atol=1e-6)
    two = predict_tta(model, X, shifts=[(0, 0), (1, 0)])
    np.testing.assert_allclose(two, (plain + tf.nn.softmax(model(copies[1])).numpy()) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="shifts must hold at least one"):
        shifted_copies(X, [])
    with pytest.raises(ValueError, match=r"x must have shape \(N, H, W, C\)"):
        shifted_copies(X[..., 0], [(0, 0)])
