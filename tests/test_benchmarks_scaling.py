"""The chapter 8 scripts, run for real in their quick modes (a few steps, two real workers)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from helpers import distribute
from helpers.paths import output_root, repo_root


def _worker_pids() -> set[int]:
    """Pids of the multi-worker script's worker processes now running (zombies excluded)."""
    pids = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(c.endswith(b"multiworker.py") for c in cmd) and b"worker" in cmd:
            pids.add(int(d.name))
    return pids


def test_multiworker_quick_run_survives_a_killed_worker_and_leaves_nothing_behind():
    before = _worker_pids()
    run = distribute.run_multiworker("--workers", "2", "--quick", "--kill-at", "5", timeout=600)
    assert run.returncode == 0, "\n".join(run.lines[-30:])
    assert re.fullmatch(r"workers=2 global_batch=256 test_acc=\d\.\d{4} wall_s=\d+\.\d weights_equal=True",
                        run.lines[-1])
    assert len(run.find("first step trains 128 of the global batch's 256 images")) == 2
    assert run.find("launcher: killed worker 1 (SIGKILL) after it reported step 5")
    restart = distribute.parse_result(run.find("resumed_step=")[0])
    assert restart["restarts"] == 1 and restart["resumed_step"] in (3, 6)  # a checkpoint every 3 steps
    assert len(run.find(f"resumed from the checkpoint at step {restart['resumed_step']}")) == 2
    assert not _worker_pids() - before, "a worker outlived its launcher"


def test_a_worker_without_its_peers_gives_up_within_a_bounded_time(tmp_path):
    ports = distribute.free_ports(2)
    config = distribute.tf_config([f"127.0.0.1:{p}" for p in ports], 0)
    run = distribute.run_multiworker("--role", "worker", "--run-dir", str(tmp_path), "--quick",
                                     "--peer-timeout", "8", env={"TF_CONFIG": config}, isolated=True,
                                     timeout=120)
    assert run.returncode == distribute.EXIT_PEERS
    assert run.lines[-1].startswith(f"error: worker 0 could not join its cluster within 8 s; "
                                    f"no answer from 127.0.0.1:{ports[1]}")
    assert run.seconds < 8 + 60


def test_scaling_sweep_quick_writes_its_log_and_model():
    script = repo_root() / "benchmarks" / "scaling_sweep.py"
    out = subprocess.run([sys.executable, str(script), "--quick", "--seeds", "0"], capture_output=True,
                         text=True, timeout=900, check=False, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    last = distribute.parse_result(out.stdout.splitlines()[-1])
    assert last["points"] == 3
    log = json.loads((output_root() / "results" / "logs" / "scaling_sweep_quick.json").read_text())
    names = [p["name"] for p in log["points"]]
    assert names == ["cnn_w0p25_d2", "cnn_w0p5_d3_res", "cnn_w1_d4"] and last["knee"] in names
    assert set(log["lr_val_accuracy"]) == {"0.003", "0.01"}
    for p in log["points"]:
        assert p["params"] > 0 and p["flops_per_image"] > 0 and p["train_seconds"] > 0
        assert p["latency_b1_seconds"] > 0 and p["latency_b256_seconds"] > p["latency_b1_seconds"]
        assert 0 <= p["val_accuracy"] <= 1 and len(p["runs"]) == 1
    assert set(log["frontier"]) <= set(names) and log["knee"] in log["frontier"]
    assert (output_root() / "models" / "scaling_knee_quick.keras").exists()
