"""Train the book's hardened model from scratch: models/robust.keras (chapter 10).

The model (``helpers.robustness.robust_cnn``) is trained on attacked images (adversarial
training) with the recipe ``helpers.robustness.HARDENED``, which was chosen on the
validation split, the last 6,000 training images: ``--select`` trains every candidate in
``HARDENING_CANDIDATES`` on the other 54,000 images, scores it on the validation split only
(clean, FGSM and PGD accuracy; the test set is never touched), writes
``results/logs/robust_selection.json`` and prints which candidate ``SELECTION_RULE`` picks.

Without ``--select`` the script trains ``HARDENED`` on the 54,000 images, attacks the
validation split after every epoch (clean on all of it, FGSM and PGD on its first 1,000
images; all off the training clock), times one warm epoch of ordinary training of the same
model for comparison, saves the model to ``models/robust.keras`` and its log to
``results/logs/robust.json``, then evaluates the full 10,000-image test set once. The last
line reads

    clean=0.9891 pgd20_eps0.1=0.9612 fgsm_eps0.3=0.8873 train_s=512.3

``clean``: test accuracy; ``pgd20_eps0.1``: test accuracy under PGD with 20 steps and a
random start at eps = 0.1 (L-infinity, inputs in [0, 1]); ``fgsm_eps0.3``: under FGSM at
eps = 0.3; ``train_s``: training seconds (graph tracing and the input pipeline included,
per-epoch validation excluded). ``--quick`` trains one epoch on a small slice and writes
``robust_quick.keras`` and ``logs/robust_quick.json`` (or ``robust_selection_quick.json``)
instead, for a smoke test (its numbers mean nothing).

Usage: python benchmarks/train_robust.py [--quick] [--select [NAME ...]]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import time

from helpers.env import setup
from helpers.robustness import HARDENED, HARDENING_CANDIDATES, Hardening, choose_hardening

EVAL_IMAGES = 1000  # validation images attacked after each epoch


def recipe_of(h: Hardening):
    """The trainer's :class:`~helpers.training.Recipe` for ``h``."""
    from helpers.training import Recipe

    return Recipe("robust", batch_size=h.batch_size, epochs=h.epochs, peak_lr=h.peak_lr,
                  schedule=h.schedule, pipeline="tf.data")


def train_hardened(h: Hardening, x, y, x_val, y_val, seed: int = 0, eval_images: int = EVAL_IMAGES,
                   log: bool = True):
    """Train ``h`` on ``x, y``; attack the validation split after each epoch, off the clock.

    Returns the trained model and a dict: per-epoch training seconds, history, and the
    validation accuracies (``val_fgsm_eps0.3``, ``val_pgd10_eps0.1``, ``val_pgd10_eps0.3``).
    """
    import keras

    from helpers import robustness as rb
    from helpers.training import total_steps, train

    recipe = recipe_of(h)
    ramp_steps = int(h.ramp * total_steps(recipe, len(x)))
    step = rb.adversarial_step(h.eps, steps=h.steps, step_size=h.step_size, random_start=h.random_start,
                              ramp_steps=ramp_steps, fraction=h.fraction)
    xa, ya = x_val[:eval_images], y_val[:eval_images]
    adv: dict[str, list[float]] = {"val_fgsm_eps0.3": [], "val_pgd10_eps0.1": [], "val_pgd10_eps0.3": []}
    spent: list[float] = []  # seconds of adversarial validation after each epoch

    class AttackValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            m = self.model
            adv["val_fgsm_eps0.3"].append(rb.attack_accuracy(m, xa, ya, "fgsm", 0.3))
            adv["val_pgd10_eps0.1"].append(rb.attack_accuracy(m, xa, ya, "pgd", 0.1, steps=10))
            adv["val_pgd10_eps0.3"].append(rb.attack_accuracy(m, xa, ya, "pgd", 0.3, steps=10))
            spent.append(time.perf_counter() - start)
            if log:
                print("    " + "  ".join(f"{k} {v[-1]:.4f}" for k, v in adv.items()), flush=True)

    done = train(lambda: rb.robust_cnn(h.width, h.dense), x, y, recipe, validation=(x_val, y_val),
                 train_step=step, callbacks=[AttackValidation()], seed=seed, log=log)
    # The trainer's clock runs its epoch-end first, so epoch k's time holds the attacks of
    # epochs 1 .. k-1: take them off.
    epoch_seconds = [t - sum(spent[:k]) for k, t in enumerate(done.epoch_seconds)]
    return done.model, {"epoch_seconds": epoch_seconds, "train_seconds": epoch_seconds[-1],
                        "history": {**done.history, **adv}, "ramp_steps": ramp_steps,
                        "total_steps": total_steps(recipe, len(x))}


def standard_epoch_seconds(h: Hardening, x, y, seed: int = 0) -> float:
    """Seconds of one epoch of ordinary training of the same model (the second of two, warm)."""
    from helpers import robustness as rb
    from helpers.training import train

    recipe = dataclasses.replace(recipe_of(h), epochs=2)
    done = train(lambda: rb.robust_cnn(h.width, h.dense), x, y, recipe, seed=seed)
    return done.epoch_seconds[1] - done.epoch_seconds[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test on a small slice only")
    parser.add_argument("--select", nargs="*", metavar="NAME",
                        help="train these candidates (default: all) and score them on validation only")
    args = parser.parse_args()

    setup(seed=0)
    import numpy as np

    from helpers import robustness as rb
    from helpers.data import load_mnist
    from helpers.env import environment_line
    from helpers.paths import models_dir, results_dir
    from helpers.results import git_commit

    data = load_mnist(normalize=True, channel_axis=True, validation_split=0.1)
    x, y, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    x_test, y_test = data.x_test, data.y_test
    eval_images, recipe, suffix = EVAL_IMAGES, HARDENED, ""
    if args.quick:
        x, y, x_val, y_val = x[:1024], y[:1024], x_val[:256], y_val[:256]
        x_test, y_test = x_test[:256], y_test[:256]
        eval_images, recipe, suffix = 128, dataclasses.replace(HARDENED, epochs=1), "_quick"
    logs = results_dir() / "logs"
    logs.mkdir(exist_ok=True)
    env = environment_line()
    print(env, flush=True)
    common = {"environment": env, "git_commit": git_commit(), "seed": 0,
              "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
              "train_images": len(x), "validation_images": len(x_val)}

    if args.select is not None:
        names = args.select or list(HARDENING_CANDIDATES)
        unknown = [n for n in names if n not in HARDENING_CANDIDATES]
        if unknown:
            parser.error(f"--select: unknown candidates {unknown}; "
                         f"known: {list(HARDENING_CANDIDATES)}")
        path = logs / f"robust_selection{suffix}.json"
        table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        for name in names:
            h = HARDENING_CANDIDATES[name]
            if args.quick:
                h = dataclasses.replace(h, epochs=1)
            print(f"candidate {name}: {h}", flush=True)
            model, run = train_hardened(h, x, y, x_val, y_val, eval_images=eval_images)
            n = 2 * eval_images
            scores = {"val_accuracy": float((rb.predict_labels(model, x_val) == y_val).mean()),
                      "val_fgsm_eps0.3": rb.attack_accuracy(model, x_val[:n], y_val[:n], "fgsm", 0.3),
                      "val_pgd20_eps0.1": rb.attack_accuracy(model, x_val[:n], y_val[:n], "pgd", 0.1),
                      "val_pgd20_eps0.3": rb.attack_accuracy(model, x_val[:n], y_val[:n], "pgd", 0.3)}
            table[name] = {**common, "hardening": dataclasses.asdict(h), **run, **scores,
                           "scored_images": n}
            path.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
            print(f"{name}: " + " ".join(f"{k}={v:.4f}" for k, v in scores.items())
                  + f" train_s={run['train_seconds']:.1f}", flush=True)
        chosen = choose_hardening(table)
        print(f"the rule picks {chosen}: {HARDENING_CANDIDATES.get(chosen)}")
        return

    print(f"recipe: {recipe}; {len(x)} training and {len(x_val)} validation images", flush=True)
    load_start = os.getloadavg()
    model, run = train_hardened(recipe, x, y, x_val, y_val, eval_images=eval_images)
    model_path = models_dir() / f"robust{suffix}.keras"
    model.save(model_path)
    # What the attack costs: a warm epoch of the same model trained on clean images, same run
    standard_epoch = standard_epoch_seconds(recipe, x, y)
    steps = np.diff([0.0, *run["epoch_seconds"]])
    hardened_epoch = float(np.median(steps[1:] if len(steps) > 1 else steps))
    # the test set, once
    clean = float((rb.predict_labels(model, x_test) == y_test).mean())
    pgd = rb.attack_accuracy(model, x_test, y_test, "pgd", 0.1, steps=20)
    fgsm = rb.attack_accuracy(model, x_test, y_test, "fgsm", 0.3)
    log = {"name": f"robust{suffix}", **common, "hardening": dataclasses.asdict(recipe), **run,
           "standard_epoch_seconds": standard_epoch, "hardened_epoch_seconds": hardened_epoch,
           "cost_ratio": hardened_epoch / standard_epoch,
           "params": int(model.count_params()), "model_file": f"models/{model_path.name}",
           "model_bytes": model_path.stat().st_size,
           "load_average_before": load_start[0], "load_average_after": os.getloadavg()[0],
           "test_accuracy": clean, "test_pgd20_eps0.1_accuracy": pgd, "test_fgsm_eps0.3_accuracy": fgsm,
           "test_images": int(len(x_test)), "attack_seed": 0,
           "inputs": "float32 (N, 28, 28, 1) in [0, 1]", "outputs": "logits (N, 10)"}
    (logs / f"robust{suffix}.json").write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
    print(f"saved {log['model_file']} ({log['model_bytes'] / 1e6:.2f} MB) "
          f"and results/logs/robust{suffix}.json")
    print(f"clean={clean:.4f} pgd20_eps0.1={pgd:.4f} fgsm_eps0.3={fgsm:.4f} "
          f"train_s={run['train_seconds']:.1f}")


if __name__ == "__main__":
    main()
