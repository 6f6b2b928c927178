import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from helpers import distribute
from helpers.distribute import (
    LOOPBACK,
    WorkerPlan,
    core_sets,
    describe_exit,
    free_ports,
    global_batches,
    launch,
    reachable,
    read_tf_config,
    tf_config,
)
from helpers.env import import_tensorflow

tf = import_tensorflow()

# ------------------------------------------------------------------ describing a cluster


def test_free_ports_are_distinct_and_bindable_on_loopback():
    import socket

    ports = free_ports(3)
    assert len(set(ports)) == 3
    for p in ports:
        with socket.socket() as s:
            s.bind((LOOPBACK, p))


def test_tf_config_round_trips():
    workers = ["127.0.0.1:5000", "127.0.0.1:5001"]
    for i in range(2):
        raw = tf_config(workers, i)
        assert json.loads(raw)["task"] == {"type": "worker", "index": i}
        assert read_tf_config({"TF_CONFIG": raw}) == (workers, i)


@pytest.mark.parametrize(("workers", "index", "match"), [
    ([], 0, "workers must be a non-empty list"),
    ("127.0.0.1:5000", 0, "workers must be a non-empty list"),
    (["127.0.0.1"], 0, "'host:port'"),
    (["127.0.0.1:5000"], 1, r"index must be an integer in \[0, 1\)"),
])
def test_tf_config_names_what_is_wrong(workers, index, match):
    with pytest.raises(ValueError, match=match):
        tf_config(workers, index)


def test_read_tf_config_refuses_missing_or_bad_json():
    with pytest.raises(ValueError, match="TF_CONFIG must be set"):
        read_tf_config({})
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON"):
        read_tf_config({"TF_CONFIG": '{"cluster": {}}'})


def test_reachable_tells_a_listening_port_from_a_closed_one():
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        s.listen()
        assert reachable(f"{LOOPBACK}:{s.getsockname()[1]}", timeout=2)
    (closed,) = free_ports(1)
    assert not reachable(f"{LOOPBACK}:{closed}", timeout=2)


def test_core_sets_split_the_cores_evenly():
    assert core_sets(2, [0, 1]) == [{0}, {1}]
    assert core_sets(2, [0, 1, 2, 3]) == [{0, 1}, {2, 3}]
    assert core_sets(2, [0]) == [{0}, {0}]  # fewer cores than workers: shared
    assert core_sets(3, [4, 5]) == [{4}, {5}, {4}]
    assert core_sets(1, [0, 1], per_worker=1) == [{0}]
    assert core_sets(1, [0, 1]) == [{0, 1}]
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        core_sets(0, [0])


def test_describe_exit():
    assert describe_exit(0) == "exit 0"
    assert describe_exit(3) == "exit 3"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(None) == "still running"


@pytest.mark.parametrize(("field", "value"), [
    ("epochs", 0), ("global_batch", 0), ("peak_lr", 0.0), ("peer_timeout", -1.0), ("max_steps", 0),
    ("model", "resnet"), ("log_every", 1.5),
])
def test_worker_plan_names_the_bad_field(field, value):
    with pytest.raises(ValueError, match=f"plan.{field}"):
        WorkerPlan(**{field: value})


def test_worker_plan_counts_steps():
    plan = WorkerPlan(epochs=2, global_batch=256, train_images=54_000)
    assert plan.steps_per_epoch() == 210
    assert plan.total_steps() == 420
    assert WorkerPlan(max_steps=7).total_steps() == 7


# ------------------------------------------------------------------ the input pipeline


def _arrays(n=100):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 2, 2, 1)
    return x, np.arange(n) % 10


def test_global_batches_drop_the_last_small_batch_and_cover_a_permutation():
    x, y = _arrays(100)
    batches = [tuple(t.numpy() for t in b) for b in global_batches(x, y, 32, seed=0, epoch=0)]
    assert [len(b[2]) for b in batches] == [32, 32, 32]
    idx = np.concatenate([b[2] for b in batches])
    assert len(set(idx)) == 96
    for xb, yb, ib in batches:
        np.testing.assert_array_equal(xb, x[ib])
        np.testing.assert_array_equal(yb, y[ib])


def test_global_batches_are_the_same_on_every_worker_and_resume_where_they_stopped():
    x, y = _arrays(100)

    def order(epoch, skip=0):
        return [b[2].numpy().tolist() for b in global_batches(x, y, 10, seed=3, epoch=epoch, skip=skip)]

    assert order(0) == order(0)  # what every worker computes
    assert order(0, skip=4) == order(0)[4:]  # after a restart at step 4
    assert order(1) != order(0)  # a new permutation each epoch


def test_global_batches_shard_by_data():
    x, y = _arrays(40)
    ds = global_batches(x, y, 8, seed=0, epoch=0)
    policy = ds.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA


def test_global_batches_refuse_bad_arguments():
    x, y = _arrays(10)
    with pytest.raises(ValueError, match="global_batch must be <= the number of images"):
        global_batches(x, y, 11, seed=0, epoch=0)
    with pytest.raises(ValueError, match="skip must be an integer >= 0"):
        global_batches(x, y, 2, seed=0, epoch=0, skip=-1)
    with pytest.raises(ValueError, match="same length"):
        global_batches(x, y[:5], 2, seed=0, epoch=0)


# ------------------------------------------------------------------ the custom step


def test_custom_step_takes_the_gradient_of_the_global_mean_loss():
    import keras

    from helpers.models import fast_cnn

    x = np.random.default_rng(0).random((32, 28, 28, 1), dtype=np.float32)
    y = np.arange(32) % 10
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = fast_cnn(width=2)
        opt = keras.optimizers.SGD(0.1)
    before = [w.numpy() for w in model.trainable_weights]
    step = distribute.make_train_step(strategy, model, opt, loss_fn, global_batch=32)
    ds = tf.data.Dataset.from_tensors((x, y, np.arange(32)))
    loss = float(step(iter(strategy.experimental_distribute_dataset(ds))))

    # the same step by hand: SGD on the mean loss over the batch
    ref = fast_cnn(width=2)
    ref.set_weights(before)
    with tf.GradientTape() as tape:
        mean = tf.reduce_mean(loss_fn(y, ref(x, training=True)))
    grads = tape.gradient(mean, ref.trainable_weights)
    assert loss == pytest.approx(float(mean), rel=1e-5)
    for w, w0, g in zip(model.trainable_weights, before, grads, strict=True):
        np.testing.assert_allclose(w.numpy(), w0 - 0.1 * g.numpy(), atol=1e-5)


# ------------------------------------------------------------------ one process, several replicas


def _python(code: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False, **kw)


def test_split_cpu_makes_logical_devices_and_must_come_first():
    out = _python("""
        from helpers.distribute import split_cpu
        print(split_cpu(2))
        print(split_cpu(2))  # again, same n: the same devices
        try:
            split_cpu(3)
        except RuntimeError as err:
            print("refused:", err)
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == lines[1] == "['/device:CPU:0', '/device:CPU:1']"
    assert lines[2].startswith("refused: split_cpu(3) must run before TensorFlow initialises its devices")


# ------------------------------------------------------------------ the watchdog


def test_watchdog_ends_a_process_stuck_holding_the_interpreter_lock():
    # a catastrophic regular expression: minutes inside C code that never lets go of the
    # interpreter lock, like a collective waiting for a peer; no thread could interrupt it
    (silent,) = free_ports(1)
    start = time.monotonic()
    stuck = _python(f"""
        import re
        from helpers.distribute import Watchdog
        dog = Watchdog.start()
        dog.arm(1.0, "error: nobody came; no answer from {{silent}}", 7, probe=["{LOOPBACK}:{silent}"])
        re.match(r"(a+)+$", "a" * 40 + "b")
        print("not reached")
    """, timeout=60)
    assert stuck.returncode == 7
    assert stuck.stdout.strip() == f"error: nobody came; no answer from {LOOPBACK}:{silent}"
    assert time.monotonic() - start < 20


def test_watchdog_spares_a_kicked_process_and_passes_on_its_exit():
    kicked = _python("""
        import sys, time
        from helpers.distribute import Watchdog
        dog = Watchdog.start()
        dog.arm(0.6, "error: nobody came", 7)
        for _ in range(10):
            time.sleep(0.2)
            dog.kick()
        dog.disarm()
        time.sleep(1)
        print("finished", flush=True)
        sys.exit(4)
    """, timeout=20)
    assert kicked.returncode == 4 and kicked.stdout.strip() == "finished"
    killed = _python("""
        import os, signal
        from helpers.distribute import Watchdog
        Watchdog.start()
        os.kill(os.getpid(), signal.SIGKILL)
    """, timeout=20)
    assert killed.returncode == -9  # the watcher dies the way its child did


# ------------------------------------------------------------------ the launcher, on stand-in workers

#: A stand-in worker: prints its index, pid and address, then "step k/8" lines, and keeps its
#: progress in a file, as a checkpoint would; it starts from the saved step after a restart.
FAKE_WORKER = """
import json, os, sys, time
cfg = json.loads(os.environ["TF_CONFIG"])
i = cfg["task"]["index"]
me, cores = cfg["cluster"]["worker"][i], sorted(os.sched_getaffinity(0))
print(f"index={i} pid={os.getpid()} me={me} affinity={cores}")
state = os.path.join(sys.argv[1], f"state{i}")
start = int(open(state).read()) if os.path.exists(state) else 0
if start:
    print(f"worker {i}: resumed from step {start}")
mode = sys.argv[2]
if mode == "fail":
    sys.exit(1)
if mode == "hang":
    time.sleep(600)
for step in range(start + 1, 9):
    time.sleep(0.05)
    print(f"worker {i}: step {step}/8", flush=True)
    if step % 3 == 0:
        open(state, "w").write(str(step))
"""


def _fake(tmp_path, mode="ok"):
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    return [sys.executable, str(script), str(tmp_path), mode]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not alive
        return f.read().split()[2] != "Z"


def _pids(report):
    return [int(line.split("pid=")[1].split()[0]) for line in report.lines if "pid=" in line]


def test_launch_gives_each_worker_its_own_tf_config_on_loopback(tmp_path):
    seen = []
    report = launch(_fake(tmp_path), 2, log_dir=tmp_path / "logs", echo=seen.append,
                    affinity=core_sets(2))
    assert report.ok and report.restarts == 0
    me = sorted(line.split("me=")[1].split()[0] for line in report.lines if "me=" in line)
    assert me == sorted(f"{LOOPBACK}:{p}" for p in report.attempts[0].ports)
    assert any(line.startswith("[worker 0] worker 0: step 8/8") for line in seen)
    assert any(line.startswith("[worker 1] worker 1: step 8/8") for line in seen)
    affinity = [line.split("affinity=")[1] for line in report.lines if "affinity=" in line]
    assert len(affinity) == 2
    if len(os.sched_getaffinity(0)) >= 2:
        assert affinity[0] != affinity[1], "pinned workers should get different cores"
    assert not any(_alive(p) for p in _pids(report))


def test_launch_restarts_after_a_killed_worker_and_resumes(tmp_path):
    report = launch(_fake(tmp_path), 2, log_dir=tmp_path / "logs", kill_at=4, echo=lambda s: None)
    assert report.ok and report.restarts == 1
    first = report.attempts[0]
    assert first.killed == 1 and first.exit_codes[1] == -9
    assert any("killed worker 1 (SIGKILL)" in line for line in report.lines)
    assert any("restarting the cluster" in line for line in report.lines)
    assert any(line.endswith("worker 1: resumed from step 3") for line in report.lines)
    assert not any(_alive(p) for p in _pids(report))


def test_launch_gives_up_after_max_restarts(tmp_path):
    report = launch(_fake(tmp_path, "fail"), 2, log_dir=tmp_path / "logs", max_restarts=1,
                    echo=lambda s: None)
    assert not report.ok
    assert len(report.attempts) == 2
    assert report.lines[-1] == "launcher: giving up after 2 attempt(s)"


def test_launch_stops_hung_workers_at_the_timeout(tmp_path):
    start = time.monotonic()
    report = launch(_fake(tmp_path, "hang"), 2, log_dir=tmp_path / "logs", timeout=3, echo=lambda s: None)
    assert not report.ok
    assert time.monotonic() - start < 3 + 15
    assert any("no result after 3 s" in line for line in report.lines)
    assert not any(_alive(p) for p in _pids(report))


def test_launch_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="command must be a non-empty list"):
        launch("python worker.py", 2, log_dir=tmp_path)
    with pytest.raises(ValueError, match=r"kill_worker must be in \[0, 2\)"):
        launch(_fake(tmp_path), 2, log_dir=tmp_path, kill_at=3, kill_worker=2)


def test_workers_die_with_their_launcher(tmp_path):
    """SIGKILL the launcher itself: the kernel ends its workers (no orphans)."""
    code = f"""
        import sys
        from helpers.distribute import launch
        launch({_fake(tmp_path, 'hang')!r}, 2, log_dir={str(tmp_path / 'logs')!r},
               echo=lambda s: print(s, flush=True))
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    pids = []
    while len(pids) < 2:
        line = proc.stdout.readline()
        assert line, "the launcher ended before both workers started"
        if "pid=" in line:
            pids.append(int(line.split("pid=")[1].split()[0]))
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


# ------------------------------------------------------------------ loopback only


def test_the_private_namespace_has_only_the_loopback():
    prefix = distribute.loopback_only_prefix()
    if not prefix:
        pytest.skip("this system does not allow a private network namespace")
    out = subprocess.run([*prefix, sys.executable, "-c",
                          "import os, socket; print(sorted(n for _, n in socket.if_nameindex()), "
                          "os.environ.get('CNN_BOOK_NETNS'))"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['lo'] 1"


def test_parse_result_reads_numbers_booleans_and_words():
    line = "workers=2 global_batch=256 test_acc=0.9871 wall_s=41.2 weights_equal=True knee=cnn_w1_d4 x"
    assert distribute.parse_result(line) == {"workers": 2, "global_batch": 256, "test_acc": 0.9871,
                                             "wall_s": 41.2, "weights_equal": True, "knee": "cnn_w1_d4"}
    assert distribute.parse_result("images_per_s=11033 (all workers)") == {"images_per_s": 11033}


def test_script_run_finds_values_in_its_lines():
    run = distribute.ScriptRun(0, ["images_per_s=10 (x)", "a=1", "images_per_s=12", "workers=2 ok=True"], 1.0)
    assert run.value("images_per_s") == 12
    assert run.result == {"workers": 2, "ok": True}
    assert run.find("a=") == ["a=1"]
    with pytest.raises(KeyError, match="no line of the run reports nope"):
        run.value("nope")
