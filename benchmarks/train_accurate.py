"""Train the book's most accurate single model from scratch: models/accurate.keras.

The recipe (``helpers.tuning.accurate_recipe``: network, optimizer, schedule, epochs,
augmentation) was chosen on the validation split, the last 6,000 training images, among
candidates trained with ``--validate-only`` (see below and chapter 7). The script trains on
the other 54,000 images, evaluates the validation split after every epoch (off the
training clock), saves the model to ``models/accurate.keras`` and its training log to
``results/logs/accurate.json``
(per-epoch validation accuracy and seconds, the environment line, the seed), then
evaluates the full 10,000-image test set once. The last line reads

    test_acc=0.99xx train_s=… epochs=18 params=…

``train_s`` is the trainer's clock: graph tracing and the input pipeline included,
per-epoch validation excluded. ``--quick`` trains one epoch on a small slice and writes
``accurate_quick.keras`` and ``logs/accurate_quick.json`` instead, for a smoke test (its
numbers mean nothing). ``--seed`` trains another member of an ensemble
(``accurate_seed<N>.keras``).

Choosing the recipe: ``--validate-only --name NAME`` trains a candidate without touching
the test set (no model saved; the log goes to ``results/logs/NAME.json`` and the last line
reads ``val_acc=… train_s=… epochs=… params=…``), and ``--epochs``, ``--widths``,
``--convs``, ``--weight-decay`` change the recipe, e.g.

    python benchmarks/train_accurate.py --validate-only --name accurate_candidate_convs2_18ep --epochs 18
    python benchmarks/train_accurate.py --validate-only --name accurate_candidate_convs122_24ep \
        --epochs 24 --convs 1,2,2

Usage: python benchmarks/train_accurate.py [--quick] [--seed N] [--validate-only --name NAME]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import time

from helpers.env import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test on a small slice only")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, order and augmentation")
    parser.add_argument("--validate-only", action="store_true",
                        help="a candidate recipe: validation only, no test set, no model saved")
    parser.add_argument("--name", help="name of the model and log (default: accurate[_seed<N>], "
                                       "or accurate_candidate with --validate-only)")
    parser.add_argument("--epochs", type=float, help="change the recipe's epochs")
    parser.add_argument("--widths", help="change the network's widths, e.g. 32,64,128")
    parser.add_argument("--convs", help="change the convolutions per stage, e.g. 2 or 1,2,1")
    parser.add_argument("--weight-decay", type=float, help="change AdamW's weight decay")
    args = parser.parse_args()

    setup(seed=args.seed)
    import functools

    from helpers.augment import RandomAffine
    from helpers.data import load_mnist
    from helpers.env import cpu_info, environment_line
    from helpers.models import accurate_cnn
    from helpers.paths import models_dir, results_dir
    from helpers.results import git_commit
    from helpers.training import accuracy, train
    from helpers.tuning import accurate_recipe

    recipe, model_kw, augment_kw = accurate_recipe()
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    if args.weight_decay is not None:
        recipe = dataclasses.replace(recipe, weight_decay=args.weight_decay)
    if args.widths:
        model_kw["widths"] = tuple(int(w) for w in args.widths.split(","))
    if args.convs:
        convs = tuple(int(c) for c in args.convs.split(","))
        model_kw["convs"] = convs[0] if len(convs) == 1 else convs
    name = args.name or ("accurate_candidate" if args.validate_only
                         else "accurate" if args.seed == 0 else f"accurate_seed{args.seed}")
    data = load_mnist(normalize=True, channel_axis=True, validation_split=0.1)
    x, y, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    if args.quick:
        name += "_quick"  # never overwrites the shipped model
        x, y, x_val, y_val = x[:1024], y[:1024], x_val[:512], y_val[:512]
        recipe = dataclasses.replace(recipe, epochs=1)
    print(environment_line(), flush=True)
    print(f"{recipe}\nmodel: accurate_cnn({model_kw}), augment: {augment_kw}, seed {args.seed}, "
          f"{len(x)} training and {len(x_val)} validation images", flush=True)

    load_start = os.getloadavg()
    wall = time.perf_counter()
    done = train(functools.partial(accurate_cnn, **model_kw), x, y, recipe, validation=(x_val, y_val),
                 augment=RandomAffine(**augment_kw, seed=args.seed), seed=args.seed, log=True)
    wall = time.perf_counter() - wall
    params = done.model.count_params()
    model_path = None
    test_acc = None
    if not args.validate_only:
        model_path = models_dir() / f"{name}.keras"
        done.model.save(model_path)
        test_acc = accuracy(done.model, data.x_test, data.y_test)  # the test set, once

    log = {
        "name": name, "seed": args.seed, "environment": environment_line(), "cpu": cpu_info().model,
        "cores": cpu_info().cores, "git_commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "recipe": dataclasses.asdict(recipe), "model": model_kw, "augment": augment_kw,
        "train_images": len(x), "validation_images": len(x_val), "params": params,
        "epoch_seconds": done.epoch_seconds, "history": done.history,
        "train_seconds": done.seconds, "validation_seconds": done.eval_seconds, "wall_seconds": wall,
        "load_average_before": load_start[0], "load_average_after": os.getloadavg()[0],
        "test_accuracy": test_acc, "model_file": f"models/{model_path.name}" if model_path else None,
        "model_bytes": model_path.stat().st_size if model_path else None,
    }
    logs = results_dir() / "logs"
    logs.mkdir(exist_ok=True)
    (logs / f"{name}.json").write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
    if args.validate_only:
        print(f"saved results/logs/{name}.json (no model: a candidate)")
        val_acc = done.history["val_accuracy"][-1]
        print(f"val_acc={val_acc:.4f} train_s={done.seconds:.1f} epochs={recipe.epochs:g} params={params}")
        return
    print(f"saved {log['model_file']} ({log['model_bytes'] / 1e6:.2f} MB) and results/logs/{name}.json")
    print(f"test_acc={test_acc:.4f} train_s={done.seconds:.1f} epochs={recipe.epochs:g} params={params}")


if __name__ == "__main__":
    main()
