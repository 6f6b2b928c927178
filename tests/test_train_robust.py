"""benchmarks/train_robust.py: the script runs end to end and writes what it promises.

Each run is a fresh process with $CNN_BOOK_OUTPUT pointing at a temporary folder, so the
committed model and logs stay untouched.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from helpers.env import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow imports quietly)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_robust.py"


def _run(tmp_path, *args):
    env = {**os.environ, "CNN_BOOK_OUTPUT": str(tmp_path)}
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                         timeout=900, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()


def test_quick_run_writes_model_log_and_the_result_line(tmp_path):
    last = _run(tmp_path, "--quick")[-1]
    match = re.fullmatch(r"clean=(\d\.\d{4}) pgd20_eps0\.1=(\d\.\d{4}) fgsm_eps0\.3=(\d\.\d{4}) "
                         r"train_s=(\d+\.\d)", last)
    assert match, f"unexpected last line: {last!r}"
    log = json.loads((tmp_path / "results" / "logs" / "robust_quick.json").read_text())
    assert len(log["history"]["val_accuracy"]) == len(log["epoch_seconds"]) == 1
    assert len(log["history"]["val_pgd10_eps0.1"]) == 1 and log["train_images"] == 1024
    assert abs(log["test_accuracy"] - float(match.group(1))) < 1e-4
    assert abs(log["test_pgd20_eps0.1_accuracy"] - float(match.group(2))) < 1e-4
    assert log["train_seconds"] > 0 and abs(log["train_seconds"] - float(match.group(4))) < 0.06
    model = keras.models.load_model(tmp_path / "models" / "robust_quick.keras")
    assert model(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)
    assert log["model_bytes"] < 5e6
    assert not (ROOT / "models" / "robust_quick.keras").exists()


def test_select_scores_candidates_on_validation_only(tmp_path):
    lines = _run(tmp_path, "--quick", "--select", "fgsm_rs")
    assert lines[-2].startswith("fgsm_rs: val_accuracy=")
    assert lines[-1].startswith("the rule picks "), lines[-1]
    table = json.loads((tmp_path / "results" / "logs" / "robust_selection_quick.json").read_text())
    assert list(table) == ["fgsm_rs"]
    row = table["fgsm_rs"]
    assert {"val_accuracy", "val_fgsm_eps0.3", "val_pgd20_eps0.1", "val_pgd20_eps0.3"} <= set(row)
    assert not any(k.startswith("test") for k in row), "selection must not look at the test set"
