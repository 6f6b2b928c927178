"""benchmarks/train_accurate.py --quick: the script runs end to end and writes what it promises.

It runs in a fresh process with $CNN_BOOK_OUTPUT pointing at a temporary folder, so the
committed model and log stay untouched.
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


def test_quick_run_writes_model_and_log(tmp_path):
    env = {**os.environ, "CNN_BOOK_OUTPUT": str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_accurate.py"), "--quick"],
                         capture_output=True, text=True, env=env, timeout=900, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test_acc=(0\.\d{4}|1\.0000) train_s=(\d+\.\d) epochs=1 params=(\d+)", last)
    assert match, f"unexpected last line: {last!r}"
    log = json.loads((tmp_path / "results" / "logs" / "accurate_quick.json").read_text())
    assert len(log["history"]["val_accuracy"]) == len(log["epoch_seconds"]) == 1
    assert log["params"] == int(match.group(3)) and log["train_images"] == 1024
    assert abs(log["test_accuracy"] - float(match.group(1))) < 1e-4
    model = keras.models.load_model(tmp_path / "models" / "accurate_quick.keras")
    assert model(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)
    assert not (ROOT / "models" / "accurate_quick.keras").exists()
