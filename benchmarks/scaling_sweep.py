"""Deeper and wider against cost: a family of CNNs trained with the same budget, measured.

Trains every point of chapter 8's sweep (``helpers.models.scaled_cnn``: width x0.25 to x4 at
depth 4; depth 2 to 6 at width 1; depths 5 and 6 also with residual shortcuts) with one
recipe (1 epoch, batch 128, Adam with a one-cycle schedule), once per seed, on the first
54,000 training images. The recipe's peak learning rate is chosen first, on validation
accuracy, among ``LR_CANDIDATES``, with three probe points (the narrowest, a wide one, the
deepest plain one). For each point it records parameters, FLOPs per image, training
seconds, inference latency at batch 1 and 256 (medians of repeats), validation accuracy
(the last 6,000 training images) and test accuracy. The point where returns diminish is
chosen on validation accuracy; its seed-0 model is saved to ``models/scaling_knee.keras``
and the log to ``results/logs/scaling_sweep.json``. The last line reads

    points=11 knee=cnn_w1_d4 knee_mflops=2.39 knee_val_acc=0.9871 best_val_acc=0.9890 wall_s=412.0

``--quick`` trains three small points on a slice, for a smoke test (its numbers mean nothing;
the log goes to ``results/logs/scaling_sweep_quick.json``, the model to
``models/scaling_knee_quick.keras``).

Usage: python benchmarks/scaling_sweep.py [--quick] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import time

from helpers.env import environment_line, setup

#: (width, depth, residual) of every point of the sweep.
SWEEP = ([(w, 4, False) for w in (0.25, 0.5, 1.0, 2.0, 4.0)]
         + [(1.0, d, False) for d in (2, 3, 5, 6)]
         + [(1.0, d, True) for d in (5, 6)])
QUICK = [(0.25, 2, False), (0.5, 3, True), (1.0, 4, False)]
#: Peak learning rates tried, and the points that try them (seed 0), before the sweep.
LR_CANDIDATES = (3e-3, 1e-2)
LR_PROBES = [(0.25, 4, False), (2.0, 4, False), (1.0, 6, False)]
#: Gain per doubling of FLOPs (percentage points of validation accuracy) below which returns diminish.
MIN_GAIN_POINTS = 0.1


def latency(model, batch: int, repeat: int, calls: int) -> float:
    """Median seconds of one inference call on ``batch`` images (``calls`` calls per timed repeat)."""
    import numpy as np
    import tensorflow as tf

    from helpers.timing import measure

    x = tf.constant(np.random.default_rng(0).random((batch, 28, 28, 1), dtype=np.float32))
    infer = tf.function(lambda images: model(images, training=False))

    def run():
        for _ in range(calls):
            out = infer(x)
        return out.numpy()

    return measure(run, repeat=repeat, warmup=2).median / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="three small points on a slice (smoke test)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds per point (default 0 1)")
    args = parser.parse_args()

    setup(seed=args.seeds[0])
    import keras

    from helpers import models
    from helpers.cost import total_cost
    from helpers.data import load_mnist
    from helpers.paths import models_dir, results_dir
    from helpers.scaling import diminishing_point, pareto_front
    from helpers.training import Recipe, accuracy, train

    start = time.perf_counter()
    data = load_mnist(normalize=True, channel_axis=True, validation_split=0.1)
    x, y = data.x_train, data.y_train
    recipe = Recipe("sweep", batch_size=128, epochs=1, schedule="one_cycle", pipeline="tf.data",
                    steps_per_execution=8)
    sweep, probes = SWEEP, LR_PROBES
    if args.quick:
        x, y, sweep, probes = x[:1024], y[:1024], QUICK, QUICK[:1]
        data = dataclasses.replace(data, x_val=data.x_val[:512], y_val=data.y_val[:512],
                                   x_test=data.x_test[:512], y_test=data.y_test[:512])
    # Warm-up: TensorFlow's one-time start-up costs must land on no measured run
    train(functools.partial(models.scaled_cnn, 1.0, 4), x[:2048], y[:2048], recipe, seed=0)

    lr_val = {}
    for lr in LR_CANDIDATES:
        accs = []
        for width, depth, residual in probes:
            done = train(functools.partial(models.scaled_cnn, width, depth, residual), x, y,
                         dataclasses.replace(recipe, peak_lr=lr), seed=0)
            accs.append(accuracy(done.model, data.x_val, data.y_val))
        lr_val[lr] = statistics.mean(accs)
        print(f"peak learning rate {lr:g}: probes' mean validation accuracy {lr_val[lr]:.4f}", flush=True)
    recipe = dataclasses.replace(recipe, peak_lr=max(lr_val, key=lr_val.get))

    points, kept = [], {}
    for width, depth, residual in sweep:
        build = functools.partial(models.scaled_cnn, width, depth, residual)
        cost = total_cost(build())
        runs = []
        for seed in args.seeds:
            done = train(build, x, y, recipe, seed=seed)
            runs.append({"seed": seed, "train_seconds": done.seconds,
                         "val_accuracy": accuracy(done.model, data.x_val, data.y_val),
                         "test_accuracy": accuracy(done.model, data.x_test, data.y_test)})
            if seed == args.seeds[0]:
                model = done.model
        point = {
            "name": model.name, "width": width, "depth": depth, "residual": residual,
            "params": cost.params, "flops_per_image": cost.flops,
            "train_seconds": statistics.median(r["train_seconds"] for r in runs),
            "val_accuracy": statistics.mean(r["val_accuracy"] for r in runs),
            "test_accuracy": statistics.mean(r["test_accuracy"] for r in runs),
            "latency_b1_seconds": latency(model, 1, repeat=7 if args.quick else 15, calls=20),
            "latency_b256_seconds": latency(model, 256, repeat=3 if args.quick else 7, calls=2),
            "runs": runs,
        }
        points.append(point)
        kept[point["name"]] = model
        print(f"{point['name']:<16} {cost.params:>7,} params {cost.flops / 1e6:7.2f} MFLOP/image "
              f"{point['train_seconds']:6.1f} s  val {point['val_accuracy']:.4f}  "
              f"test {point['test_accuracy']:.4f}  b1 {point['latency_b1_seconds'] * 1e3:.2f} ms  "
              f"b256 {point['latency_b256_seconds'] * 1e3:.1f} ms",
              flush=True)

    flops = [p["flops_per_image"] for p in points]
    val = [p["val_accuracy"] * 100 for p in points]
    knee = points[diminishing_point(flops, val, MIN_GAIN_POINTS)]
    front = [points[i]["name"] for i in pareto_front(flops, val)]
    log = {"environment": environment_line(), "seeds": args.seeds, "quick": args.quick,
           "recipe": dataclasses.asdict(recipe), "lr_probes": probes,
           "lr_val_accuracy": {f"{lr:g}": acc for lr, acc in lr_val.items()},
           "train_images": len(x), "val_images": len(data.x_val),
           "test_images": len(data.x_test), "min_gain_points_per_doubling": MIN_GAIN_POINTS,
           "frontier": front, "knee": knee["name"], "points": points}
    logs = results_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    name = "scaling_sweep_quick.json" if args.quick else "scaling_sweep.json"
    (logs / name).write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    saved = "scaling_knee_quick.keras" if args.quick else "scaling_knee.keras"
    kept[knee["name"]].save(models_dir() / saved)
    keras.backend.clear_session()
    print(f"points={len(points)} knee={knee['name']} knee_mflops={knee['flops_per_image'] / 1e6:.2f} "
          f"knee_val_acc={knee['val_accuracy']:.4f} best_val_acc={max(val) / 100:.4f} "
          f"wall_s={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
