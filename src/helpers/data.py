"""The MNIST archive shipped with the book, checked before it is used.

``data/mnist.npz`` holds the four arrays that ``keras.datasets.mnist.load_data()``
returns. ``data/README.md`` lists the SHA-256 of each array's raw bytes; every load
recomputes them, and an archive that is missing, truncated or altered raises
:class:`MnistDataError` instead of returning wrong data.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.paths import data_dir

#: The arrays in the archive, in the order ``load_data()`` returns them.
KEYS = ("x_train", "y_train", "x_test", "y_test")

_HOW_TO_FIX = (
    "Get a good copy with `git checkout -- data/mnist.npz` (the book ships it), or pass "
    "path= a copy of keras.datasets.mnist.load_data()'s cached mnist.npz."
)


class MnistDataError(ValueError):
    """The MNIST archive is missing, unreadable, or does not match its checksums."""


@dataclass(frozen=True)
class Mnist:
    """MNIST split into train, validation and test arrays.

    Images are ``(N, 28, 28)`` uint8 by default, ``(N, 28, 28, 1)`` with
    ``channel_axis=True``, float32 in [0, 1] with ``normalize=True``. Labels are
    ``(N,)`` uint8 class indices 0..9. ``x_val``/``y_val`` are empty unless a
    validation split was asked for; they are carved from the end of the training set.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __iter__(self):
        """Unpack as ``(x_train, y_train), (x_test, y_test)``, like Keras' loader."""
        return iter(((self.x_train, self.y_train), (self.x_test, self.y_test)))


def sha256_of(array: np.ndarray) -> str:
    """Return the SHA-256 hex digest of an array's raw C-order bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def expected_checksums(readme: str | Path | None = None) -> dict[str, str]:
    """Read the per-array SHA-256 values from ``data/README.md``.

    Returns a dict ``{"x_train": "741c...", ...}`` with one entry per key in
    :data:`KEYS`. Raises :class:`MnistDataError` if the README or a value is missing.
    """
    readme = Path(readme) if readme is not None else data_dir() / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as e:
        raise MnistDataError(
            f"cannot read the checksums file {readme}: {e.strerror or e}. "
            "It ships beside data/mnist.npz; restore it with `git checkout -- data/README.md`."
        ) from None
    found = dict(re.findall(r"^(x_train|y_train|x_test|y_test)\s+([0-9a-f]{64})\s*$", text, re.M))
    missing = [k for k in KEYS if k not in found]
    if missing:
        raise MnistDataError(f"{readme} has no SHA-256 line for {', '.join(missing)}")
    return {k: found[k] for k in KEYS}


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    """Read the four arrays from ``path``; any failure becomes a clear MnistDataError."""
    if not path.exists():
        raise MnistDataError(f"MNIST archive not found: {path}. {_HOW_TO_FIX}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            absent = [k for k in KEYS if k not in archive.files]
            if absent:
                raise MnistDataError(
                    f"MNIST archive {path} lacks the arrays {', '.join(absent)} "
                    f"(it has {', '.join(archive.files) or 'none'}). {_HOW_TO_FIX}"
                )
            return {k: archive[k] for k in KEYS}
    except MnistDataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        size = path.stat().st_size
        raise MnistDataError(
            f"MNIST archive {path} is unreadable ({size:,} bytes; truncated or not an .npz "
            f"file): {e}. {_HOW_TO_FIX}"
        ) from None


def verify(arrays: dict[str, np.ndarray], path: Path, checksums: dict[str, str]) -> None:
    """Raise MnistDataError unless every array's SHA-256 equals the expected one."""
    for key in KEYS:
        got = sha256_of(arrays[key])
        if got != checksums[key]:
            raise MnistDataError(
                f"MNIST archive {path}: array {key!r} fails its checksum (SHA-256 {got[:16]}..., "
                f"expected {checksums[key][:16]}...); the file was altered or damaged and is "
                f"not used. {_HOW_TO_FIX}"
            )


def load_mnist(
    path: str | Path | None = None,
    *,
    normalize: bool = False,
    channel_axis: bool = False,
    validation_split: float = 0.0,
) -> Mnist:
    """Load the shipped MNIST archive after checking every array's SHA-256.

    Args:
        path: an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test``; by default
            the repository's ``data/mnist.npz``, found relative to this package (not the
            current directory).
        normalize: return images as float32 scaled to [0, 1] instead of uint8 0..255.
        channel_axis: return images as NHWC ``(N, 28, 28, 1)`` instead of ``(N, 28, 28)``.
        validation_split: fraction in [0, 1) of the training set held out, from its end,
            as ``x_val``/``y_val`` (the same rows Keras' ``validation_split`` takes). The
            test set is never touched.

    Returns:
        :class:`Mnist`; ``(x_train, y_train), (x_test, y_test) = load_mnist()`` also works.

    Raises:
        MnistDataError: the file is missing, truncated, altered, or lacks an array.
        ValueError: ``validation_split`` is outside [0, 1).

    """
    if not isinstance(validation_split, int | float) or not 0.0 <= validation_split < 1.0:
        raise ValueError(
            f"validation_split must be a number in [0, 1), got {validation_split!r}"
        )
    path = Path(path) if path is not None else data_dir() / "mnist.npz"
    arrays = _read_archive(path)
    verify(arrays, path, expected_checksums())

    x_train, y_train = arrays["x_train"], arrays["y_train"]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    if normalize:
        x_train = x_train.astype(np.float32) / np.float32(255.0)
        x_test = x_test.astype(np.float32) / np.float32(255.0)
    if channel_axis:
        x_train, x_test = x_train[..., np.newaxis], x_test[..., np.newaxis]
    n_val = int(len(x_train) * validation_split)
    cut = len(x_train) - n_val
    return Mnist(
        x_train=x_train[:cut],
        y_train=y_train[:cut],
        x_val=x_train[cut:],
        y_val=y_train[cut:],
        x_test=x_test,
        y_test=y_test,
    )


def shift_images(x: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """Shift images ``dx`` pixels to the right and ``dy`` pixels down, filling with zeros.

    ``x: (N, H, W)`` or ``(N, H, W, C)``; returns a new array of the same shape and dtype.
    Negative ``dx``/``dy`` shift left/up. Pixels pushed past the border are dropped and the
    uncovered rows and columns are 0 (black on MNIST), unlike ``np.roll``, which would wrap
    them around to the other side. Chapter 2 ("Pooling") uses it to measure how much a
    network's features and predictions change when a digit moves by a pixel or three.
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must have shape (N, H, W) or (N, H, W, C), got {x.shape}")
    height, width = x.shape[1], x.shape[2]
    for name, value, size in (("dx", dx, width), ("dy", dy, height)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or abs(value) >= size:
            raise ValueError(f"{name} must be an integer with |{name}| < {size}, got {value!r}")
    out = np.zeros_like(x)
    rows_to = slice(max(dy, 0), height + min(dy, 0))
    rows_from = slice(max(-dy, 0), height + min(-dy, 0))
    cols_to = slice(max(dx, 0), width + min(dx, 0))
    cols_from = slice(max(-dx, 0), width + min(-dx, 0))
    out[:, rows_to, cols_to] = x[:, rows_from, cols_from]
    return out
