"""Choose chapter 6's fast recipe on the validation split, knob by knob, and log every run.

Every candidate is trained on the first 54,000 training images with seeds 0, 1 and 2 and
scored on the last 6,000 (the validation split); the test set is never touched. The stages
run in order, each starting from the choices of the ones before:

1. schedule and peak learning rate (``fast_cnn``, batch 128, 1.5 epochs): the highest mean
   validation accuracy (all cost the same time);
2. batch size, with the learning rate scaled in proportion, and once without scaling;
3. architecture: the seed model, the seed model without its dense head, 5x5 kernels,
   narrower and wider ``fast_cnn``, ``fast_cnn`` with the seed model's dense head;
4. BatchNormalization, with its own peak learning rate (1, 2 and 4 times the chosen one);
5. epochs: 1, 1.5, 2 and 2.5 for the best so far, for BatchNormalization's most accurate
   variant, and for every ``fast_cnn`` of stage 3 that costs fewer FLOPs than its choice
   (a cheaper model trained longer may reach the target sooner).

Stages 2 to 5, and the final choice over every candidate, use the rule of
:func:`helpers.faster.pick`: the fastest candidate whose mean validation accuracy reaches
0.990; if none does, the most accurate. The log, ``results/logs/fast_recipe_selection.json``,
holds every run (seconds, validation accuracy per half epoch); chapter 6 plots it and
re-applies the rule. The last line reads

    selected=<name> val_acc_mean=<accuracy> seconds_mean=<s> candidates=<count> runs=<count>

``--quick`` trains two tiny candidates on a small slice with one seed (a smoke test: its
numbers mean nothing) and writes ``fast_recipe_selection_quick.json``.

Usage: python benchmarks/select_fast_recipe.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from helpers.env import environment_line, setup

TARGET = 0.990
SEEDS = (0, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test on a small slice only")
    args = parser.parse_args()

    setup(seed=0)
    from helpers.cost import total_cost
    from helpers.data import load_mnist
    from helpers.faster import SELECTION_LOG, candidate_from_log, pick
    from helpers.paths import results_dir
    from helpers.training import FAST, Recipe, model_for, run_recipe, warm_up

    data = load_mnist(normalize=True, channel_axis=True)
    seeds = SEEDS
    base = Recipe("fast_w16_b128_e1.5", model="fast_cnn", batch_size=128, epochs=1.5, peak_lr=1e-2,
                  schedule="one_cycle", pipeline="tf.data", steps_per_execution=8)
    name = SELECTION_LOG
    if args.quick:
        data = dataclasses.replace(data, x_train=data.x_train[:2560], y_train=data.y_train[:2560])
        seeds, base, name = (0,), dataclasses.replace(base, batch_size=64, epochs=1), \
            SELECTION_LOG.replace(".json", "_quick.json")
    path = results_dir() / "logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    log = {"target": TARGET, "seeds": list(seeds), "environment": environment_line(),
           "n_train": int(len(data.x_train) * base.train_fraction),
           "candidates": [], "stages": {}, "members": {}}
    warm_up(data, (base,))

    def run(stage: str, recipe: Recipe):
        entry = {"name": recipe.name, "stage": stage, "recipe": dataclasses.asdict(recipe), "runs": []}
        for seed in seeds:
            r = run_recipe(recipe, data, seed=seed, validate=True, test=False)
            entry["runs"].append({"seed": seed, "seconds": r.seconds, "val_accuracy": r.curve[-1][1],
                                  "curve": [list(p) for p in r.curve]})
        log["candidates"].append(entry)
        path.write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
        c = candidate_from_log(entry)
        print(f"{stage:<13} {recipe.name:<28} val {c.mean_val:.4f} (min {min(c.val_accuracy):.4f}) "
              f"{c.mean_seconds:6.1f} s", flush=True)
        return c

    def choose(stage: str, cands, by: str = "time"):
        chosen = pick(cands, TARGET, by=by)
        log["stages"][stage] = chosen.name
        path.write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
        return chosen

    def variant(recipe: Recipe, **changes) -> Recipe:
        r = dataclasses.replace(recipe, **changes)
        arch = ("seed" if r.model == "mnist_cnn"
                else f"w{r.width}" + (f"_k{r.kernel}" if r.kernel != 5 else "")
                + (f"_dense{r.dense}" if r.dense else "") + ("_bn" if r.batch_norm else ""))
        sched = "" if r.schedule == "one_cycle" else f"_{r.schedule}"
        return dataclasses.replace(r, name=f"{arch}_b{r.batch_size}_lr{r.peak_lr:g}{sched}_e{r.epochs:g}")

    if args.quick:
        cands = [run("quick", variant(base)), run("quick", variant(base, width=4))]
        log["members"]["final"] = [c.name for c in cands]
        chosen = choose("final", cands)
    else:
        by_name = {}

        def stage(name: str, recipes, by: str = "time"):
            cands = []
            for r in recipes:
                if r.name not in by_name:  # a candidate met in an earlier stage is not trained again
                    by_name[r.name] = run(name, r)
                cands.append(by_name[r.name])
            log["members"][name] = [c.name for c in cands]
            return cands, choose(name, cands, by)

        def recipe_of(c):
            return dataclasses.replace(FAST, **{k: v for k, v in c.recipe.items()})

        start = variant(base)
        constant = [variant(start, schedule="constant", peak_lr=lr) for lr in (1e-3, 3e-3, 1e-2)]
        cycle = [variant(start, peak_lr=lr) for lr in (3e-3, 1e-2, 2e-2)]
        _, best = stage("schedule", constant + cycle, by="accuracy")
        cur = recipe_of(best)
        lr, b0 = cur.peak_lr, cur.batch_size
        _, best = stage("batch", [variant(cur, batch_size=b, peak_lr=lr * b / b0) for b in (64, 128, 256)]
                        + [variant(cur, batch_size=256)])
        cur = recipe_of(best)
        _, best = stage("architecture", [variant(cur, model="mnist_cnn"),
                                         variant(cur, width=32, kernel=3),
                                         variant(cur, width=32),
                                         variant(cur, width=16, dense=64),
                                         variant(cur, width=8), variant(cur, width=16),
                                         variant(cur, width=24)])
        cur = recipe_of(best)
        arch_winner, extra = cur, []
        if cur.model == "fast_cnn":
            bn, best = stage("batchnorm", [variant(cur)]
                             + [variant(cur, batch_norm=True, peak_lr=cur.peak_lr * k) for k in (1, 2, 4)])
            cur = recipe_of(best)
            extra.append(recipe_of(max(bn[1:], key=lambda c: c.mean_val)))  # BatchNormalization's best
        cost = total_cost(model_for(arch_winner)).flops
        extra += [recipe_of(by_name[n]) for n in log["members"]["architecture"]
                  if by_name[n].recipe["model"] == "fast_cnn"
                  and total_cost(model_for(recipe_of(by_name[n]))).flops < cost]
        todo = list(dict.fromkeys([cur, *extra]))
        stage("epochs", [variant(r, epochs=e) for r in todo for e in (1, 1.5, 2, 2.5)])
        log["members"]["final"] = list(by_name)
        chosen = choose("final", list(by_name.values()))

    print(f"selected={chosen.name} val_acc_mean={chosen.mean_val:.4f} seconds_mean={chosen.mean_seconds:.1f} "
          f"candidates={len(log['candidates'])} runs={sum(len(c['runs']) for c in log['candidates'])}")


if __name__ == "__main__":
    main()
