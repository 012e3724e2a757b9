"""MirroredStrategy over two logical CPUs gives the single-device weights."""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

# Two logical CPUs (before TensorFlow starts), and the data.
_PREAMBLE = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import keras_optim_zoo

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = rng.standard_normal((64, 2)).astype("float32")
""")

_SCRIPT = _PREAMBLE + textwrap.dedent("""

    def train(name, strategy, jit):
        with strategy.scope():
            keras.utils.set_random_seed(3)
            model = keras.Sequential([
                keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(2)])
            # Prodigy's own default rate: its estimate `d` does the rest.
            rate = 1.0 if name == "zoo_prodigy" else 0.05
            model.compile(optimizer=keras_optim_zoo.get(name,
                          learning_rate=rate), loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return model.get_weights()

    name = sys.argv[1]
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    single = train(name, tf.distribute.get_strategy(), False)
    multi = train(name, mirrored, False)
    scale = max(1.0, max(float(np.abs(w).max()) for w in single))
    err = max(float(np.abs(a - b).max()) for a, b in zip(single, multi))
    print("max relative difference", err / scale)
    # Each replica sums half the batch; the all-reduce adds the halves in
    # another order than one device does: float32 round-off, a few ulp,
    # carried through 12 steps of training.
    assert err / scale < 32 * np.finfo(np.float32).eps, err / scale

    # A step's scalars (`_context`: the hyper-parameters read from their
    # variables) are computed once per replica device, not once per
    # variable (before: once for each of the 4 variables on each replica,
    # which made fit under the strategy slower than Keras's).
    with mirrored.scope():
        model = keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(8), keras.layers.Dense(2)])
        opt = keras_optim_zoo.get(name)
        opt.build(model.trainable_variables)
    calls = []
    context = type(opt)._context
    type(opt)._context = lambda self, lr: calls.append(1) or context(self, lr)

    @tf.function
    def step():
        def apply():
            opt.apply_gradients(
                [(tf.ones(v.shape), v) for v in model.trainable_variables])
        mirrored.run(apply)

    step()
    # One per replica in update_step, and one per replica in _begin_step
    # for an optimizer that reduces over the variables or updates a global
    # state first (Prodigy's sums, Nadam's product of momenta).
    first = type(opt).reduce is not None or bool(opt._globals)
    bound = 2 * (2 if first else 1)
    assert len(calls) <= bound, (len(calls), bound)
    print("scalars once per replica")
""")


# zoo_prodigy: its `reduce` (sums over all variables) must read the
# gradients summed over the replicas; before the fix each replica
# estimated its own `d` from its half of the batch.
@pytest.mark.parametrize(
    "name", ["zoo_adam", "zoo_nesterov", "zoo_nadam", "zoo_prodigy"]
)
def test_mirrored_matches_single_device(tmp_path, name):
    stdout = _run(tmp_path / "mirrored.py", _SCRIPT, name)
    assert "max relative difference" in stdout
    assert "scalars once per replica" in stdout


# An optimizer built inside the strategy's scope and applied outside it
# (a custom loop, eager and in a tf.function): its variables are mirrored,
# so the single-device kernels cannot update them (before the fix:
# "Trying to access resource .../replica_1/..."); it takes Keras's
# per-replica path, where each replica's copies are updated by the same
# XLA kernels (`ZooOptimizer._kernel_update`), bit for bit what the zoo
# computes on one device; and with `jit_compile=False` op by op, bit for
# bit the zoo op by op on one device. Every variable takes a kernel here
# (`INLINE_SIZE = 0`: the model's variables are all small).
_OUTSIDE = _PREAMBLE + textwrap.dedent("""
    from keras_optim_zoo.core import base
    base.INLINE_SIZE = 0

    def train(name, strategy, traced, jit_compile=True):
        with strategy.scope():
            keras.utils.set_random_seed(3)
            model = keras.Sequential([
                keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(2)])
            opt = keras_optim_zoo.get(
                name, learning_rate=0.05, jit_compile=jit_compile)
            opt.build(model.trainable_variables)

        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xb) - yb))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))

        if traced:
            step = tf.function(step)
        for i in range(0, 64, 16):
            step(x[i:i + 16], y[i:i + 16])
        assert bool(opt._kernels) == jit_compile, (jit_compile, opt._kernels)
        return model.get_weights()

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one = tf.distribute.get_strategy()
    for name in sys.argv[1:]:
        for traced in (False, True):
            for jit in (True, False):
                multi = train(name, mirrored, traced, jit)
                single = train(name, one, traced, jit)
                for a, b in zip(multi, single):
                    np.testing.assert_array_equal(a, b)
            print(name, traced, "mirrored equals one device")
""")


def test_built_inside_the_scope_applied_outside(tmp_path):
    stdout = _run(
        tmp_path / "outside.py",
        _OUTSIDE,
        "zoo_adam",
        "zoo_nesterov",
        "zoo_soap",
    )
    assert stdout.count("mirrored equals one device") == 6


def _run(script, text, *args):
    """Runs `text` as `script` with `args` in a fresh process; its stdout."""
    script.write_text(text)
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout
