"""Data-parallel training with several worker processes, the way a cluster runs, on 127.0.0.1.

Starts ``--workers`` processes, each with its own ``TF_CONFIG``, that train chapter 6's model
together with ``tf.distribute.MultiWorkerMirroredStrategy`` and a custom training step
(``helpers.distribute``): each worker trains half of every global batch, and the gradients
are summed across workers after every step. The launcher relays each worker's progress,
restarts the cluster if a worker dies (training resumes from the last checkpoint), then
checks that every worker ended with the same weights. The last line reads

    workers=2 global_batch=256 test_acc=0.9871 wall_s=41.2 weights_equal=True

``wall_s`` counts everything from the launch to the last worker's exit (process start-up,
joining the cluster, training, evaluation). ``--kill-at STEP`` kills one worker once it
reports step STEP, to show the restart and the resumed step. ``--fit`` has each worker call
Keras' ``model.fit`` instead of the custom step, to show that it fails under this strategy.
``--quick`` trains a few steps on a small slice, for a smoke test (its accuracy means
nothing).

Usage: python benchmarks/multiworker.py --workers 2 --epochs 1 [--kill-at STEP] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import numpy as np

from helpers import distribute


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training images (default 1)")
    p.add_argument("--global-batch", type=int, default=256, help="images per step, all workers together")
    p.add_argument("--kill-at", type=int, default=None, metavar="STEP",
                   help="kill worker 1 (0 with one worker) once it reports this step; the cluster restarts")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="steps between checkpoints (default 50; 3 with --quick)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--cores-per-worker", type=int, default=None,
                   help="pin each worker to this many cores of its own (default: an even split "
                        "when there are enough cores; 0: no pinning)")
    p.add_argument("--peer-timeout", type=float, default=60.0, help="seconds to wait for the cluster")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds before the launcher gives up")
    p.add_argument("--out", type=Path, default=None, help="keep the workers' weights and reports here")
    p.add_argument("--fit", action="store_true", help="use model.fit in the workers (it fails)")
    p.add_argument("--quick", action="store_true", help="a few steps on a small slice (smoke test)")
    p.add_argument("--role", choices=("launcher", "worker"), default="launcher", help=argparse.SUPPRESS)
    p.add_argument("--run-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    return args


def plan_for(args: argparse.Namespace) -> distribute.WorkerPlan:
    quick = {"train_images": 2048, "log_every": 1} if args.quick else {}
    every = args.checkpoint_every or (3 if args.quick else 50)
    return distribute.WorkerPlan(epochs=args.epochs, global_batch=args.global_batch, checkpoint_every=every,
                                 max_steps=args.max_steps, peer_timeout=args.peer_timeout, **quick)


def worker(args: argparse.Namespace) -> int:
    plan = plan_for(args)
    if args.fit:
        return fit_worker(plan)
    distribute.run_worker(plan, args.run_dir / "checkpoints", args.run_dir / "out",
                          echo=lambda s: print(s, flush=True))
    return 0


def fit_worker(plan: distribute.WorkerPlan) -> int:
    """Train with Keras' own fit under the multi-worker strategy; report how it fails."""
    _, index = distribute.read_tf_config()
    from helpers.env import silenced_stderr

    with silenced_stderr():
        import tensorflow as tf

        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras

    from helpers import models
    from helpers.data import load_mnist

    keras.config.disable_traceback_filtering()  # show where inside Keras it fails
    data = load_mnist(normalize=True, channel_axis=True)
    with strategy.scope():
        model = models.fast_cnn()
        model.compile(keras.optimizers.Adam(1e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    ds = distribute.global_batches(data.x_train[:plan.train_images], data.y_train[:plan.train_images],
                                   plan.global_batch, plan.seed, 0).map(lambda x, y, i: (x, y))
    try:
        with silenced_stderr():
            model.fit(ds, epochs=1, steps_per_epoch=4, verbose=0)
    except Exception as err:  # the point: show what fit raises, and where
        import re
        import traceback

        message = re.sub(r"\(PerReplica:\{.*?\}\)", "(PerReplica:{...})", " ".join(str(err).split()))
        print(f"worker {index}: model.fit failed: {type(err).__name__}: {message[:240]}", flush=True)
        frames = [f for f in traceback.extract_tb(err.__traceback__) if "/keras/" in f.filename]
        for f in frames[-4:]:
            where = f.filename.split("/keras/", 1)[1]
            print(f"worker {index}:   in keras/{where}, {f.name}(): {f.line}", flush=True)
        return 5
    print(f"worker {index}: model.fit ran", flush=True)
    return 0


def launcher(args: argparse.Namespace) -> int:
    plan = plan_for(args)
    prefix = distribute.loopback_only_prefix()
    if prefix:  # run this very script again inside a network namespace with only 127.0.0.1
        os.execv(prefix[0], [*prefix, sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]])
    if os.environ.get(distribute.NETNS_ENV):
        print("launcher: the cluster runs in a private network namespace: only 127.0.0.1 exists in it")
    else:
        print("launcher: no private network namespace here; the workers' ports are open only during the run")
    cores = len(os.sched_getaffinity(0))
    per = args.cores_per_worker if args.cores_per_worker is not None else (
        cores // args.workers if cores >= args.workers else 0)
    affinity = distribute.core_sets(args.workers, per_worker=per) if per else None
    run_dir = Path(tempfile.mkdtemp(prefix="multiworker-"))
    print(f"launcher: {args.workers} workers, global batch {plan.global_batch} "
          f"({plan.global_batch // args.workers} per worker), {plan.total_steps()} steps, "
          f"a checkpoint every {plan.checkpoint_every} steps; {cores} cores"
          + (f", {len(affinity[0])} per worker" if affinity else ", shared"), flush=True)
    command = [sys.executable, os.path.abspath(__file__), "--role", "worker", "--run-dir", str(run_dir),
               "--workers", str(args.workers), "--epochs", str(args.epochs),
               "--global-batch", str(args.global_batch), "--checkpoint-every", str(plan.checkpoint_every),
               "--peer-timeout", str(args.peer_timeout)]
    command += ["--max-steps", str(args.max_steps)] if args.max_steps else []
    command += ["--quick"] if args.quick else []
    command += ["--fit"] if args.fit else []
    try:
        report = distribute.launch(command, args.workers, log_dir=run_dir / "logs", kill_at=args.kill_at,
                                   kill_worker=min(1, args.workers - 1), max_restarts=0 if args.fit else 2,
                                   timeout=args.timeout, affinity=affinity,
                                   echo=lambda s: print(s, flush=True))
        if args.fit:
            failed = [c for a in report.attempts for c in a.exit_codes if c == 5]
            print(f"workers={args.workers} fit_failed={bool(failed)}")
            return 0 if failed else 1
        if not report.ok:
            print(f"workers={args.workers} failed after {len(report.attempts)} attempt(s) "
                  f"wall_s={report.seconds:.1f}")
            return 1
        return summarize(args, plan, run_dir / "out", report)
    finally:
        if args.out is not None and (run_dir / "out").exists():
            shutil.copytree(run_dir / "out", args.out, dirs_exist_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def summarize(args, plan, out: Path, report: distribute.LaunchReport) -> int:
    reports = [json.loads((out / f"worker{i}.json").read_text()) for i in range(args.workers)]
    weights = [np.load(out / f"worker{i}.npz") for i in range(args.workers)]
    equal = all(len(w.files) == len(weights[0].files) and all(np.array_equal(w[k], weights[0][k])
                                                              for k in weights[0].files) for w in weights)
    resumed = reports[0]["resumed_from"]
    if report.restarts:
        print(f"restarts={report.restarts} resumed_step={resumed} steps={reports[0]['steps']}")
    rates = [r["images_per_s"] for r in reports if r["images_per_s"]]
    if rates:
        print(f"images_per_s={min(rates):.0f} (all workers together, after 10 warm-up steps)")
    print(f"params={reports[0]['params']} allreduce_ms={reports[0]['allreduce_seconds'] * 1e3:.3f} "
          f"(median time to sum the gradients across the workers once)")
    acc = reports[0]["test_accuracy"]
    print(f"workers={args.workers} global_batch={plan.global_batch} test_acc={acc:.4f} "
          f"wall_s={report.seconds:.1f} weights_equal={equal}")
    return 0 if equal else 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on `kill`
    if args.role == "worker":
        return worker(args)
    return launcher(args)


if __name__ == "__main__":
    sys.exit(main())
