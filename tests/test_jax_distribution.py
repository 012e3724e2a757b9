"""Keras's JAX distribution API (`keras.distribution`) with the zoo.

Each scenario trains the same small MLP with zoo_adam, zoo_nesterov and
zoo_lamb (per-variable norms: not element-wise) and, as the control,
Keras's own `keras.optimizers.Adam`, once on one device and once
distributed, and asserts the weights agree within float32 round-off:

- `DataParallel` over two forced host CPUs, one process;
- `ModelParallel` on a 2 x 2 ("batch", "model") mesh whose `LayoutMap`
  shards the Dense kernels along "model", where every slot variable of a
  variable's shape must also take that variable's sharding;
- `DataParallel` over two processes on 127.0.0.1 (two CPUs each, gloo
  collectives), each fed its half of every global batch by Keras's
  `distribute_dataset`.

This file is collected in a TensorFlow-backend session: every check runs in
a fresh process with `KERAS_BACKEND=jax` and the forced host device count
set before JAX starts.
"""

import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

_TIMEOUT = 300

# The model, the data and the comparison, shared by every child.
_PREAMBLE = textwrap.dedent("""
    import sys
    import numpy as np
    import jax
    import keras
    import keras_optim_zoo

    NAMES = ("zoo_adam", "zoo_nesterov", "zoo_lamb", "keras.Adam")
    EPS = float(np.finfo(np.float32).eps)
    # One device sums each gradient over its 16 examples in one order; the
    # distributed step sums a shard per device and all-reduces the partial
    # sums (and, under ModelParallel, LAMB's norms of a sharded kernel are
    # also partial sums): float32 round-off of a few ulp in each gradient,
    # which the updates carry (Adam's and LAMB's normalized step keeps it
    # relative) into the weights, once per step for 12 steps, with no time
    # to amplify it. Measured: at most 0.88 ulp of the weights' scale.
    TOLERANCE = 16 * EPS

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = rng.standard_normal((64, 2)).astype("float32")


    def make(name):
        if name == "keras.Adam":
            return keras.optimizers.Adam(learning_rate=0.05)
        return keras_optim_zoo.get(name, learning_rate=0.05)


    def train(name, distribution, data=None):
        \"\"\"(model, optimizer, initial weights, weights after 3 epochs).\"\"\"
        keras.distribution.set_distribution(distribution)
        try:
            keras.utils.set_random_seed(3)
            model = keras.Sequential(
                [keras.Input((6,)),
                 keras.layers.Dense(8, activation="tanh", name="dense_in"),
                 keras.layers.Dense(2, name="dense_out")], name="mlp")
            optimizer = make(name)
            model.compile(optimizer=optimizer, loss="mse")
            start = model.get_weights()
            if data is None:
                model.fit(x, y, batch_size=16, epochs=3, shuffle=False,
                          verbose=0)
            else:
                # Of unknown length once sharded: Keras warns at the end
                # of the first epoch that it "ran out of data" (it has
                # learnt the length); the step count is checked below.
                model.fit(data, epochs=3, shuffle=False, verbose=0)
        finally:
            keras.distribution.set_distribution(None)
        assert int(optimizer.iterations.numpy()) == 12, optimizer.iterations
        return model, optimizer, start, model.get_weights()


    def compare(name, distribution, devices, data=None):
        \"\"\"Trains on one device and distributed; asserts they agree.\"\"\"
        one, _, start_one, single = train(name, None)
        assert all(len(v.value.sharding.device_set) == 1
                   for v in one.trainable_variables)
        model, optimizer, start, multi = train(name, distribution, data)
        for v in model.trainable_variables:
            assert len(v.value.sharding.device_set) == devices, (
                v.path, v.value.sharding)
        for a, b in zip(start_one, start):
            np.testing.assert_array_equal(a, b)
        scale = max(1.0, max(float(np.abs(w).max()) for w in single))
        err = max(float(np.abs(a - b).max()) for a, b in zip(single, multi))
        print(f"{name} max relative difference {err / scale:.3g} "
              f"({err / scale / EPS:.2f} ulp)")
        assert err / scale <= TOLERANCE, (name, err / scale)
        return model, optimizer, multi
""")

_DATA_PARALLEL = _PREAMBLE + textwrap.dedent("""
    assert jax.device_count() == 2, jax.devices()
    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices())
    for name in NAMES:
        compare(name, distribution, devices=2)
""")


def test_data_parallel_matches_single_device(tmp_path):
    stdout = _run(tmp_path / "data_parallel.py", _DATA_PARALLEL, devices=2)
    print(stdout)
    assert stdout.count("max relative difference") == 4


_MODEL_PARALLEL = _PREAMBLE + textwrap.dedent("""
    from jax.sharding import PartitionSpec as P

    assert jax.device_count() == 4, jax.devices()
    mesh = keras.distribution.DeviceMesh((2, 2), ("batch", "model"))
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[".*dense.*kernel"] = (None, "model")
    distribution = keras.distribution.ModelParallel(
        layout_map=layout_map, batch_dim_name="batch")


    def slots_of(optimizer, variable):
        if isinstance(optimizer, keras_optim_zoo.ZooOptimizer):
            return optimizer.slot_variables(variable)
        # Keras's slots are named `<variable path, "/" as "_">_<slot>`.
        prefix = variable.path.replace("/", "_") + "_"
        return {v.name[len(prefix):]: v for v in optimizer.variables
                if v.name.startswith(prefix)}


    for name in NAMES:
        model, optimizer, _ = compare(name, distribution, devices=4)
        for var in model.trainable_variables:
            sharding = var.value.sharding
            expected = P(None, "model") if "kernel" in var.path else P(None)
            assert sharding.spec == expected, (var.path, sharding)
            slots = slots_of(optimizer, var)
            assert slots, (name, var.path)
            found = []
            for key, slot in slots.items():
                found.append(f"{key} {slot.value.sharding.spec}")
                if tuple(slot.shape) != tuple(var.shape):
                    continue
                assert slot.value.sharding.is_equivalent_to(
                    sharding, len(var.shape)), (
                    name, var.path, key, slot.value.sharding, sharding)
            print(f"layout {name} {var.path} {sharding.spec}: "
                  + ", ".join(found))
""")


def test_model_parallel_matches_and_slots_follow_layout(tmp_path):
    stdout = _run(tmp_path / "model_parallel.py", _MODEL_PARALLEL, devices=4)
    print(stdout)
    assert stdout.count("max relative difference") == 4
    assert stdout.count("layout ") == 4 * 4  # 4 optimizers x 4 variables


# One of two processes, each with two local CPUs: DataParallel over the
# four global devices. The single-device reference trains in the same
# process afterwards, with no distribution set (on its first local CPU).
_TWO_PROCESSES = _PREAMBLE + textwrap.dedent("""
    port, process_id, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # gloo is jax 0.10's default for CPU collectives across processes;
    # stated so that a changed default cannot turn this into a hang.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(
        job_addresses=f"127.0.0.1:{port}", num_processes=2,
        process_id=process_id)
    import tensorflow as tf

    assert jax.process_count() == 2 and jax.process_index() == process_id
    assert jax.device_count() == 4 and jax.local_device_count() == 2
    distribution = keras.distribution.DataParallel()
    assert distribution.num_processes == 2
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

    # What `fit` feeds this process (Keras's `distribute_dataset`: rebatch
    # to 8, every other batch): its half of each global batch of 16, the
    # other half coming from the other process. (Were both fed all 16, the
    # global batch would hold each example twice, with the same mean
    # gradient: equal weights alone would not show the split.)
    local = [b for b, _ in distribution.distribute_dataset(data)]
    assert len(local) == 4
    for step, batch in enumerate(local):
        first = 16 * step + 8 * process_id
        np.testing.assert_array_equal(batch.numpy(), x[first:first + 8])

    weights = {}
    for name in NAMES:
        _, _, multi = compare(name, distribution, devices=4, data=data)
        for i, w in enumerate(multi):
            weights[f"{name}/{i}"] = w
    np.savez(out, **weights)
    print("process", process_id, "done")
""")


def test_two_processes_match_single_process(tmp_path):
    script = tmp_path / "two_processes.py"
    script.write_text(_TWO_PROCESSES)
    with socket.socket() as sock:  # a free port for the coordinator
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _env(devices=2)
    procs, logs = [], []
    try:
        for i in range(2):
            log = open(tmp_path / f"process{i}.log", "w+")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(script),
                        str(port),
                        str(i),
                        str(tmp_path / f"weights{i}.npz"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=env,
                )
            )
        # Wait for both; one failing (the other would then wait for its
        # peer until JAX's own 5-minute timeouts) or the deadline passing
        # ends the other.
        deadline = time.monotonic() + _TIMEOUT
        while time.monotonic() < deadline:
            codes = [p.poll() for p in procs]  # every one, each time
            if None not in codes or any(c not in (None, 0) for c in codes):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        outputs = []
        for log in logs:
            log.seek(0)
            outputs.append(log.read())
            log.close()
    for i, (p, output) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"process {i}:\n{output[-6000:]}"
        assert output.count("max relative difference") == 4, output
        assert f"process {i} done" in output
    print(outputs[0])
    # The replicated weights, as each process holds them: the same all-
    # reduced values, bit for bit.
    with np.load(tmp_path / "weights0.npz") as a:
        with np.load(tmp_path / "weights1.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            assert len(a.files) == 4 * 4
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _env(devices):
    flags = os.environ.get("XLA_FLAGS", "")
    flags += f" --xla_force_host_platform_device_count={devices}"
    return dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",  # forced host devices even where a GPU is
        XLA_FLAGS=flags.strip(),
    )


def _run(script, text, devices):
    """Runs `text` as `script` in a fresh JAX process; its stdout."""
    script.write_text(text)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=_env(devices),
        timeout=_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout
