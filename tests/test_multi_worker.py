"""Multi-worker training on loopback, and `BackupAndRestore`'s exact resume.

1. Two worker processes (`TF_CONFIG` on 127.0.0.1) run
   `MultiWorkerMirroredStrategy` in a custom loop (`strategy.run` of a
   `GradientTape` step that calls `apply_gradients`); each worker ends with
   the weights of one process training on the same global batches, and
   both workers with the same weights. Keras's own Adam runs the same loop
   as the control. (`model.fit` itself does not run under this strategy in
   Keras 3.15: it fails before its first step, in `_maybe_symbolic_build`,
   with "Attempt to convert a value (PerReplica:{...}) with an unsupported
   type (<class '...PerReplica'>) to a Tensor", keras-team/keras#20585; so
   the loop is a custom one.)
2. `model.fit` with `BackupAndRestore`, interrupted part-way in one process
   and resumed in a second, fresh one, ends exactly where an uninterrupted
   fit does: the weights, every optimizer variable and the step count.

Each part runs its processes once (a module fixture); the tests compare
what they wrote. Every process has a timeout and none outlives its
fixture.
"""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

_TIMEOUT = 300  # seconds, for each process (they take a few)
_EPS = float(np.finfo(np.float32).eps)

# ---------------------------------------------------------------------------
# 1. MultiWorkerMirroredStrategy, two workers on loopback.

# The learning-rate-free optimizers estimate `d` from sums over all the
# variables (`reduce`), which must see the gradients summed over the
# workers. Before the fix `ZooOptimizer._begin_step` ran `reduce` on the
# replica's own gradients (Keras all-reduces them later, in
# `TFOptimizer._backend_update_step`), and each worker took its own steps
# (measured for zoo_dadapt_adamw: `d` 5.2e-4 on worker 0, 3.8e-3 on
# worker 1, 6.3e-3 on one device; the workers' weights 3.3e-3 apart);
# MirroredStrategy on one machine did the same. Now the sum comes first
# (`ZooOptimizer._replica_update`): 0.13 ulp from one device.

# name -> learning rate. "keras_adam" is keras.optimizers.Adam, the control.
_MULTI = {
    "zoo_adam": 0.05,
    "zoo_nesterov": 0.05,
    "zoo_lamb": 0.05,  # norms over each whole variable: not element-wise
    "keras_adam": 0.05,
    "zoo_dadapt_adamw": 1.0,  # their default: the estimate does the rest
    "zoo_prodigy": 1.0,
}

# The training both kinds of process run: `strategy.run` of one step on
# this replica's slice of each global batch of 16 (replica i of n takes
# examples [16 i/n, 16 (i+1)/n) of it), the loss summed over the slice and
# divided by the global batch, so that the gradients summed over replicas
# are those of the global batch's mean. 2 epochs of 4 batches: 8 steps.
_TRAIN = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import tensorflow as tf

    def strategy():
        if "TF_CONFIG" not in os.environ:
            return tf.distribute.get_strategy()
        # A collective that waits longer than this fails (the test kills
        # both workers at its own timeout anyway).
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=120)
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options)

    STRATEGY = strategy()  # first: it starts this worker's server
    import keras
    import keras_optim_zoo

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = rng.standard_normal((64, 2)).astype("float32")
    GLOBAL = 16

    def build(name, rate, jit_compile):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(2)])
        if name == "keras_adam":
            opt = keras.optimizers.Adam(learning_rate=rate)
        else:
            opt = keras_optim_zoo.get(
                name, learning_rate=rate, jit_compile=jit_compile)
        opt.build(model.trainable_variables)
        return model, opt

    def train(strategy, name, rate, jit_compile=True):
        with strategy.scope():
            model, opt = build(name, rate, jit_compile)
        n = strategy.num_replicas_in_sync
        part = GLOBAL // n

        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                per_example = tf.reduce_sum(tf.square(model(xb) - yb), -1)
                loss = tf.nn.compute_average_loss(
                    per_example, global_batch_size=GLOBAL)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))

        @tf.function
        def step(xb, yb):
            strategy.run(replica_step, args=(xb, yb))

        def batch(data, start):
            def value(ctx):  # on each replica, its slice
                lo = start + ctx.replica_id_in_sync_group * part
                return tf.constant(data[lo:lo + part])
            return strategy.experimental_distribute_values_from_function(
                value)

        for epoch in range(2):
            for start in range(0, len(x), GLOBAL):
                step(batch(x, start), batch(y, start))
        return model.get_weights(), int(opt.iterations.numpy())

    out, rates = sys.argv[1], json.loads(sys.argv[2])
    if "TF_CONFIG" in os.environ:
        task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        assert STRATEGY.num_replicas_in_sync == 2
        runs = {f"worker{task}": {}}
    else:
        # One device: the optimizer as built (zoo: compiled kernels), and
        # op by op (jit_compile=False), the arithmetic that the zoo runs
        # on each replica under a strategy.
        runs = {"compiled": {}, "op_by_op": {"jit_compile": False}}
    for run, options in runs.items():
        for name, rate in rates.items():
            weights, steps = train(STRATEGY, name, rate, **options)
            np.savez(os.path.join(out, f"{name}.{run}.npz"), *weights,
                     iterations=steps)
            print(run, name, "done", flush=True)
""")


def _free_ports(count):
    """`count` distinct free loopback ports (bound to port 0, then closed)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM)]
    try:
        for _ in range(count - 1):
            sockets.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _env(**extra):
    # CPU only: both workers and the single process on the same kind of
    # device (and no two processes claiming one GPU).
    env = dict(
        os.environ,
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="-1",
    )
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run_together(commands, root):
    """Runs `{label: (argv, env)}` at once; all end, or are killed, here.

    Stops waiting when one fails (its peer would wait on it until the
    collective timeout) or at `_TIMEOUT`; whatever still runs is killed.
    """
    procs, logs = {}, {}
    try:
        for label, (argv, env) in commands.items():
            logs[label] = open(root / f"{label}.log", "w+")
            procs[label] = subprocess.Popen(
                argv, env=env, stdout=logs[label], stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + _TIMEOUT
        while time.monotonic() < deadline:
            codes = [p.poll() for p in procs.values()]
            if all(c is not None for c in codes) or any(codes):
                break
            time.sleep(0.1)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        for f in logs.values():
            f.close()
    failed = {label: p.returncode for label, p in procs.items() if p.returncode}
    assert not failed, (failed, _tails(root, commands))


def _tails(root, labels):
    return {
        label: (root / f"{label}.log").read_text()[-3000:] for label in labels
    }


@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory):
    """Runs the two workers and the single process; `load(name, run)`."""
    root = tmp_path_factory.mktemp("multi_worker")
    script = root / "train.py"
    script.write_text(_TRAIN)
    argv = [sys.executable, str(script), str(root), json.dumps(_MULTI)]
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    commands = {"single": (argv, _env())}
    for index in range(2):
        config = {
            "cluster": {"worker": addresses},
            "task": {"type": "worker", "index": index},
        }
        commands[f"worker{index}"] = (
            argv,
            _env(TF_CONFIG=json.dumps(config)),
        )
    _run_together(commands, root)

    def load(name, run):
        with np.load(root / f"{name}.{run}.npz") as f:
            weights = [f[f"arr_{i}"] for i in range(len(f.files) - 1)]
            return weights, int(f["iterations"])

    return load


def _relative(a, b):
    """max |a - b| over the weights, relative to max |b|."""
    scale = max(1.0, max(float(np.abs(w).max()) for w in b))
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b)) / scale


# Each worker sums the gradients of its half of the batch and the
# all-reduce adds the two halves: another order of float32 additions than
# one device's sum over the whole batch, so the gradients differ by about
# an ulp, and Adam's, Nesterov's and LAMB's steps carry that through the 8
# steps (against the compiled kernels, XLA's fused arithmetic adds its
# own). Measured, relative to the largest weight: zoo_adam 1.5 ulp (op by
# op) / 2.5 (compiled), zoo_nesterov 0.75 / 0.75, zoo_lamb 0.5 / 1.5,
# keras_adam 1.5 / 1.5. 8 ulp leaves 3x; a missing all-reduce or a loss
# not divided by the global batch (Nesterov is not scale invariant) is
# off by orders of magnitude more.
_ULPS = 8


@pytest.mark.parametrize(
    "name",
    [
        "zoo_adam",
        "zoo_nesterov",
        "zoo_lamb",
        "keras_adam",
        "zoo_dadapt_adamw",
        "zoo_prodigy",
    ],
)
def test_multi_worker_matches_one_process(multi_worker, name):
    (w0, steps0), (w1, steps1) = (
        multi_worker(name, f"worker{i}") for i in range(2)
    )
    assert steps0 == steps1 == 8
    # Each worker applies the same summed gradients to the same weights.
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    for run in ("op_by_op", "compiled"):
        single, steps = multi_worker(name, run)
        assert steps == 8
        for w in (w0, w1):
            err = _relative(w, single)
            print(f"{name} vs one process ({run}): {err / _EPS:.3g} ulp")
            assert err < _ULPS * _EPS, (name, run, err / _EPS)


def test_zoo_adam_matches_keras_adam_multi_worker(multi_worker):
    # The control: the zoo's Adam and Keras's under the same strategy and
    # loop (the same rule, op by op on each replica).
    zoo, _ = multi_worker("zoo_adam", "worker0")
    keras_adam, _ = multi_worker("keras_adam", "worker0")
    err = _relative(zoo, keras_adam)
    print(f"zoo_adam vs keras Adam, multi-worker: {err / _EPS:.3g} ulp")
    assert err < _ULPS * _EPS, err / _EPS


# ---------------------------------------------------------------------------
# 2. BackupAndRestore: interrupted in one process, resumed in another.

# Keras 3.15's BackupAndRestore restores the epoch it recorded, not the
# batch: with an integer `save_freq` a backup made part-way through an
# epoch is resumed from that epoch's first batch with the later weights
# (measured with Keras's Adam too: 4 batches replayed, 28 steps for 24).
# So the backups are made each epoch ("epoch"), and the interruption comes
# part-way through epoch 2 (after batch 3 of 6): the 4 steps taken since
# the last backup are lost and redone.
_RESUME = textwrap.dedent("""
    import json, os, re, sys
    import numpy as np
    import keras
    import keras_optim_zoo

    phase, root = sys.argv[1], sys.argv[2]
    cases = json.loads(sys.argv[3])
    rng = np.random.default_rng(7)
    x = rng.standard_normal((48, 5)).astype("float32")
    y = rng.standard_normal((48, 3)).astype("float32")
    FIT = dict(batch_size=8, epochs=4, shuffle=False, verbose=0)

    def optimizer(kind):
        # The schedule reads the step counter: a resume that lost it
        # would take other steps.
        lr = keras.optimizers.schedules.ExponentialDecay(
            0.05, decay_steps=3, decay_rate=0.8)
        if kind == "keras_adam":
            return keras.optimizers.Adam(learning_rate=lr)
        adam = keras_optim_zoo.get("zoo_adam", learning_rate=lr)
        if kind == "zoo_adam":
            return adam
        # Synchronizes at steps 5, 10, 15, 20: the backup at step 12 holds
        # slow weights that are not the fast ones.
        assert kind == "zoo_lookahead", kind
        return keras_optim_zoo.get(
            "zoo_lookahead", optimizer=adam, sync_period=5)

    def model(kind, jit_compile):
        keras.utils.set_random_seed(1)
        m = keras.Sequential([
            keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3)])
        m.compile(optimizer=optimizer(kind), loss="mse",
                  jit_compile=jit_compile)
        return m

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (2, 3):
                raise RuntimeError("interrupted")

    class Count(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs, self.batches = [], 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(epoch)

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

    def save(m, path, **extra):
        opt = m.optimizer
        values = {f"weight_{i}": w for i, w in enumerate(m.get_weights())}
        values.update({f"optimizer_{i}": np.asarray(v)
                       for i, v in enumerate(opt.variables)})
        # Names without Keras's instance counters (sequential_1, adam_2).
        names = [re.sub(r"_[0-9]+", "", v.name) for v in opt.variables]
        np.savez(path, iterations=int(opt.iterations), names=names,
                 **values, **extra)

    for kind, jit_compile in cases:
        tag = f"{kind}-jit{jit_compile}"
        backup = os.path.join(root, tag + ".backup")
        if phase == "first":
            m = model(kind, jit_compile)
            m.fit(x, y, **FIT)
            save(m, os.path.join(root, tag + ".whole.npz"))
            m = model(kind, jit_compile)
            try:
                m.fit(x, y, callbacks=[
                    keras.callbacks.BackupAndRestore(backup), Interrupt()],
                    **FIT)
            except RuntimeError as error:
                assert str(error) == "interrupted", error
            else:
                raise AssertionError("not interrupted")
            # 12 steps backed up, 4 more taken and lost.
            assert int(m.optimizer.iterations) == 16
            assert sorted(os.listdir(backup)) == [
                "latest.weights.h5", "training_metadata.json"]
        else:
            m = model(kind, jit_compile)
            count = Count()
            m.fit(x, y, callbacks=[
                keras.callbacks.BackupAndRestore(backup), count], **FIT)
            save(m, os.path.join(root, tag + ".resumed.npz"),
                 epochs=count.epochs, batches=count.batches,
                 backup_left=os.path.exists(backup))
        print(phase, tag, "done", flush=True)
""")

_RESUME_CASES = [
    (kind, jit_compile)
    for kind in ("zoo_adam", "zoo_lookahead", "keras_adam")
    for jit_compile in (False, True)
]


@pytest.fixture(scope="module")
def backup_and_restore(tmp_path_factory):
    """Fits uninterrupted and interrupted in one process, resumes in a
    second; `load(kind, jit_compile)` gives both runs' saved values."""
    root = tmp_path_factory.mktemp("backup_and_restore")
    script = root / "resume.py"
    script.write_text(_RESUME)
    for phase in ("first", "second"):
        proc = subprocess.run(
            [
                sys.executable,
                str(script),
                phase,
                str(root),
                json.dumps(_RESUME_CASES),
            ],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=_TIMEOUT,
        )
        assert proc.returncode == 0, (
            phase,
            proc.stdout[-2000:] + proc.stderr[-4000:],
        )

    def load(kind, jit_compile):
        tag = f"{kind}-jit{jit_compile}"
        with np.load(root / f"{tag}.whole.npz") as whole:
            with np.load(root / f"{tag}.resumed.npz") as resumed:
                return dict(whole), dict(resumed)

    return load


@pytest.mark.parametrize("kind,jit_compile", _RESUME_CASES)
def test_backup_and_restore_resumes_exactly(
    backup_and_restore, kind, jit_compile
):
    whole, resumed = backup_and_restore(kind, jit_compile)
    # The second fit restored the backup of epoch 1's end: it ran epochs
    # 2 and 3 only (12 batches), and deleted the backup when done.
    assert list(resumed.pop("epochs")) == [2, 3]
    assert int(resumed.pop("batches")) == 12
    assert not bool(resumed.pop("backup_left"))
    assert int(whole["iterations"]) == int(resumed["iterations"]) == 24
    assert list(whole["names"]) == list(resumed["names"])
    assert sorted(whole) == sorted(resumed)
    keys = [k for k in whole if re.fullmatch(r"(weight|optimizer)_\d+", k)]
    assert any(k.startswith("optimizer_") for k in keys)
    worst = 0.0
    for key in keys:
        # Bit for bit: the same arithmetic on the same restored state.
        np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)
        diff = np.abs(resumed[key].astype("float64") - whole[key])
        worst = max(worst, float(diff.max(initial=0.0)))
    print(
        f"{kind} jit_compile={jit_compile}: {len(keys)} arrays, "
        f"max difference {worst}"
    )
