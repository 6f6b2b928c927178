import numpy as np
import pytest

from helpers import robustness as rb
from helpers.data import shift_images
from helpers.env import import_tensorflow

tf = import_tensorflow()


def _digits(n=6, seed=0):
    """Blocky 'digits': a bright off-centre bar and blob on a dark background."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28, 1), np.float32)
    for i in range(n):
        r, c = rng.integers(8, 14, 2)
        x[i, r:r + 10, c:c + 3] = 1.0
        x[i, r:r + 3, c:c + 8] = rng.uniform(0.5, 1.0)
    return x


# ------------------------------------------------------------------ corruptions


def test_affine_warp_identity_and_integer_shifts_are_exact():
    x = _digits()
    eye = np.broadcast_to(np.eye(2), (len(x), 2, 2))
    np.testing.assert_array_equal(rb.affine_warp(x, eye), x)
    shift = np.tile([[2.0, -3.0]], (len(x), 1))  # 2 rows down, 3 columns left
    np.testing.assert_array_equal(rb.affine_warp(x, eye, shift), shift_images(x, dx=-3, dy=2))


def test_affine_warp_checks_its_shapes():
    with pytest.raises(ValueError, match=r"inverse must have shape \(6, 2, 2\)"):
        rb.affine_warp(_digits(), np.eye(2))
    with pytest.raises(ValueError, match=r"shift must have shape \(6, 2\)"):
        rb.affine_warp(_digits(), np.broadcast_to(np.eye(2), (6, 2, 2)), np.zeros(2))


def test_rotation_by_90_degrees_is_a_quarter_turn_either_way():
    x = _digits()
    out = rb.rotate(x, 90, seed=1)
    for image, turned in zip(x, out, strict=True):
        ways = [np.rot90(image, k, axes=(0, 1)) for k in (1, -1)]
        assert min(np.abs(turned - w).max() for w in ways) < 1e-4
    signs = [np.abs(t - np.rot90(i, 1, axes=(0, 1))).max() < 1e-4 for i, t in zip(x, out, strict=True)]
    assert 0 < sum(signs) < len(x), "the direction should be drawn per image"


def test_translation_moves_each_image_by_exactly_the_given_pixels():
    x = _digits()
    out = rb.translate(x, 4, seed=3)
    for image, moved in zip(x, out, strict=True):
        candidates = [shift_images(image[None], dx=dx, dy=dy)[0]
                      for dx, dy in ((4, 0), (-4, 0), (0, 4), (0, -4))]
        assert any(np.array_equal(moved, c) for c in candidates)


def test_scaling_changes_the_digits_area_by_the_square_of_the_factor():
    x = _digits()
    np.testing.assert_allclose(rb.scale(x, 1.0), x, atol=1e-6)
    small = rb.scale(x, 0.5)
    ratio = small.sum() / x.sum()
    assert 0.2 < ratio < 0.3  # a quarter, up to the bilinear blur at the edges


def test_noise_is_seeded_clipped_and_of_the_given_spread():
    grey = np.full((4, 28, 28, 1), 0.5, np.float32)
    a = rb.gaussian_noise(grey, 0.1, seed=5)
    np.testing.assert_array_equal(a, rb.gaussian_noise(grey, 0.1, seed=5))
    assert not np.array_equal(a, rb.gaussian_noise(grey, 0.1, seed=6))
    assert abs(float((a - 0.5).std()) - 0.1) < 0.005
    b = rb.gaussian_noise(grey, 2.0)
    assert b.min() == 0.0 and b.max() == 1.0


def test_salt_and_pepper_flips_the_given_fraction_to_black_or_white():
    grey = np.full((10, 28, 28, 1), 0.5, np.float32)
    out = rb.salt_and_pepper(grey, 0.2)
    hit = out != 0.5
    assert abs(hit.mean() - 0.2) < 0.01
    assert set(np.unique(out[hit])) == {0.0, 1.0}


def test_blur_keeps_the_total_and_spreads_an_impulse_symmetrically():
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 14, 14] = 1.0
    out = rb.gaussian_blur(x, 1.0)
    assert out.sum() == pytest.approx(1.0, abs=1e-5)
    assert out[0, 14, 14, 0] < 0.2 and out[0, 13, 14, 0] == pytest.approx(out[0, 15, 14, 0])
    assert out[0, 14, 13, 0] == pytest.approx(out[0, 13, 14, 0])


def test_contrast_keeps_the_mean_and_scales_the_spread():
    x = 0.25 + 0.5 * _digits()
    out = rb.contrast(x, 0.3)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 0.3 * x.std(axis=(1, 2, 3)), rtol=1e-4)


def test_brightness_adds_and_clips():
    x = _digits()
    out = rb.brightness(x, 0.4)
    np.testing.assert_allclose(out, np.minimum(x + 0.4, 1.0), atol=1e-7)


def test_occlusion_erases_one_square_and_nothing_else():
    x = np.ones((5, 28, 28, 1), np.float32)
    out = rb.occlude(x, 9, seed=2)
    for image in out:
        rows, cols = np.nonzero(image[..., 0] == 0.0)
        assert len(rows) == 81 and np.ptp(rows) == 8 and np.ptp(cols) == 8
    assert not np.array_equal(out[0], out[1]), "each image gets its own place"


def test_full_inversion_is_the_negative_and_undoes_itself():
    x = _digits()
    np.testing.assert_allclose(rb.invert(x, 1.0), 1.0 - x)
    np.testing.assert_allclose(rb.invert(rb.invert(x)), x, atol=1e-6)
    np.testing.assert_allclose(rb.invert(x, 0.5), np.full_like(x, 0.5), atol=1e-6)


@pytest.mark.parametrize("name", sorted(rb.CORRUPTIONS))
def test_every_corruption_at_every_level_keeps_shape_range_and_seed(name):
    x = _digits()
    for level in rb.CORRUPTIONS[name].levels:
        out = rb.corrupt(x, name, level, seed=4)
        assert out.shape == x.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert not np.array_equal(out, x), f"{name} at {level} should change the images"
        np.testing.assert_array_equal(out, rb.corrupt(x, name, level, seed=4))


def test_corrupt_names_the_bad_argument():
    x = _digits()
    with pytest.raises(ValueError, match="name must be one of"):
        rb.corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="sigma must be a number > 0, got -1"):
        rb.gaussian_noise(x, -1)
    with pytest.raises(ValueError, match=r"pixels must be an integer in \[1, 27\], got 2.5"):
        rb.translate(x, 2.5)
    with pytest.raises(ValueError, match=r"amount must be a number in \(0, 1.0\]"):
        rb.salt_and_pepper(x, 1.5)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        rb.rotate(x, 10, seed=-1)


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((28, 28, 1), np.float32), r"shape \(N, H, W, C\), got shape \(28, 28, 1\)"),
     (np.zeros((2, 28, 28, 1), np.uint8), "must hold floats in \\[0, 1\\], got dtype uint8"),
     (np.full((2, 28, 28, 1), 255.0, np.float32), r"values in \[255, 255\]"),
     (np.full((2, 28, 28, 1), np.nan, np.float32), "finite values")],
)
def test_images_are_checked(bad, match):
    with pytest.raises(ValueError, match=match):
        rb.contrast(bad, 0.5)


def test_corruption_accuracy_counts_right_answers_per_level():
    class Oracle:  # predicts 1 where the image is mostly dark, else 0
        def predict(self, x, batch_size=None, verbose=0):
            dark = x.mean(axis=(1, 2, 3)) < 0.5
            return np.stack([~dark, dark], axis=1).astype(np.float32)

    x = _digits()
    y = np.ones(len(x), np.int64)
    table = rb.corruption_accuracy(Oracle(), x, y, names=["brightness", "inversion"])
    assert table["inversion"] == {1.0: 0.0}
    assert table["brightness"] == {0.2: 1.0, 0.4: 1.0, 0.6: 0.0, 0.8: 0.0}
    assert rb.mean_corruption_accuracy(table) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="names must be keys of CORRUPTIONS"):
        rb.corruption_accuracy(Oracle(), x, y, names=["fog"])
    with pytest.raises(ValueError, match=r"y must be 6 integer labels"):
        rb.corruption_accuracy(Oracle(), x, y[:3])
    both = rb.corruption_tables({"a": Oracle(), "b": Oracle()}, x, y,
                                names=["brightness", "inversion"])
    assert both == {"a": table, "b": table}
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        rb.corruption_tables({}, x, y)


# ------------------------------------------------------------------ preprocessing defences


def test_median_filter_removes_isolated_specks_and_keeps_flat_regions():
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 5, 5] = 1.0
    x[0, 10:20, 10:20] = 1.0
    out = rb.median_filter(x)
    assert out[0, 5, 5, 0] == 0.0 and out[0, 15, 15, 0] == 1.0
    with pytest.raises(ValueError, match="size must be an odd positive integer, got 2"):
        rb.median_filter(x, 2)


def test_normalize_intensity_undoes_inversion_contrast_and_brightness():
    x = 0.6 * _digits()  # dim enough that brightening does not clip
    for damaged in (rb.invert(x), rb.contrast(x, 0.3), rb.brightness(x, 0.3)):
        restored = rb.normalize_intensity(damaged)
        assert np.abs(restored - rb.normalize_intensity(x)).max() < 1e-4


def test_recenter_brings_a_moved_digit_back():
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 12:16, 12:16] = 1.0  # centred at (13.5, 13.5)
    np.testing.assert_array_equal(rb.recenter(shift_images(x, dx=5, dy=-4)), x)
    np.testing.assert_array_equal(rb.recenter(np.zeros_like(x)), np.zeros_like(x))


# ------------------------------------------------------------------ attacks


def _linear_model(seed=0):
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    rng = np.random.default_rng(seed)
    w, b = rng.normal(0, 0.1, (784, 10)).astype(np.float32), rng.normal(0, 0.1, 10).astype(np.float32)
    model.set_weights([w, b])
    return model, w, b


def test_loss_gradient_matches_the_formula_for_a_linear_model():
    model, w, b = _linear_model()
    x = _digits(4)
    y = np.array([0, 3, 5, 9])
    z = x.reshape(4, -1) @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = (p - np.eye(10)[y]) @ w.T  # d CE / d x = W (softmax - one-hot)
    got = rb.loss_gradient(model, tf.constant(x), tf.constant(y)).numpy().reshape(4, -1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_fgsm_moves_every_pixel_by_eps_along_the_gradient_sign():
    model, _, _ = _linear_model()
    x = 0.25 + 0.5 * _digits(4)  # away from 0 and 1, so clipping does not interfere
    y = np.array([1, 2, 3, 4])
    adv = rb.fgsm(model, x, y, 0.1)
    grad = rb.loss_gradient(model, tf.constant(x), tf.constant(y.astype(np.int32))).numpy()
    np.testing.assert_allclose(adv - x, 0.1 * np.sign(grad), atol=1e-6)


def test_pgd_stays_in_the_ball_and_in_range_and_one_step_is_fgsm():
    model, _, _ = _linear_model()
    x = _digits(8)
    y = np.arange(8)
    adv = rb.pgd(model, x, y, 0.2, steps=7, seed=1, batch_size=3)
    assert np.abs(adv - x).max() <= 0.2 + 1e-6 and adv.min() >= 0.0 and adv.max() <= 1.0
    np.testing.assert_array_equal(adv, rb.pgd(model, x, y, 0.2, steps=7, seed=1, batch_size=3))
    one = rb.pgd(model, x, y, 0.2, steps=1, step_size=0.2, random_start=False)
    np.testing.assert_allclose(one, rb.fgsm(model, x, y, 0.2), atol=1e-6)


def test_pgd_is_at_least_as_strong_as_fgsm_and_transfer_is_weaker_on_a_trained_model():
    from helpers.data import load_mnist
    from helpers.models import fast_cnn
    from helpers.training import Recipe, train

    data = load_mnist(normalize=True, channel_axis=True)
    recipe = Recipe("t", batch_size=32, epochs=3, peak_lr=3e-3, pipeline="tf.data")
    target = train(lambda: fast_cnn(8), data.x_train[:3000], data.y_train[:3000], recipe, seed=0).model
    other = train(lambda: fast_cnn(8), data.x_train[3000:6000], data.y_train[3000:6000], recipe,
                  seed=1).model
    x, y = data.x_test[:500], data.y_test[:500]
    clean = rb.attack_accuracy(target, x, y, "fgsm", 0.0)
    fgsm = rb.attack_accuracy(target, x, y, "fgsm", 0.15)
    pgd = rb.attack_accuracy(target, x, y, "pgd", 0.15, steps=10)
    transfer = rb.attack_accuracy(target, x, y, "pgd", 0.15, steps=10, source=other)
    assert clean > 0.8
    assert pgd <= fgsm < clean
    assert transfer > pgd


def test_attack_arguments_are_checked():
    model, _, _ = _linear_model()
    x, y = _digits(2), np.array([0, 1])
    with pytest.raises(ValueError, match=r"eps must be a number in \[0, 1\]"):
        rb.fgsm(model, x, y, 8)
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        rb.pgd(model, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match="attack must be one of"):
        rb.attack_accuracy(model, x, y, "cw", 0.1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        rb.fgsm(model, x, y, 0.1, batch_size=0)


def test_adversarial_step_attacks_the_first_part_of_each_batch(monkeypatch):
    import keras

    from helpers import training

    seen = {}

    def spy(model, data):
        seen["x"] = data[0].numpy()
        return {}

    monkeypatch.setattr(training, "keras_train_step", spy)
    model, _, _ = _linear_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = 0.25 + 0.5 * _digits(8)
    y = np.arange(8)
    step = rb.adversarial_step(0.1, steps=3, fraction=0.5)
    step(model, (tf.constant(x), tf.constant(y)))
    moved = np.abs(seen["x"] - x).reshape(8, -1).max(axis=1)
    assert np.all(moved[:4] > 0.05) and np.all(moved[:4] <= 0.1 + 1e-6)
    np.testing.assert_array_equal(seen["x"][4:], x[4:])


def test_adversarial_step_ramps_eps_up_from_zero(monkeypatch):
    import keras

    from helpers import training

    seen = {}
    monkeypatch.setattr(training, "keras_train_step", lambda m, d: seen.setdefault("x", d[0].numpy()))
    model, _, _ = _linear_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    x = 0.25 + 0.5 * _digits(4)
    step = rb.adversarial_step(0.2, random_start=False, ramp_steps=10)
    step(model, (tf.constant(x), tf.constant(np.arange(4))))
    # first step of ten: eps is 0.2 / 10; the step of 1.25 eps is projected back onto the ball
    np.testing.assert_allclose(np.abs(seen["x"] - x), 0.02, atol=1e-6)


def test_adversarial_training_runs_through_the_books_trainer():
    from helpers.training import Recipe, train

    x = _digits(64)
    y = np.arange(64) % 10
    done = train(lambda: rb.robust_cnn(4, 8), x, y, Recipe("t", batch_size=16, epochs=1, pipeline="tf.data"),
                 train_step=rb.adversarial_step(0.1, steps=2))
    assert int(done.model.optimizer.iterations.numpy()) == 4


@pytest.mark.parametrize(
    "kwargs, match",
    [({"eps": 1.5}, "eps must be a number in"), ({"eps": 0.1, "steps": 0}, "steps must be a positive"),
     ({"eps": 0.1, "ramp_steps": -1}, "ramp_steps must be a non-negative"),
     ({"eps": 0.1, "fraction": 0.0}, r"fraction must be a number in \(0, 1.0\]")],
)
def test_adversarial_step_checks_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rb.adversarial_step(**kwargs)


def test_robust_cnn_shape_and_size():
    model = rb.robust_cnn()
    assert model.output_shape == (None, 10)
    assert model.count_params() == 832 + 51264 + 1024 * 256 + 256 + 2570
    with pytest.raises(ValueError, match="width must be a positive integer, got 0"):
        rb.robust_cnn(0)


# ------------------------------------------------------------------ out-of-distribution scores


def test_max_softmax_and_energy_on_known_logits():
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [10.0, 0.0, 0.0, 0.0], [1000.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(rb.max_softmax(logits), [0.25, 1 / (1 + 3 * np.exp(-10)), 1.0])
    np.testing.assert_allclose(rb.energy_score(logits), [np.log(4), 10 + np.log(1 + 3 * np.exp(-10)), 1000.0])
    np.testing.assert_allclose(rb.energy_score(logits[:1] + 5.0), [5.0 + np.log(4)])
    with pytest.raises(ValueError, match=r"logits must be finite scores of shape \(N, K\)"):
        rb.max_softmax(np.zeros(4))


def test_threshold_rejects_the_asked_fraction_of_in_distribution_scores():
    scores = np.arange(1000, dtype=float)
    t = rb.threshold_for(scores, 0.05)
    assert rb.rejected(scores, t).mean() == pytest.approx(0.05, abs=0.002)
    with pytest.raises(ValueError, match=r"false_rejection must be in \(0, 1\)"):
        rb.threshold_for(scores, 0.0)
    with pytest.raises(ValueError, match="scores must be a non-empty 1-D array"):
        rb.threshold_for(np.array([]))


@pytest.mark.parametrize("kind", sorted(rb.NON_DIGITS))
def test_non_digit_images_look_like_mnist_inputs(kind):
    images = rb.NON_DIGITS[kind](12, seed=3)
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, rb.NON_DIGITS[kind](12, seed=3))
    assert len({im.tobytes() for im in images}) > 1, "the images should vary"
    with pytest.raises(ValueError, match="n must be a positive integer"):
        rb.NON_DIGITS[kind](0)


def test_drawn_letters_and_shapes_fill_a_20_pixel_box_like_mnist_digits():
    for images in (rb.letter_images(8), rb.shape_images(8)):
        for image in images[..., 0]:
            rows, cols = np.nonzero(image > 0.1)
            assert max(np.ptp(rows), np.ptp(cols)) in range(17, 22)
            centre = [(image.sum(axis=1) * np.arange(28)).sum(), (image.sum(axis=0) * np.arange(28)).sum()]
            np.testing.assert_allclose(np.array(centre) / image.sum(), 13.5, atol=1.0)


# ------------------------------------------------------------------ the selection rule


def test_choose_hardening_keeps_the_targets_and_the_budget_then_maximises_pgd_at_0_3():
    def row(**changes):
        base = {"train_seconds": 100.0, "val_accuracy": 0.99, "val_pgd20_eps0.1": 0.95,
                "val_fgsm_eps0.3": 0.90, "val_pgd20_eps0.3": 0.50}
        return {**base, **{k.replace("_dot_", "."): v for k, v in changes.items()}}

    table = {"plain": row(), "better": row(val_pgd20_eps0_dot_3=0.7),
             "inaccurate": row(val_pgd20_eps0_dot_3=0.9, val_accuracy=0.98),
             "slow": row(val_pgd20_eps0_dot_3=0.95, train_seconds=900.0)}
    assert rb.choose_hardening(table) == "better"
    assert rb.choose_hardening({"inaccurate": table["inaccurate"]}) is None
    assert rb.HARDENED in rb.HARDENING_CANDIDATES.values()
