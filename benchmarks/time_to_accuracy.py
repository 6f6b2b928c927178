"""Time to accuracy: the original recipe against the book's fastest, in one process.

Trains the original recipe once and the fast recipe with three seeds, on the same in-memory
MNIST arrays (the first 54,000 training images), and evaluates each on the full 10,000-image
test set: the recipes were chosen on the validation split beforehand
(``benchmarks/select_fast_recipe.py``), so the test set only reports here. The last line reads

    speedup=<ratio> baseline_s=<s> baseline_acc=<test> fast_s=<s> fast_acc_mean=<test> fast_acc_min=<test>

where speedup = baseline training seconds / mean fast training seconds. The target: a
speedup of at least 10 at a mean test accuracy of at least 0.990. ``--quick`` trains
on a small slice for a smoke test only (its numbers mean nothing).

Usage: python benchmarks/time_to_accuracy.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from helpers.env import setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test on a small slice only")
    args = parser.parse_args()

    setup(seed=0)
    from helpers.data import load_mnist
    from helpers.training import FAST, ORIGINAL, run_recipe, warm_up

    data = load_mnist(normalize=True, channel_axis=True)
    original, fast = ORIGINAL, FAST
    if args.quick:
        data = dataclasses.replace(data, x_train=data.x_train[:2048], y_train=data.y_train[:2048])
        original, fast = dataclasses.replace(original, epochs=1), dataclasses.replace(fast, epochs=1)

    warm_up(data)
    base = run_recipe(original, data, seed=0)
    print(f"original: {base.seconds:.1f} s, test accuracy {base.test_accuracy:.4f}", flush=True)
    runs = []
    for seed in (0, 1, 2):
        run = run_recipe(fast, data, seed=seed)
        runs.append(run)
        print(f"fast seed {seed}: {run.seconds:.1f} s, test accuracy {run.test_accuracy:.4f}", flush=True)

    fast_s = statistics.mean(r.seconds for r in runs)
    accs = [r.test_accuracy for r in runs]
    print(
        f"speedup={base.seconds / fast_s:.1f} baseline_s={base.seconds:.1f} "
        f"baseline_acc={base.test_accuracy:.4f} fast_s={fast_s:.1f} "
        f"fast_acc_mean={statistics.mean(accs):.4f} fast_acc_min={min(accs):.4f}"
    )


if __name__ == "__main__":
    main()
