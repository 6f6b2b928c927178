"""benchmarks/inference.py runs end to end in its quick mode and prints its result line."""

import re
import subprocess
import sys

from helpers.paths import repo_root

LINE = re.compile(r"^latency_speedup=(?P<speedup>[\d.]+) size_ratio=(?P<size>[\d.]+) "
                  r"acc_drop_pts=(?P<drop>-?[\d.]+) int8_acc=(?P<acc>[\d.]+)$")


def test_inference_benchmark_quick_prints_its_line():
    script = repo_root() / "benchmarks" / "inference.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    match = LINE.match(lines[-1])
    assert match, lines[-1]
    # the quick mode's latencies mean nothing, but the files and the accuracies are real
    assert float(match["speedup"]) > 0
    assert float(match["size"]) >= 3.5  # int8 weights take a quarter of float32's bytes
    assert float(match["acc"]) >= 0.97 and abs(float(match["drop"])) <= 1.0
    table = [line for line in lines if line.startswith("mnist_cnn: LiteRT ")]
    assert [line.split()[2] for line in table] == ["float32", "dynamic", "int8", "float16"]
    knobs = [line for line in lines if line.startswith("mnist_cnn: knob ")]
    assert len(knobs) == 8
