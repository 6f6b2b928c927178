"""Inference: the book's models converted to LiteRT, against Keras, one digit at a time.

In one process: converts each model (default: the MNIST chapter's, ``models/mnist_cnn.keras``)
to float32, dynamic-range, full-integer int8 (calibrated on training images) and float16
LiteRT files; measures each file's size, its accuracy on the full 10,000-image test set,
its batch-1 latency (p50 and p99 over ``--calls`` calls after warm-up, interleaved with the
Keras model called three ways: ``model.predict``, ``model(x, training=False)`` and a
``tf.function``) and its batch-256 throughput; then the knobs: threads, XNNPACK, and the
converter's int8 input/output option. The last line reads

    latency_speedup=19.6 size_ratio=3.75 acc_drop_pts=0.03 int8_acc=0.9905

for the first model, where latency_speedup = batch-1 p50 of the fastest Keras call ÷ batch-1
p50 of the int8 LiteRT model, size_ratio = float32 ``.tflite`` bytes ÷ int8 ``.tflite``
bytes, acc_drop_pts = (Keras accuracy − int8 accuracy) in percentage points.
A LiteRT call takes the float batch and returns float logits (``DigitPredictor.run``:
quantize, invoke, dequantize), as each Keras call does; input checks are timed separately.
``--quick`` is a smoke test (few calls, 1,000 test images): its numbers mean nothing.

Usage: python benchmarks/inference.py [--quick] [--calls N] [--models NAME.keras ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from helpers.env import setup


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: few calls, a test slice")
    parser.add_argument("--calls", type=int, default=1000, help="timed batch-1 calls per variant")
    parser.add_argument("--models", nargs="+", default=["mnist_cnn.keras"],
                        help="shipped Keras models to convert (models/NAME.keras)")
    args = parser.parse_args()

    setup(seed=0)
    import keras

    from helpers.data import load_mnist
    from helpers.deploy import (
        DigitPredictor,
        convert,
        convert_all,
        images_per_second,
        keras_calls,
        latencies,
    )
    from helpers.env import cpu_info
    from helpers.paths import shipped_model
    from helpers.training import accuracy

    calls = 100 if args.quick else args.calls
    cores = cpu_info().cores
    data = load_mnist(normalize=True, channel_axis=True, validation_split=0.1)
    representative = data.x_train[:500]  # the first 54,000 images: training set only
    x_test, y_test = data.x_test, data.y_test
    if args.quick:
        x_test, y_test = x_test[:1000], y_test[:1000]
    x1, x256 = x_test[:1], x_test[:256]
    print(f"cores: {cores} | LiteRT threads: {cores} | batch-1 calls per variant: {calls}", flush=True)

    headline = None
    with tempfile.TemporaryDirectory() as tmp:
        for model_file in args.models:
            name = Path(model_file).stem
            model = keras.models.load_model(shipped_model(model_file))
            paths = convert_all(model, tmp, representative, name)
            predictors = {kind: DigitPredictor(p, num_threads=cores) for kind, p in paths.items()}
            keras_acc = accuracy(model, x_test, y_test)
            accs = {kind: float((p.predict(x_test).digits == y_test).mean())
                    for kind, p in predictors.items()}

            k_calls = keras_calls(model, x1)
            fns = {k: v for k, v in k_calls.items() if k != "Keras model.predict"}
            fns.update({f"LiteRT {kind}": (lambda p=p: p.run(x1)) for kind, p in predictors.items()})
            lat = latencies(fns, calls=calls, warmup=100)
            # model.predict is 100 times slower than the rest: timed on its own, same count
            lat.update(latencies({"Keras model.predict": k_calls["Keras model.predict"]},
                                 calls=calls, warmup=10))
            k_batch = keras_calls(model, x256)
            rates = {k: images_per_second(f, 256) for k, f in k_batch.items()}
            rates.update({f"LiteRT {kind}": images_per_second(lambda p=p: p.run(x256), 256)
                          for kind, p in predictors.items()})

            print(f"\n{name}: {'variant':<22}{'bytes':>10}{'accuracy':>10}{'p50 us':>10}{'p99 us':>10}"
                  f"{'b256 img/s':>12}")
            for key in ("Keras model.predict", "Keras model(x)", "Keras tf.function"):
                print(f"{name}: {key:<22}{'':>10}{keras_acc:10.4f}{fmt_us(lat[key].p50)} "
                      f"{fmt_us(lat[key].p99)}{rates[key]:12.0f}")
            for kind, path in paths.items():
                key = f"LiteRT {kind}"
                print(f"{name}: {key:<22}{path.stat().st_size:10d}{accs[kind]:10.4f}{fmt_us(lat[key].p50)} "
                      f"{fmt_us(lat[key].p99)}{rates[key]:12.0f}", flush=True)

            fastest_keras = min(lat[k].p50 for k in k_calls)
            speedup = fastest_keras / lat["LiteRT int8"].p50
            size_ratio = paths["float32"].stat().st_size / paths["int8"].stat().st_size
            drop = (keras_acc - accs["int8"]) * 100
            line = (f"latency_speedup={speedup:.1f} size_ratio={size_ratio:.2f} acc_drop_pts={drop:.2f} "
                    f"int8_acc={accs['int8']:.4f}")
            print(f"{name}: {line}", flush=True)
            headline = headline or line

            # Knobs on the int8 model: threads, XNNPACK, float input/output inside the model
            float_io = Path(tmp) / f"{name}_int8_float_io.tflite"
            float_io.write_bytes(convert(model, "int8", representative=representative,
                                         int8_io=False))
            knobs = {
                f"int8, {cores} threads, XNNPACK": predictors["int8"],
                "int8, 1 thread, XNNPACK": DigitPredictor(paths["int8"], num_threads=1),
                f"int8, {cores} threads, no XNNPACK": DigitPredictor(paths["int8"], num_threads=cores,
                                                                     xnnpack=False),
                "float32, 1 thread, XNNPACK": DigitPredictor(paths["float32"], num_threads=1),
                f"float32, {cores} threads, no XNNPACK": DigitPredictor(paths["float32"],
                                                                        num_threads=cores, xnnpack=False),
                f"int8 float I/O, {cores} threads": DigitPredictor(float_io, num_threads=cores),
            }
            knob_lat = latencies({k: (lambda p=p: p.run(x1)) for k, p in knobs.items()},
                                 calls=calls, warmup=100)
            int8 = predictors["int8"]
            checks = latencies({"predict (checks+softmax)": lambda p=int8: p.predict(x1),
                                "run (model only)": lambda p=int8: p.run(x1)},
                               calls=calls, warmup=100)
            for key, value in (knob_lat | checks).items():
                print(f"{name}: knob {key:<34} p50 {fmt_us(value.p50)} us  p99 {fmt_us(value.p99)} us")

    print(headline)


if __name__ == "__main__":
    main()
