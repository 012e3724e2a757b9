"""The contract every registered optimizer meets (one suite, no name lists).

Each test takes `optimizer_name`, parameterized over
`keras_optim_zoo.list_optimizers()` by conftest.py; what an optimizer
supports is read from its class attributes.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_optim_zoo
from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.base import COMMON_HYPERPARAMETERS
from tests.reference import keras_parity

F32_EPS = float(np.finfo(np.float32).eps)


def relative_error(a, b):
    if not b:
        return 0.0
    scale = max(1.0, max(float(np.max(np.abs(x))) for x in b))
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b)) / scale


# Steps per calling mode. Where the zoo and Keras run the same arithmetic
# op for op ("uncompiled": Keras's own kernels on both sides, asserted equal
# to 1 ulp), few steps show it; the round-off checks over 100 steps are
# the other modes'.
STEPS = {"uncompiled": 20, "eager": 100, "function": 100, "xla": 100}
# Keras's run each zoo calling mode is compared with. A zoo optimizer
# called eagerly runs one traced graph of the same XLA kernels as inside
# `tf.function`, so both are compared with Keras inside `tf.function`
# (Keras's own kernels op by op, as when it runs eagerly, and twenty times
# faster); "uncompiled" with Keras called eagerly.
KERAS_MODE = {
    "uncompiled": "eager",
    "eager": "function",
    "function": "function",
    "xla": "xla",
}
# JAX and torch: the same mode on both sides (JAX's "jit": both XLA).
if keras_parity.BACKEND != "tensorflow":
    STEPS = dict.fromkeys(keras_parity.MODES, 100)
    KERAS_MODE = {m: m for m in keras_parity.MODES}
# A mode whose step runs inside the backend's compiled function.
COMPILED = {"tensorflow": "function", "jax": "jit", "torch": "eager"}[
    keras_parity.BACKEND
]
# Keras's weights per (twin config, calling mode, steps).
_KERAS_RUNS = {}


def keras_run(ref, mode, steps):
    key = (
        type(ref).__name__,
        repr(keras.saving.serialize_keras_object(ref)),
        mode,
        steps,
    )
    if key not in _KERAS_RUNS:
        grads, init = keras_parity.gradients(steps), keras_parity.initial()
        ref = keras_parity.generic(ref)
        _KERAS_RUNS[key] = keras_parity.run(ref, mode, grads, init)[0]
    return _KERAS_RUNS[key]


def keras_self_difference(zoo, steps=100):
    """Keras's twin XLA-compiled against itself op by op."""
    return relative_error(
        keras_run(zoo.keras_twin(), "xla", steps),
        keras_run(zoo.keras_twin(), "function", steps),
    )


def twin_runs(name, kwargs, mode, learning_rate):
    zoo = keras_optim_zoo.get(
        name,
        learning_rate=learning_rate,
        jit_compile=(mode != "uncompiled"),
        **kwargs,
    )
    steps = STEPS[mode]
    grads, init = keras_parity.gradients(steps), keras_parity.initial()
    a, _ = keras_parity.run(zoo, mode, grads, init)
    return a, keras_run(zoo.keras_twin(), KERAS_MODE[mode], steps)


@pytest.mark.parametrize("schedule", [False, True], ids=["constant", "decay"])
@pytest.mark.parametrize("mode", keras_parity.MODES)
def test_matches_keras_builtin(optimizer_class, optimizer_name, mode, schedule):
    if optimizer_class.keras_equivalent is None:
        pytest.skip("no Keras built-in computes this algorithm")
    lr = keras_parity.exponential_decay() if schedule else 0.05
    for kwargs in keras_parity.variants(optimizer_class):
        a, b = twin_runs(optimizer_name, kwargs, mode, lr)
        if mode in ("uncompiled", "xla", "jit") or (
            keras_parity.BACKEND != "tensorflow"
        ):
            # Same arithmetic, op for op: Keras's own kernels when neither
            # is compiled, and the same XLA fusion when both are.
            # (One exception measured: AdamW under XLA, where Keras's
            # separate weight-decay assign fuses differently: 1 ulp.) On
            # JAX and torch both sides run the same mode.
            assert relative_error(a, b) <= F32_EPS, kwargs
        else:
            # XLA-compiled zoo against Keras op by op: XLA contracts
            # a * b + c into one fused multiply-add (one rounding instead
            # of two). Measured over 100 steps: at most 1.2e-7 relative
            # (1.9e-6 absolute on weights of size ~20).
            err = relative_error(a, b)
            if err > 4 * F32_EPS:
                # Where Keras compiled disagrees with Keras op by op by
                # more (Ftrl: TF's op-by-op `pow` is off by up to 1.4 ulp,
                # XLA's by 0.5, and Ftrl subtracts two close powers;
                # measured 4.3 ulp), the zoo may differ by as much.
                zoo = keras_optim_zoo.get(
                    optimizer_name, learning_rate=lr, **kwargs
                )
                err -= keras_self_difference(zoo)
            assert err <= 4 * F32_EPS, kwargs


def test_moves_toward_minimum(optimizer_name):
    # Every optimizer, with its defaults, decreases a convex quadratic.
    target = np.linspace(-1, 1, 12).astype("float32").reshape(3, 4)
    var = keras.Variable(np.zeros((3, 4), "float32"))
    opt = keras_optim_zoo.get(optimizer_name, learning_rate=0.1)
    losses = []
    for _ in range(30):
        residual = ops.convert_to_numpy(var) - target
        losses.append(float(np.sum(residual**2)))
        opt.apply_gradients([(ops.convert_to_tensor(2.0 * residual), var)])
    # Descent, not speed: Adadelta's first steps scale with sqrt(epsilon).
    assert losses[-1] < losses[0]


def test_config_round_trip(optimizer_class, optimizer_name):
    opt = keras_optim_zoo.get(
        optimizer_name, learning_rate=0.02, clipnorm=1.5, jit_compile=False
    )
    config = opt.get_config()
    for key, spec in optimizer_class._all_hyperparameters.items():
        # Stored exactly: float32 value and residual hold the double given.
        assert config[key] == (1.5 if key == "clipnorm" else spec.default), key
    again = optimizer_class.from_config(config)
    assert again.get_config() == config
    assert config["jit_compile"] is False
    serialized = keras.optimizers.serialize(opt)
    restored = keras.optimizers.deserialize(serialized)
    assert type(restored) is optimizer_class
    assert restored.get_config() == config
    by_dict = keras.optimizers.get(
        {"class_name": optimizer_name, "config": {"learning_rate": 0.3}}
    )
    assert type(by_dict) is optimizer_class
    rate = float(ops.convert_to_numpy(by_dict.learning_rate))
    assert math.isclose(rate, 0.3, rel_tol=1e-7)
    assert keras_optim_zoo.get(serialized).get_config() == config


def test_resolves_by_string(optimizer_class, optimizer_name):
    assert type(keras.optimizers.get(optimizer_name)) is optimizer_class
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer_name, loss="mse")
    assert type(model.optimizer) is optimizer_class
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 1


def test_no_retrace_per_step(optimizer_name):
    if keras_parity.BACKEND != "tensorflow":
        pytest.skip("tf.function tracing")
    import tensorflow as tf

    opt = keras_optim_zoo.get(optimizer_name)
    variables = [keras.Variable(x) for x in keras_parity.initial()]
    grads = keras_parity.gradients(6)

    @tf.function
    def in_graph(g):
        opt.apply_gradients(zip(g, variables))

    def counts():
        eager = sum(
            f.experimental_get_tracing_count()
            for f in opt._eager_steps.values()
        )
        kernels = xla.tracing_count(opt._kernels.values())
        return eager, kernels, in_graph.experimental_get_tracing_count()

    for i, g in enumerate(grads):
        if i == 3:
            opt.learning_rate = 0.5  # a new value, not a new trace
        opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
        in_graph([tf.constant(x) for x in g])
        if i == 1:
            after_two = counts()
    assert counts() == after_two
    assert after_two[0] == 1 and after_two[2] == 1


def _invalid_values(spec):
    if spec.kind == "choice":
        return ["not-a-choice", 1, None] if not spec.optional else ["x", 1]
    if spec.kind == "strings":
        return ["one string", [1], 3]
    bad = ["fast", [0.1]]
    if spec.kind == "bool":
        return bad + [1, 0.0]
    if not spec.optional:
        bad.append(None)
    if spec.kind == "float":
        bad += [float("nan"), float("inf")]
    else:
        bad.append(2.5)
    if spec.low is not None:
        bad.append(spec.low - 1)
        if spec.low_open:
            bad.append(spec.low)
    if spec.high is not None:
        bad.append(spec.high + 1)
        if spec.high_open:
            bad.append(spec.high)
    return bad


def test_rejects_invalid_hyperparameters(optimizer_class, optimizer_name):
    for key, spec in optimizer_class._all_hyperparameters.items():
        for value in _invalid_values(spec):
            with pytest.raises(ValueError) as info:
                optimizer_class(**{key: value})
            message = str(info.value)
            assert f"`{key}`" in message and repr(value) in message, message
            assert "expected" in message
    for value in (-0.1, "fast", float("nan"), True):
        with pytest.raises(ValueError, match="`learning_rate`"):
            optimizer_class(learning_rate=value)
    with pytest.raises(ValueError, match="Accepted arguments"):
        optimizer_class(learning_rat=0.1)


def test_bad_assignment_changes_nothing(optimizer_class, optimizer_name):
    opt = optimizer_class(weight_decay=0.01)
    variables = [keras.Variable(x) for x in keras_parity.initial()]
    grads = keras_parity.gradients(2)
    opt.apply_gradients(zip(keras_parity.tensors(grads[0]), variables))
    before = [ops.convert_to_numpy(v) for v in opt.variables + variables]
    for key, spec in optimizer_class._all_hyperparameters.items():
        value = getattr(opt, key, None)
        if spec.kind == "float" and spec.low is not None:
            with pytest.raises(ValueError, match=f"`{key}`"):
                setattr(opt, key, spec.low - 1)
        elif spec.kind == "bool":
            with pytest.raises(ValueError, match=f"`{key}`"):
                setattr(opt, key, not spec.default)
        if isinstance(value, keras.Variable):
            assert getattr(opt, key) is value
    with pytest.raises(ValueError, match="`learning_rate`"):
        opt.learning_rate = -1.0
    after = [ops.convert_to_numpy(v) for v in opt.variables + variables]
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def test_changeable_hyperparameters_take_effect(
    optimizer_class, optimizer_name
):
    """Changing a changeable hyper-parameter inside an already traced
    `tf.function` (`jax.jit` on JAX) changes the next step exactly as a
    Keras built-in whose attribute is changed in eager mode."""
    specs = optimizer_class._all_hyperparameters
    changeable = [
        k
        for k, s in specs.items()
        if s.changeable and s.kind == "float" and s.default
    ] + ["learning_rate"]
    # One instance of each, the keys changed one at a time at successive
    # steps: a change that did not take effect would leave the zoo's
    # weights off Keras's from that step on. (One instance, not one per
    # key: its step is traced and compiled once, 0.4-1.5 s an instance.)
    change_at = {3 + i: key for i, key in enumerate(changeable)}
    grads = keras_parity.gradients(5 + len(changeable))
    zoo = optimizer_class(learning_rate=0.05, weight_decay=0.01)
    variables = [keras.Variable(x) for x in keras_parity.initial()]
    zoo.build(variables)
    step = keras_parity.stepper(zoo, variables, COMPILED)
    ref = keras_parity.generic(zoo.keras_twin())
    ref_vars = [keras.Variable(x) for x in keras_parity.initial()]
    new = {}
    for i, g in enumerate(grads):
        if i in change_at:
            key = change_at[i]
            new[key] = _current(zoo, key) * 0.5
            setattr(zoo, key, new[key])
            if ref is not None:
                setattr(ref, key, new[key])
        step(keras_parity.tensors(g))
        if ref is not None:
            ref.apply_gradients(zip(keras_parity.tensors(g), ref_vars))
            a = [ops.convert_to_numpy(v) for v in variables]
            b = [ops.convert_to_numpy(v) for v in ref_vars]
            assert relative_error(a, b) <= 4 * F32_EPS, (i, change_at.get(i))
    for key, value in new.items():
        assert _current(zoo, key) == value, key


def _current(optimizer, key):
    if key == "learning_rate":
        return float(ops.convert_to_numpy(optimizer.learning_rate))
    return optimizer.get_hyperparameter(key)


def test_fixed_hyperparameters_raise_on_change(optimizer_class, optimizer_name):
    opt = optimizer_class()
    built = optimizer_class(clipnorm=1.0)
    built.build([keras.Variable(np.zeros(3, "float32"))])
    for key, spec in optimizer_class._all_hyperparameters.items():
        if spec.kind != "bool":
            continue
        # Keras's own switches (use_ema) may change until the optimizer is
        # built, as LossScaleOptimizer needs; the algorithm's never.
        target = built if key in COMMON_HYPERPARAMETERS else opt
        with pytest.raises(ValueError, match="Cannot change"):
            setattr(target, key, not spec.default)
    for slot in optimizer_class.slots:
        spec = optimizer_class._all_hyperparameters.get(slot.when)
        if spec is not None and spec.kind == "float":
            off = optimizer_class(**{slot.when: 0.0})
            with pytest.raises(ValueError, match="holds no variable"):
                setattr(off, slot.when, 0.5)
    if optimizer_class._all_hyperparameters["weight_decay"].optional:
        off = optimizer_class(weight_decay=None)
        with pytest.raises(ValueError, match="Cannot change `weight_decay`"):
            off.weight_decay = 0.1
    built.clipnorm = 1.0  # same value: fine
    with pytest.raises(ValueError, match="Cannot change `clipnorm`"):
        built.clipnorm = 2.0


def test_unknown_name_lists_closest():
    with pytest.raises(KeyError) as info:
        keras_optim_zoo.get("zoo_adm")
    assert "zoo_adam" in str(info.value) and "Did you mean" in str(info.value)
    assert keras_optim_zoo.list_optimizers("zoo_adam*") == [
        "zoo_adam",
        "zoo_adam_mini",
        "zoo_adamax",
        "zoo_adamw",
    ]
    assert "zoo_nesterov" in keras_optim_zoo.list_optimizers()
