"""What every Keras backend needs of the zoo beyond the contract suite.

`make test` runs this file on TensorFlow, JAX and torch (`KERAS_BACKEND`),
with the contract suite, the stored reference trajectories, save/resume
and the callbacks.

- Hyper-parameters need no float64: JAX without `jax_enable_x64` has none
  (a "float64" variable is silently float32) and TPUs have none; the zoo
  still computes `1 - beta_2` as Keras does from a Python float.
- `import keras_optim_zoo` needs no TensorFlow on JAX or torch, and a
  feature that does names the package and the extra to install.
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

import keras_optim_zoo
from keras_optim_zoo.core import compile as xla
from tests.reference import keras_parity, problem

F32_EPS = float(np.finfo(np.float32).eps)
BACKEND = keras.backend.backend()


@pytest.mark.parametrize(
    "name, keras_class",
    [("zoo_adam", "Adam"), ("zoo_rmsprop", "RMSprop"), ("zoo_lion", "Lion")],
)
def test_keras_arithmetic_without_float64(name, keras_class):
    """Against a Keras built-in given the Python floats themselves (not
    `keras_twin()`, which copies the zoo's values): on JAX without x64 a
    float64 store held float32(0.999), and `1 - beta_2` drifted (measured
    before the fix, 100 steps: Adam 2.9e-6 relative in the weights, 24
    ulp; RMSprop 1.1 ulp)."""
    zoo = keras_optim_zoo.get(name, learning_rate=0.05)
    ref = keras_parity.generic(
        getattr(keras.optimizers, keras_class)(learning_rate=0.05)
    )
    grads, init = problem.gradients(100), problem.initial()
    a = keras_parity.run(zoo, "eager", grads, init)[0]
    b = keras_parity.run(ref, "eager", grads, init)[0]
    scale = max(1.0, max(float(np.max(np.abs(x))) for x in b))
    worst = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b)) / scale
    assert worst <= F32_EPS


def test_hyperparameters_stored_in_float32_exactly():
    opt = keras_optim_zoo.get("zoo_adam", beta_2=0.999)
    stored = opt.hyper_variables()
    assert {v.dtype for v in stored} == {"float32"}
    assert opt.beta_2.dtype == "float32"
    assert opt.get_hyperparameter("beta_2") == 0.999
    assert opt.get_config()["beta_2"] == 0.999
    opt.beta_2 = 0.9995
    assert opt.get_hyperparameter("beta_2") == 0.9995
    # What the rule receives: 1 - beta_2 rounded once, as Keras's
    # float32(1 - 0.9995) from a Python float.
    scalars = opt._context(ops.convert_to_tensor(0.05))
    complement = ops.convert_to_numpy(ops.cast(scalars["1-beta_2"], "float32"))
    assert complement == np.float32(1 - 0.9995)
    assert np.float32(1) - np.float32(0.9995) != np.float32(1 - 0.9995)


def test_every_fraction_complement_rounds_once():
    """Every declared fraction of every optimizer, at its default and at
    values float32 cannot hold: the complement the rules see is the
    float32 of the Python double's complement."""
    for name in keras_optim_zoo.list_optimizers():
        cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
        opt = cls()
        scalars = opt._context(ops.convert_to_tensor(0.01))
        for key, spec in cls._all_hyperparameters.items():
            if key not in opt._hyper_vars or spec.high != 1.0:
                continue
            for value in (spec.default, 0.999, 0.9999, 0.95, 0.3):
                if value == spec.low and spec.low_open:
                    continue
                setattr(opt, key, value)
                scalars = opt._context(ops.convert_to_tensor(0.01))
                got = ops.convert_to_numpy(
                    ops.cast(scalars["1-" + key], "float32")
                )
                assert got == np.float32(1 - value), (name, key, value)


def test_wide_dtype_is_what_the_backend_computes_in():
    x = ops.cast(ops.convert_to_tensor(1.0), xla.wide_dtype())
    assert keras.backend.standardize_dtype(x.dtype) == xla.wide_dtype()
    if BACKEND == "jax":
        import jax

        expected = "float64" if jax.config.read("jax_enable_x64") else "float32"
        assert xla.wide_dtype() == expected


def _python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, **env),
    )


@pytest.mark.subprocess
def test_import_needs_no_tensorflow_and_features_name_their_extra():
    """A process of this backend with TensorFlow made unimportable: the
    package and its optimizers work; `compare`, `data` and `tune` say what
    to install. (Run in the JAX and torch sessions of `make test`.)"""
    if BACKEND == "tensorflow":
        pytest.skip("the JAX and torch sessions check this")
    code = """
        import sys
        sys.modules["tensorflow"] = None  # as if not installed
        import keras, numpy as np
        import keras_optim_zoo
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer="zoo_adamw", loss="mse")
        model.fit(np.ones((8, 3)), np.ones((8, 2)), epochs=2, verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 2
        for feature, extra in [("compare", "tensorflow"),
                               ("data", "tensorflow"), ("tune", "tensorflow")]:
            try:
                __import__("keras_optim_zoo." + feature)
            except ModuleNotFoundError as error:
                message = str(error)
                assert "keras_optim_zoo." + feature in message, message
                assert "pip install 'keras_optim_zoo[" in message, message
                assert "`tensorflow" in message or "`optuna" in message
            else:
                raise AssertionError(feature + " imported without TF")
        print("ok")
    """
    proc = _python(code, KERAS_BACKEND=BACKEND)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok"), proc.stdout


@pytest.mark.parametrize("mode", keras_parity.MODES)
def test_skip_non_finite_in_every_mode(mode):
    """A step with a NaN gradient changes nothing, also where the step is
    traced as a pure function (JAX's `stateless_apply` under `jax.jit`,
    where a `cond` branch may not assign)."""
    grads = problem.gradients(3)
    bad = [g.copy() for g in grads[1]]
    bad[0][0, 0, 0, 0] = np.nan

    def run(optimizer, steps):
        return keras_parity.run(optimizer, mode, steps, problem.initial())[0]

    wrapped = keras_optim_zoo.wrappers.SkipNonFinite(
        keras_optim_zoo.get("zoo_adam", learning_rate=0.05)
    )
    got = run(wrapped, [grads[0], bad, grads[2]])
    expected = run(
        keras_optim_zoo.get("zoo_adam", learning_rate=0.05),
        [grads[0], grads[2]],
    )
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert int(ops.convert_to_numpy(wrapped.skipped_steps)) == 1
    assert int(ops.convert_to_numpy(wrapped.iterations)) == 2


_ELEMENTWISE = [
    name
    for name in keras_optim_zoo.list_optimizers()
    if keras_optim_zoo.core.registry.lookup("optimizer", name).elementwise
]


@pytest.mark.skipif(BACKEND != "torch", reason="torch's eager path only")
@pytest.mark.parametrize("name", _ELEMENTWISE)
def test_multi_tensor_apply_equals_per_variable(name, monkeypatch):
    """Each optimizer declared `elementwise`, in every declared variant:
    its small variables updated joined into one vector per operand (one
    call of the rule for the step) give the per-variable path's numbers
    bit for bit, weights and optimizer state alike.

    What this caught: Ranger's gradient centralization (a mean per
    variable) and FTRL, whose `ops.power` torch computes with vectorized
    (SLEEF) code in full SIMD lanes and with libm in a tensor's tail, so an
    element's result depends on its position: 1 ulp (7.5e-9) after 4
    steps. Neither is declared `elementwise`."""
    from keras_optim_zoo.core import base

    cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
    grads, init = problem.gradients(4), problem.initial()
    small = base.MULTI_TENSOR_SIZE

    rule, calls = cls.update_rule, []

    def counted(*args, **kw):
        calls.append(1)
        return rule(*args, **kw)

    monkeypatch.setattr(cls, "update_rule", staticmethod(counted))

    def run(kwargs, size):
        monkeypatch.setattr(base, "MULTI_TENSOR_SIZE", size)
        optimizer = cls(learning_rate=0.05, **kwargs)
        calls.clear()
        weights, variables = keras_parity.run(optimizer, "eager", grads, init)
        state = [ops.convert_to_numpy(v) for v in optimizer.variables]
        return weights + state, len(calls) // len(grads)

    for kwargs in keras_parity.variants(cls):
        try:
            cls(**kwargs)
        except ValueError:
            # `variants` moves every float by 0.8: out of some declared
            # ranges (Rprop's eta_plus > 1); the others are still tried.
            continue
        joined, rule_calls = run(kwargs, small)
        alone, per_variable = run(kwargs, 0)
        assert per_variable == len(problem.SHAPES)
        if not kwargs.get("cautious"):  # cautious: a per-variable mean
            assert rule_calls < per_variable, kwargs
        for a, b in zip(joined, alone):
            np.testing.assert_array_equal(a, b, err_msg=str(kwargs))
