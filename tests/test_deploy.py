"""The deployment predictor: one test per kind of bad input, correct batches, the CLI."""

import subprocess
import sys

import numpy as np
import pytest

from helpers.data import load_mnist
from helpers.deploy import (
    DigitPredictor,
    Latency,
    check_images,
    convert,
    convert_all,
    default_max_images,
    keras_calls,
    latencies,
    main,
    make_interpreter,
    op_tensors,
    plot_latencies,
    read_digit_image,
    softmax,
)
from helpers.env import import_tensorflow
from helpers.paths import shipped_model
from helpers.scratch import quantization as qz


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(normalize=True, channel_axis=True)


@pytest.fixture(scope="module")
def keras_model():
    import_tensorflow()
    import keras

    return keras.models.load_model(shipped_model("mnist_cnn.keras"))


@pytest.fixture(scope="module")
def tflite_files(tmp_path_factory, keras_model, mnist):
    """The shipped MNIST model converted to float32 and int8 (calibrated on training images)."""
    folder = tmp_path_factory.mktemp("tflite")
    saved = folder / "saved_model"
    paths = {}
    for kind in ("float32", "int8"):
        paths[kind] = folder / f"mnist_cnn_{kind}.tflite"
        paths[kind].write_bytes(convert(keras_model, kind, representative=mnist.x_train[:200],
                                        export_dir=saved))
    return paths


@pytest.fixture(scope="module")
def predictor(tflite_files):
    return DigitPredictor(tflite_files["float32"])


@pytest.fixture(scope="module")
def test_uint8():
    (_, _), (x_test, y_test) = load_mnist()
    return x_test[:500], y_test[:500]


# ---- one test per kind of bad input ----------------------------------------------------

def test_refuses_one_image_without_batch_axis(predictor, test_uint8):
    with pytest.raises(ValueError, match=r"images must be a batch .*got one image of shape \(28, 28\)"
                                         r".*images\[None\]"):
        predictor.predict(test_uint8[0][0])


@pytest.mark.parametrize("shape", [(4, 32, 32), (4, 28, 28, 3), (4, 784), (2, 4, 28, 28, 1)])
def test_refuses_wrong_shape(predictor, shape):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 28, 28\) or \(N, 28, 28, 1\); "
                                         rf"got an array of shape {re_shape(shape)}"):
        predictor.predict(np.zeros(shape, np.uint8))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("dtype", [np.int64, np.int8, bool, np.complex64])
def test_refuses_wrong_dtype(predictor, dtype):
    expected = rf"images must have dtype uint8 .* or float .*got .*dtype {np.dtype(dtype)}"
    with pytest.raises(ValueError, match=expected):
        predictor.predict(np.zeros((2, 28, 28), dtype))


def test_refuses_non_numeric_input(predictor):
    with pytest.raises(ValueError, match=r"images must have dtype uint8.*got .*dtype <U"):
        predictor.predict(np.array([["a"] * 28] * 28)[None])
    with pytest.raises(ValueError, match=r"images must have dtype uint8.*dtype object"):
        predictor.predict(None)


def test_refuses_ragged_list(predictor):
    ragged = [np.zeros((28, 28)), np.zeros((27, 28))]
    with pytest.raises(ValueError, match=r"images must be an array .*got list that NumPy cannot convert"):
        predictor.predict(ragged)


def test_refuses_floats_outside_unit_range(predictor, test_uint8):
    pixels = test_uint8[0][:3, ..., None].astype(np.float32)  # 0..255 stored as floats
    with pytest.raises(ValueError, match=r"values in \[0, 1\]; got values from 0 to 255 .*divide by 255"):
        predictor.predict(pixels)
    negative = np.zeros((2, 28, 28, 1), np.float32)
    negative[1, 3, 3, 0] = -0.5
    with pytest.raises(ValueError, match=r"values in \[0, 1\]; got values from -0.5 to 0$"):
        predictor.predict(negative)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_refuses_nan_and_inf(predictor, bad):
    x = np.zeros((3, 28, 28, 1), np.float32)
    x[1, 5, 5, 0] = bad
    with pytest.raises(ValueError, match=r"finite values in \[0, 1\]; got 1 NaN or infinite value"):
        predictor.predict(x)


@pytest.mark.parametrize("shape", [(0, 28, 28), (0, 28, 28, 1)])
def test_refuses_empty_batch(predictor, shape):
    with pytest.raises(ValueError, match=r"at least one image; got an empty batch of shape \(0, 28, 28"):
        predictor.predict(np.zeros(shape, np.uint8))


def test_refuses_batch_too_large_for_memory(predictor):
    # a billion images as a broadcast view: no memory used until someone copies it
    huge = np.broadcast_to(np.zeros((1, 28, 28), np.uint8), (10**9, 28, 28))
    assert default_max_images() < 10**9  # would need 2.9 TiB as float32
    with pytest.raises(ValueError, match=r"images is too large for memory: at most [\d,]+ images per call "
                                         r".*got 1,000,000,000 images, which need 2920.\d\d GiB"):
        predictor.predict(huge)


def test_max_images_is_the_limit_exactly(tflite_files):
    small = DigitPredictor(tflite_files["float32"], max_images=8)
    assert len(small.predict(np.zeros((8, 28, 28), np.uint8))) == 8
    with pytest.raises(ValueError, match=r"at most 8 images per call .*got 9 images"):
        small.predict(np.zeros((9, 28, 28), np.uint8))


def test_check_images_message_names_the_argument():
    with pytest.raises(ValueError, match=r"^batch must hold at least one image"):
        check_images(np.zeros((0, 28, 28), np.uint8), name="batch")


@pytest.mark.parametrize("arg", ["max_images", "chunk"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_refuses_bad_predictor_arguments(tflite_files, arg, value):
    with pytest.raises(ValueError, match=rf"{arg} must be a positive integer, got {value!r}"):
        DigitPredictor(tflite_files["float32"], **{arg: value})


def test_refuses_missing_or_invalid_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DigitPredictor(tmp_path / "absent.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ValueError, match=r"model_path must be a LiteRT \(.tflite\) model; 'junk.tflite'"):
        DigitPredictor(junk)


def test_refuses_model_with_wrong_input_or_output(tmp_path):
    import_tensorflow()
    import keras

    wrong = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "wrong.tflite"
    path.write_bytes(convert(wrong))
    with pytest.raises(ValueError, match=r"from \(batch, 28, 28, 1\) to \(batch, 10\); 'wrong.tflite' maps "
                                         r"\(1, 32, 32, 3\) to \(1, 10\)"):
        DigitPredictor(path)


def test_convert_refuses_unknown_kind_and_int8_without_data(keras_model):
    with pytest.raises(ValueError, match=r"kind must be one of \['float32', 'dynamic', 'int8', 'float16'\], "
                                         r"got 'int4'"):
        convert(keras_model, "int4")
    with pytest.raises(ValueError, match=r"representative must be given for kind='int8'"):
        convert(keras_model, "int8")


# ---- correct batches --------------------------------------------------------------------

def test_uint8_and_float_batches_agree_with_keras(predictor, keras_model, test_uint8):
    x, y = test_uint8
    out = predictor.predict(x)
    out_float = predictor.predict(x[..., None].astype(np.float32) / 255)
    out_f64 = predictor.predict(x.astype(np.float64) / 255)
    keras_logits = keras_model.predict(x[..., None].astype(np.float32) / 255, verbose=0)
    np.testing.assert_array_equal(out.digits, out_float.digits)
    np.testing.assert_array_equal(out.digits, out_f64.digits)
    np.testing.assert_allclose(out.probabilities, softmax(keras_logits), atol=1e-4)
    np.testing.assert_array_equal(out.digits, keras_logits.argmax(1))
    assert (out.digits == y).mean() >= 0.98
    assert out.digits.dtype == np.int64 and out.probabilities.shape == (len(x), 10)
    np.testing.assert_allclose(out.probabilities.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out.confidence, out.probabilities.max(1))


def test_int8_model_quantizes_its_input_and_agrees_with_float(tflite_files, predictor, test_uint8):
    int8 = DigitPredictor(tflite_files["int8"])
    assert int8.input_dtype == np.int8
    scale, zero = int8.input_quantization
    assert 0 < scale < 0.01  # [0, 1] mapped onto most of the 256 int8 steps
    q = int8.quantize_input(np.array([0.0, 1.0], np.float32))
    assert q.dtype == np.int8 and q[0] == zero and q[1] == np.clip(round(1 / scale) + zero, -128, 127)
    x, y = test_uint8
    agree = (int8.predict(x).digits == predictor.predict(x).digits).mean()
    assert agree >= 0.98, agree
    assert (int8.predict(x).digits == y).mean() >= 0.97


def test_batches_larger_than_chunk_and_single_images(tflite_files, predictor, test_uint8):
    x, _ = test_uint8
    chunked = DigitPredictor(tflite_files["float32"], chunk=64)
    whole = predictor.predict(x)
    np.testing.assert_allclose(chunked.predict(x).probabilities, whole.probabilities, atol=1e-6)
    one = predictor.predict(x[7:8])
    assert len(one) == 1 and one.digits[0] == whole.digits[7]
    again = predictor.predict(x[:300])  # the interpreter is resized back and forth
    np.testing.assert_allclose(again.probabilities, whole.probabilities[:300], atol=1e-6)


def test_channel_axis_optional_for_uint8(predictor, test_uint8):
    x, _ = test_uint8
    with_axis = predictor.predict(x[:20, ..., None]).digits
    np.testing.assert_array_equal(with_axis, predictor.predict(x[:20]).digits)


# ---- the command line -------------------------------------------------------------------

def write_pngs(folder, images):
    from PIL import Image

    paths = []
    for i, img in enumerate(images):
        path = folder / f"digit_{i}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def test_read_digit_image_round_trips_and_refuses_bad_files(tmp_path, test_uint8):
    from PIL import Image

    (path,) = write_pngs(tmp_path, test_uint8[0][:1])
    np.testing.assert_array_equal(read_digit_image(path), test_uint8[0][0])
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.stack([test_uint8[0][0]] * 3, axis=-1)).save(rgb)
    np.testing.assert_array_equal(read_digit_image(rgb), test_uint8[0][0])
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(big)
    with pytest.raises(ValueError, match=r"'big.png' must be 28x28 pixels .*got 30x40"):
        read_digit_image(big)
    text = tmp_path / "note.png"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"'note.png' must be an image"):
        read_digit_image(text)
    with pytest.raises(FileNotFoundError):
        read_digit_image(tmp_path / "absent.png")


def test_cli_prints_digit_and_confidence_per_file(tmp_path, tflite_files, predictor, test_uint8):
    x, _ = test_uint8
    paths = write_pngs(tmp_path, x[:5])
    expected = predictor.predict(x[:5])
    done = subprocess.run([sys.executable, "-m", "helpers.deploy", str(tflite_files["int8"]),
                           *map(str, paths)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    for line, path, digit in zip(lines, paths, expected.digits, strict=True):
        assert line.startswith(f"{path}: digit {digit} (confidence ")
        assert line.endswith("%)")
        confidence = float(line.rsplit("confidence ", 1)[1][:-2])
        assert 10.0 <= confidence <= 100.0


def test_cli_reports_bad_files_and_bad_model(tmp_path, tflite_files, test_uint8, capsys):
    (good,) = write_pngs(tmp_path, test_uint8[0][:1])
    assert main([str(tflite_files["float32"]), str(good), str(tmp_path / "absent.png")]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{good}: digit ") and "absent.png' does not exist" in err
    assert main([str(tmp_path / "absent.tflite"), str(good)]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---- conversion, quantization against the converted model, measuring ------------------

def test_convert_all_writes_every_kind(tmp_path, keras_model, mnist):
    paths = convert_all(keras_model, tmp_path, mnist.x_train[:50], "m", kinds=("float32", "float16"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_float16.tflite", "m_float32.tflite"]
    ratio = paths["float32"].stat().st_size / paths["float16"].stat().st_size
    assert 1.8 <= ratio <= 2.1  # float16 weights: half the bytes


def test_scratch_quantization_reproduces_the_converted_dense_layers(tflite_files, keras_model, mnist):
    """Weights, bias and outputs of both Dense layers of the int8 model, from scratch."""
    probe = make_interpreter(tflite_files["int8"], xnnpack=False, preserve_all_tensors=True)
    x = mnist.x_test[:300]
    probe.resize_tensor_input(0, list(x.shape))
    probe.allocate_tensors()
    probe.set_tensor(0, DigitPredictor(tflite_files["int8"]).quantize_input(x))
    probe.invoke()
    for which, layer, relu in ((-1, "output", False), (-2, "dense", True)):
        t = op_tensors(probe, "FULLY_CONNECTED", which=which)
        w, b = keras_model.get_layer(layer).get_weights()
        q_w, scales = qz.symmetric_per_channel(w.T, axis=0)
        np.testing.assert_array_equal(q_w, t.w)
        np.testing.assert_allclose(scales, t.w_scales, rtol=1e-6)
        np.testing.assert_array_equal(qz.quantize_bias(b, t.x_params[0], scales), t.b)
        q_y = qz.quantized_dense(t.x.reshape(len(x), -1), t.x_params, t.w, t.w_scales, t.b,
                                 t.y_params, relu=relu)
        steps = np.abs(q_y.astype(int) - t.y)
        assert steps.max() <= 1 and (steps == 0).mean() >= 0.99, (layer, steps.max(), (steps == 0).mean())
    with pytest.raises(ValueError, match="op_name must name an operation of the model, got 'LSTM'"):
        op_tensors(probe, "LSTM")


def test_latency_summary_and_interleaved_calls():
    lat = Latency.of(np.arange(1, 101) / 1000)
    assert lat.calls == 100 and lat.p50 == pytest.approx(0.0505) and lat.p99 == pytest.approx(0.09901)
    counts = {"a": 0, "b": 0}

    def call(key):
        counts[key] += 1

    out = latencies({"a": lambda: call("a"), "b": lambda: call("b")}, calls=40, warmup=3, rounds=4)
    assert list(out) == ["a", "b"] and out["a"].calls == 40 and counts == {"a": 43, "b": 43}
    assert out["a"].p99 >= out["a"].p50 > 0
    with pytest.raises(ValueError, match="calls >= rounds >= 1, got 3, 4"):
        latencies({"a": lambda: None}, calls=3, rounds=4)


def test_keras_calls_agree_and_plot_latencies(keras_model, mnist):
    calls = keras_calls(keras_model, mnist.x_test[:1])
    assert list(calls) == ["Keras model.predict", "Keras model(x)", "Keras tf.function"]
    outs = [fn() for fn in calls.values()]
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], atol=1e-4)
    fig = plot_latencies({"Keras x": Latency(1e-3, 2e-3, 10), "LiteRT y": Latency(2e-5, 3e-5, 10)})
    assert len(fig.axes[0].patches) == 2
    with pytest.raises(ValueError, match="lat must hold at least one Latency"):
        plot_latencies({})
