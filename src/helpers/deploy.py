"""A digit classifier for deployment: a LiteRT (``.tflite``) model behind input checks.

Chapter 9 ("Deploy") converts the book's Keras models to LiteRT flatbuffers and wraps the
result in :class:`DigitPredictor`, which refuses bad input with a message that names what
it expected and what it was given, instead of returning a confident answer for garbage.

The API::

    from helpers.deploy import DigitPredictor

    predictor = DigitPredictor("models/mnist_cnn_int8.tflite")
    out = predictor.predict(images)      # images: (N, 28, 28) uint8 or (N, 28, 28, 1) float
    out.digits        # (N,) int64, the predicted digit of each image
    out.confidence    # (N,) float32, the softmax probability of that digit
    out.probabilities # (N, 10) float32, each row sums to 1

What the input may be (checked by :func:`check_images`, which ``predict`` calls first):

- a NumPy array (or anything ``np.asarray`` turns into a numeric one) of shape
  ``(N, 28, 28)`` or ``(N, 28, 28, 1)``, ``N >= 1``: a *batch*; one image is
  ``images[None]``;
- dtype ``uint8`` (pixels 0..255, as MNIST ships them) or a float dtype (``float16``,
  ``float32``, ``float64``) with every value finite and in ``[0, 1]``;
- a batch whose float32 copy fits the memory budget: at most ``max_images`` images
  (by default, as many as fit in half of the memory available when the predictor is made).

Anything else raises ``ValueError`` naming the argument, the expectation and what was given:
a wrong rank or shape, another dtype (``int64``, ``bool``, strings ...), floats outside
``[0, 1]`` (pixels 0..255 stored as floats, say), NaN or infinity, an empty batch, a batch
too large for memory. The model file is checked too: a missing file raises
``FileNotFoundError``; a file that is not a LiteRT model, or a model whose input is not one
28×28 grey image or whose output is not 10 scores, raises ``ValueError``.

Quantized models (int8 or uint8 input) get their input quantized with the model's own scale
and zero point, and their output dequantized, so callers never see the difference.

From the command line, ``python -m helpers.deploy MODEL IMAGE.png ...`` prints the predicted
digit and its confidence for each image file (28×28, white digit on black, as in MNIST).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Height and width of an MNIST digit, in pixels.
IMAGE_SIDE = 28
#: Number of classes the model must score.
NUM_CLASSES = 10
#: Images per call into the interpreter when a batch is split (the predictor's own chunking).
DEFAULT_CHUNK = 256
#: Bytes per image of the float32 copy the predictor makes of a batch.
BYTES_PER_IMAGE = IMAGE_SIDE * IMAGE_SIDE * 4


@dataclass(frozen=True)
class Predictions:
    """What :meth:`DigitPredictor.predict` returns for a batch of ``N`` images.

    ``digits: (N,)`` int64 predicted digits; ``confidence: (N,)`` float32 softmax probability
    of each predicted digit; ``probabilities: (N, 10)`` float32, rows summing to 1.
    """

    digits: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.digits)


def available_memory_bytes() -> int | None:
    """Return the memory the system reports as available (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_max_images() -> int:
    """Return how many images fit, as float32, in half of the available memory (at least 1).

    Where the available memory cannot be read, assume 1 GiB is available.
    """
    available = available_memory_bytes() or 2**30
    return max(1, available // 2 // BYTES_PER_IMAGE)


def _describe(x: np.ndarray) -> str:
    return f"an array of shape {x.shape} and dtype {x.dtype}"


def check_images(images, name: str = "images", max_images: int | None = None) -> np.ndarray:
    """Check a batch of digits and return it as float32 ``(N, 28, 28, 1)`` in ``[0, 1]``.

    ``images``: ``(N, 28, 28)`` or ``(N, 28, 28, 1)``, dtype uint8 (0..255) or float
    (finite, in ``[0, 1]``), ``1 <= N <= max_images`` (default: :func:`default_max_images`).
    The checks run in this order, so the first message names the first problem: type and
    dtype, rank and shape, empty batch, size against memory (before any copy is made),
    NaN or infinity, value range. Raises ValueError naming ``name``, what was expected and
    what was given.
    """
    try:
        x = np.asarray(images)
    except (TypeError, ValueError) as err:  # ragged lists and other unconvertible objects
        raise ValueError(f"{name} must be an array of shape (N, 28, 28) or (N, 28, 28, 1); "
                         f"got {type(images).__name__} that NumPy cannot convert: {err}") from None
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        hint = ""
        if np.issubdtype(x.dtype, np.integer):
            hint = " (pixels 0..255 in another integer type: convert with .astype(np.uint8))"
        raise ValueError(f"{name} must have dtype uint8 (pixels 0..255) or float (values in "
                         f"[0, 1]); got {_describe(x)}{hint}")
    side = (IMAGE_SIDE, IMAGE_SIDE)
    if x.ndim == 2 and x.shape == side:
        raise ValueError(f"{name} must be a batch of shape (N, 28, 28) or (N, 28, 28, 1); got one "
                         f"image of shape {x.shape}: add a batch axis with images[None]")
    if not (x.ndim == 3 and x.shape[1:] == side or x.ndim == 4 and x.shape[1:] == (*side, 1)):
        raise ValueError(f"{name} must have shape (N, 28, 28) or (N, 28, 28, 1); got {_describe(x)}")
    n = x.shape[0]
    if n == 0:
        raise ValueError(f"{name} must hold at least one image; got an empty batch of shape {x.shape}")
    limit = default_max_images() if max_images is None else max_images
    if n > limit:
        need_gib = n * BYTES_PER_IMAGE / 2**30
        raise ValueError(
            f"{name} is too large for memory: at most {limit:,} images per call "
            f"({limit * BYTES_PER_IMAGE / 2**30:.2f} GiB as float32); got {n:,} images, which "
            f"need {need_gib:.2f} GiB as float32. Split the batch into smaller ones")
    x = x.reshape(n, IMAGE_SIDE, IMAGE_SIDE, 1)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    finite = np.isfinite(x)
    if not finite.all():
        bad = x[~finite]
        raise ValueError(f"{name} must hold finite values in [0, 1]; got {bad.size:,} NaN or "
                         f"infinite value(s) (first: {bad[0]!r}) in {_describe(x)}")
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        hint = " (pixels 0..255 stored as floats? divide by 255)" if high > 1.0 else ""
        raise ValueError(f"{name} must hold float values in [0, 1]; got values from {low:g} to "
                         f"{high:g}{hint}")
    return x.astype(np.float32, copy=False)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits: (N, K)``, computed stably (the row maximum subtracted)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


#: The conversions :func:`convert` knows: weights and activations as the name says.
CONVERSIONS = ("float32", "dynamic", "int8", "float16")


def convert(model, kind: str = "float32", representative: np.ndarray | None = None,
            export_dir: str | Path | None = None, representative_count: int = 500,
            int8_io: bool = True) -> bytes:
    """Convert a Keras model to a LiteRT flatbuffer and return its bytes.

    The model is exported as a SavedModel (``model.export``, Keras 3's inference
    artifact) and converted with ``tf.lite.TFLiteConverter.from_saved_model``. ``kind``:

    - ``"float32"``: weights and activations in float32 (the reference);
    - ``"dynamic"``: weights stored in int8, activations float (dynamic-range quantization);
    - ``"int8"``: full-integer: weights and activations int8, input and output int8 too,
      with scales calibrated on ``representative`` (required: ``(n, 28, 28, 1)`` float32
      images from the *training* set, of which the first ``representative_count`` are used);
    - ``"float16"``: weights stored in float16, computed in float32.

    ``int8_io`` (``"int8"`` only): True gives the model int8 input and output (the caller
    quantizes, as :class:`DigitPredictor` does); False keeps float32 input and output, with
    quantize and dequantize operations inside the model.

    ``export_dir``: where the SavedModel goes, exported there unless it already holds one
    (so several conversions of one model export once); default: a temporary folder. The
    converter's C++ log lines are silenced.
    """
    import tempfile

    import tensorflow as tf

    from helpers.env import silenced_stderr

    if kind not in CONVERSIONS:
        raise ValueError(f"kind must be one of {list(CONVERSIONS)}, got {kind!r}")
    if kind == "int8":
        if representative is None:
            raise ValueError("representative must be given for kind='int8': (n, 28, 28, 1) float32 "
                             "training images to calibrate the activations' scales; got None")
        representative = check_images(representative, "representative")[:representative_count]
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(export_dir) if export_dir is not None else Path(tmp) / "saved_model"
        if not (saved / "saved_model.pb").exists():
            model.export(str(saved), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if kind != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if kind == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if kind == "int8":
            def calibration():
                for i in range(len(representative)):
                    yield [representative[i:i + 1]]

            converter.representative_dataset = calibration
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if int8_io:
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        with silenced_stderr():
            return converter.convert()


def convert_all(model, folder: str | Path, representative: np.ndarray, name: str,
                kinds: Sequence[str] = CONVERSIONS) -> dict[str, Path]:
    """Convert ``model`` to each of ``kinds``, write ``<folder>/<name>_<kind>.tflite``; return the paths.

    The model is exported once, to a temporary folder, for all conversions;
    ``representative``: training images for the int8 calibration (see :func:`convert`).
    """
    import tempfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            paths[kind] = folder / f"{name}_{kind}.tflite"
            paths[kind].write_bytes(convert(model, kind, representative=representative,
                                            export_dir=Path(tmp) / "saved_model"))
    return paths


def make_interpreter(model_path: str | Path, num_threads: int | None = None, xnnpack: bool = True,
                     preserve_all_tensors: bool = False):
    """Return a LiteRT ``Interpreter`` for ``model_path`` with tensors allocated.

    ``num_threads``: threads for the kernels (None: the runtime's default). ``xnnpack``:
    True keeps the default delegate (XNNPACK, LiteRT's optimized CPU kernels); False runs
    the built-in kernels only. ``preserve_all_tensors``: keep every intermediate tensor
    readable after ``invoke`` (use with ``xnnpack=False``: a delegate computes its
    intermediates internally). FileNotFoundError for a missing file, ValueError for a
    file LiteRT cannot read.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from helpers.env import silenced_stderr

    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model_path must name a .tflite file; {str(path)!r} does not exist")
    if num_threads is not None and (not isinstance(num_threads, int) or isinstance(num_threads, bool)
                                    or num_threads < 1):
        raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}")
    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with silenced_stderr():  # the runtime's C++ "Created ... delegate" line
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads,
                                      experimental_op_resolver_type=resolver,
                                      experimental_preserve_all_tensors=preserve_all_tensors)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"model_path must be a LiteRT (.tflite) model; {path.name!r} could not be "
                         f"loaded: {err}") from None
    return interpreter


@dataclass(frozen=True)
class OpTensors:
    """The tensors of one operation of a quantized LiteRT model, after an ``invoke``.

    ``x``: input activations, ``w``: weights, ``b``: bias, ``y``: output activations (arrays
    as stored, e.g. int8 and int32); ``x_params``/``y_params``: ``(scale, zero_point)``;
    ``w_scales``/``b_scales``: per-output-channel scales ``(C_out,)``.
    """

    name: str
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    y: np.ndarray
    x_params: tuple[float, int]
    y_params: tuple[float, int]
    w_scales: np.ndarray
    b_scales: np.ndarray


def op_tensors(interpreter, op_name: str = "FULLY_CONNECTED", which: int = -1) -> OpTensors:
    """Read the tensors of the ``which``-th operation named ``op_name`` (e.g. the last Dense).

    ``interpreter`` must have run (``invoke``) with ``preserve_all_tensors=True`` and without
    a delegate (see :func:`make_interpreter`). ValueError if there is no such operation.
    """
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] == op_name]
    if not ops:
        raise ValueError(f"op_name must name an operation of the model, got {op_name!r}")
    op = ops[which]
    details = {d["index"]: d for d in interpreter.get_tensor_details()}

    def tensor(i):
        return interpreter.get_tensor(int(i))

    def params(i):
        q = details[int(i)]["quantization_parameters"]
        return float(q["scales"][0]), int(q["zero_points"][0])

    def scales(i):
        return np.asarray(details[int(i)]["quantization_parameters"]["scales"], np.float64)

    x_i, w_i, b_i = op["inputs"]
    (y_i,) = op["outputs"]
    return OpTensors(name=details[int(y_i)]["name"], x=tensor(x_i), w=tensor(w_i), b=tensor(b_i),
                     y=tensor(y_i), x_params=params(x_i), y_params=params(y_i), w_scales=scales(w_i),
                     b_scales=scales(b_i))


class DigitPredictor:
    """Classify batches of MNIST digits with a LiteRT model, refusing bad input.

    Args:
        model_path: a ``.tflite`` file whose input is ``(batch, 28, 28, 1)`` (float32, int8 or
            uint8) and whose output is ``(batch, 10)`` logits (or probabilities, with
            ``logits=False``).
        num_threads: threads for the kernels (None: the runtime's default).
        logits: whether the model outputs logits (the book's models do) or probabilities.
        max_images: the largest batch accepted per call (default: as many images as fit,
            as float32, in half of the memory available now).
        chunk: images per call into the interpreter; larger batches are split.
        xnnpack: keep LiteRT's default XNNPACK delegate (True) or use reference kernels.

    Attributes: ``input_dtype`` (the model's input type), ``input_quantization``
    (``(scale, zero_point)``, ``(0.0, 0)`` for a float input), ``model_bytes`` (file size).

    """

    def __init__(self, model_path: str | Path, *, num_threads: int | None = None, logits: bool = True,
                 max_images: int | None = None, chunk: int = DEFAULT_CHUNK, xnnpack: bool = True):
        for arg, value in (("max_images", max_images), ("chunk", chunk)):
            if value is not None and (not isinstance(value, int | np.integer) or isinstance(value, bool)
                                      or value < 1):
                raise ValueError(f"{arg} must be a positive integer, got {value!r}")
        self.path = Path(model_path)
        self.interpreter = make_interpreter(model_path, num_threads=num_threads, xnnpack=xnnpack)
        self.logits = bool(logits)
        self.max_images = int(max_images) if max_images is not None else default_max_images()
        self.chunk = int(chunk)
        self.model_bytes = self.path.stat().st_size
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"model_path must hold a model with one input and one output; "
                             f"{self.path.name!r} has {len(inputs)} and {len(outputs)}")
        self._in, self._out = inputs[0], outputs[0]
        in_shape = tuple(int(d) for d in self._in["shape"])
        out_shape = tuple(int(d) for d in self._out["shape"])
        if in_shape[1:] != (IMAGE_SIDE, IMAGE_SIDE, 1) or out_shape[1:] != (NUM_CLASSES,):
            raise ValueError(f"model_path must hold a model from (batch, 28, 28, 1) to (batch, 10); "
                             f"{self.path.name!r} maps {in_shape} to {out_shape}")
        self.input_dtype = np.dtype(self._in["dtype"])
        scale, zero = self._in["quantization"]
        self.input_quantization = (float(scale), int(zero))
        if self.input_dtype != np.float32:
            info = np.iinfo(self.input_dtype)
            self._inv_scale, self._zero = np.float32(1.0 / scale), np.float32(zero)
            self._qmin, self._qmax = np.float32(info.min), np.float32(info.max)
        self._batch = int(self._in["shape"][0])

    def __repr__(self) -> str:
        return (f"DigitPredictor({self.path.name!r}, input {self.input_dtype}, "
                f"{self.model_bytes / 1024:.0f} KiB)")

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Turn float32 images ``(n, 28, 28, 1)`` in [0, 1] into the model's input dtype.

        Float models take them as they are; quantized models take
        ``clip(round(x / scale) + zero_point)`` in their integer type. (Written as in-place
        ufuncs: at batch 1 each NumPy call costs about a microsecond, more than its work.)
        """
        if self.input_dtype == np.float32:
            return x
        q = np.multiply(x, self._inv_scale, dtype=np.float32)
        q += self._zero
        np.rint(q, out=q)
        np.maximum(q, self._qmin, out=q)
        np.minimum(q, self._qmax, out=q)
        return q.astype(self.input_dtype)

    def _output(self) -> np.ndarray:
        out = self.interpreter.get_tensor(self._out["index"])
        scale, zero = self._out["quantization"]
        if np.issubdtype(out.dtype, np.integer) and scale:
            real = out.astype(np.float32)
            real -= zero
            real *= np.float32(scale)
            return real
        return out.astype(np.float32, copy=False)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the model on an already checked float32 batch ``(n, 28, 28, 1)``; return ``(n, 10)``.

        No checks here: :meth:`predict` is the entry point for untrusted input. The
        interpreter is resized when the batch size changes.
        """
        if len(x) != self._batch:
            self.interpreter.resize_tensor_input(self._in["index"], [len(x), IMAGE_SIDE, IMAGE_SIDE, 1])
            self.interpreter.allocate_tensors()
            self._batch = len(x)
        self.interpreter.set_tensor(self._in["index"], self.quantize_input(x))
        self.interpreter.invoke()
        return self._output()

    def scores(self, images) -> np.ndarray:
        """Check ``images`` (see :func:`check_images`) and return the model's raw outputs ``(N, 10)``."""
        x = check_images(images, "images", self.max_images)
        parts = [self.run(x[i:i + self.chunk]).copy() for i in range(0, len(x), self.chunk)]
        return np.concatenate(parts)

    def predict_proba(self, images) -> np.ndarray:
        """Return class probabilities ``(N, 10)`` float32 for ``images`` (checked first)."""
        raw = self.scores(images)
        probs = softmax(raw) if self.logits else raw
        return probs.astype(np.float32, copy=False)

    def predict(self, images) -> Predictions:
        """Classify ``images`` (``(N, 28, 28)`` uint8 or ``(N, 28, 28, 1)`` float): :class:`Predictions`."""
        probs = self.predict_proba(images)
        digits = probs.argmax(axis=1).astype(np.int64)
        return Predictions(digits=digits, confidence=probs[np.arange(len(probs)), digits],
                           probabilities=probs)

    __call__ = predict


# ---------------------------------------------------------------------------------------
# Measuring a model the way a service sees it
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Seconds per call of one way of running a model, from ``calls`` timed calls after warm-up.

    ``p50``: the median (what a typical request waits); ``p99``: 99% of calls were faster
    (the tail a busy service sees once in a hundred requests).
    """

    p50: float
    p99: float
    calls: int

    @classmethod
    def of(cls, times: Sequence[float]) -> Latency:
        """Summarize per-call seconds."""
        t = np.asarray(times, np.float64)
        return cls(p50=float(np.median(t)), p99=float(np.percentile(t, 99)), calls=len(t))


def latencies(fns: dict, calls: int = 1000, warmup: int = 100, rounds: int = 10) -> dict[str, Latency]:
    """Batch-1 latency of each function: ``calls`` calls each, interleaved in ``rounds`` rounds.

    Each function is called ``warmup`` times untimed first; then, round after round, each is
    called ``calls // rounds`` times, every call timed on its own (see
    :func:`helpers.timing.measure_interleaved`), so a busy spell on a shared machine hits
    all of them alike. Returns ``{name: Latency}``.
    """
    from helpers.timing import measure_interleaved

    if not isinstance(calls, int) or not isinstance(rounds, int) or rounds < 1 or calls < rounds:
        raise ValueError(f"calls and rounds must be integers with calls >= rounds >= 1, got {calls!r}, "
                         f"{rounds!r}")
    timed = measure_interleaved(fns, rounds=rounds, repeat=calls // rounds, warmup=warmup)
    return {name: Latency.of(t.times) for name, t in timed.items()}


def keras_calls(model, x: np.ndarray) -> dict:
    """Return the three ways of calling a Keras model on the float batch ``x`` (NumPy logits out).

    ``model.predict``: Keras' batch-inference loop; ``model(x)``: an eager call
    (``training=False``); ``tf.function``: the call traced once into a graph. Each takes
    the same NumPy input a service would receive.
    """
    import tensorflow as tf

    graph = tf.function(lambda t: model(t, training=False))
    return {
        "Keras model.predict": lambda: model.predict(x, verbose=0),
        "Keras model(x)": lambda: model(x, training=False).numpy(),
        "Keras tf.function": lambda: graph(x).numpy(),
    }


def plot_latencies(lat: dict[str, Latency], title: str = ""):
    """Draw batch-1 latencies as horizontal bars (p50) with a tick at p99, on a log scale.

    ``lat``: ``{label: Latency}``, drawn top to bottom in order. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if not lat:
        raise ValueError("lat must hold at least one Latency, got none")
    labels = list(lat)
    p50 = np.array([lat[k].p50 for k in labels]) * 1e6
    p99 = np.array([lat[k].p99 for k in labels]) * 1e6
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.2))
    y = np.arange(len(labels))[::-1]
    colors = ["tab:orange" if k.startswith("Keras") else "tab:blue" for k in labels]
    ax.barh(y, p50, color=colors, label="p50 (median)")
    ax.scatter(p99, y, marker="|", s=200, color="black", label="p99", zorder=3)
    for yi, v in zip(y, p50, strict=True):
        ax.text(v * 1.08, yi - 0.3, f"{v:,.0f} µs" if v >= 10 else f"{v:.1f} µs", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per call for one digit (µs, log scale)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def images_per_second(fn, batch: int, repeat: int = 15, warmup: int = 3) -> float:
    """Throughput of ``fn`` (which classifies one batch of ``batch`` images): median images/s."""
    from helpers.timing import measure

    return batch / measure(fn, repeat=repeat, warmup=warmup).median


def read_digit_image(path: str | Path) -> np.ndarray:
    """Read an image file as a ``(28, 28)`` uint8 grey image (white digit on black, as MNIST).

    Colour images are converted to grey. FileNotFoundError if the file is missing;
    ValueError if it is not an image Pillow can read or is not 28×28 pixels.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist")
    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"image file {path.name!r} must be an image (PNG, ...): {err}") from None
    if grey.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"image file {path.name!r} must be 28x28 pixels (width x height); got "
                         f"{grey.shape[1]}x{grey.shape[0]}: resize it first")
    return grey


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print ``FILE: digit D (confidence P%)`` for each image; return the exit code.

    Exit code 0 if every image was classified, 1 if some image could not be read (each such
    file is reported on stderr), 2 for a model that cannot be loaded or bad arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m helpers.deploy",
        description="Classify 28x28 digit images (white on black) with a LiteRT model.")
    parser.add_argument("model", type=Path, help="a .tflite model (input 28x28x1, 10 logits out)")
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, ...), 28x28 pixels")
    parser.add_argument("--threads", type=int, default=None, help="kernel threads (default: runtime's)")
    args = parser.parse_args(argv)
    try:
        predictor = DigitPredictor(args.model, num_threads=args.threads)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    images, names, failed = [], [], 0
    for path in args.images:
        try:
            images.append(read_digit_image(path))
            names.append(str(path))
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
    if images:
        out = predictor.predict(np.stack(images))
        for name, digit, conf in zip(names, out.digits, out.confidence, strict=True):
            print(f"{name}: digit {digit} (confidence {conf:.1%})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
