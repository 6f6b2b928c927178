import shutil

import numpy as np
import pytest

from helpers.data import KEYS, MnistDataError, expected_checksums, load_mnist, sha256_of
from helpers.paths import data_dir

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture(scope="module")
def raw():
    with np.load(data_dir() / "mnist.npz") as f:
        return {k: f[k] for k in KEYS}


def test_good_file_shapes_dtypes_and_class_counts(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert mnist.x_val.shape == (0, 28, 28)


def test_normalize_and_channel_axis():
    d = load_mnist(normalize=True, channel_axis=True)
    assert d.x_train.shape == (60000, 28, 28, 1) and d.x_train.dtype == np.float32
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0


def test_validation_split_comes_from_the_end_of_train_never_test(mnist):
    d = load_mnist(validation_split=0.1)
    assert len(d.x_train) == 54000 and len(d.x_val) == 6000
    np.testing.assert_array_equal(d.x_val, mnist.x_train[54000:])
    np.testing.assert_array_equal(d.y_train, mnist.y_train[:54000])
    np.testing.assert_array_equal(d.x_test, mnist.x_test)


def test_works_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(load_mnist().x_test) == 10000


def test_checksums_come_from_the_readme():
    sums = expected_checksums()
    assert set(sums) == set(KEYS)
    assert sums["x_train"].startswith("741c9888")


def test_missing_file_names_it(tmp_path):
    path = tmp_path / "mnist.npz"
    with pytest.raises(MnistDataError, match=r"not found: .*mnist\.npz.*good copy"):
        load_mnist(path)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    data = (data_dir() / "mnist.npz").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MnistDataError, match=r"mnist\.npz is unreadable .*truncated"):
        load_mnist(path)


def test_altered_pixel_is_refused(tmp_path, raw):
    altered = dict(raw)
    altered["x_test"] = raw["x_test"].copy()
    altered["x_test"][123, 14, 14] ^= 1  # one bit of one pixel
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, **altered)
    with pytest.raises(MnistDataError, match=r"mnist\.npz: array 'x_test' fails its checksum"):
        load_mnist(path)


def test_missing_array_is_refused(tmp_path, raw):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=raw["x_train"])
    with pytest.raises(MnistDataError, match="lacks the arrays y_train, x_test, y_test"):
        load_mnist(path)


def test_a_good_copy_elsewhere_is_accepted(tmp_path):
    copy = tmp_path / "elsewhere.npz"
    shutil.copy(data_dir() / "mnist.npz", copy)
    assert len(load_mnist(copy).x_train) == 60000


def test_missing_checksums_file_is_an_error(tmp_path):
    with pytest.raises(MnistDataError, match="cannot read the checksums file"):
        expected_checksums(tmp_path / "README.md")


@pytest.mark.parametrize("split", [-0.1, 1.0, "0.1"])
def test_bad_validation_split(split):
    with pytest.raises(ValueError, match="validation_split must be a number in"):
        load_mnist(validation_split=split)


def test_sha256_of_is_layout_independent():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert sha256_of(a) == sha256_of(np.asfortranarray(a))
