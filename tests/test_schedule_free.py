"""Evaluation points of schedule-free AdamW/SGD and ASGD.

The stored trajectories (`tests/reference/generators/schedule_free.py` and
`asgd.py`) also hold the reference's evaluation point at each checkpoint
(`eval_weights`: the authors' `optimizer.eval()` parameters, torch's
ASGD `ax`); here the zoo's `evaluation_values()` is checked against them,
swapping is checked to be exact, and Keras's `ScheduleFreeAdamW` is
checked to compute what the `ScheduleFreeAdamW` docstring says it does.
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo
from keras_optim_zoo.optimizers import schedule_free
from tests.reference import keras_parity, problem, trajectory_io
from tests.test_reference_trajectories import MODES, difference

NAMES = ("zoo_schedule_free_adamw", "zoo_schedule_free_sgd", "zoo_asgd")


def _train(opt, case, steps=None):
    """Runs `case` with `opt`; `{step: (weights, evaluation values)}`."""
    shapes = [tuple(s) for s in case["shapes"]]
    steps = case["steps"] if steps is None else steps
    grads = problem.gradients(steps, case["grad_seed"], shapes)
    init = problem.initial(case["init_seed"], shapes)
    variables = [keras.Variable(x, name=f"w{i}") for i, x in enumerate(init)]
    got = {}
    for step, g in enumerate(grads, start=1):
        opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
        if str(step) in case["weights"]:
            got[str(step)] = (
                [v.numpy().astype("float64") for v in variables],
                [np.asarray(x, "float64") for x in opt.evaluation_values()],
            )
    return got, variables


def _make(name, case, mode, **extra):
    return keras_optim_zoo.get(
        name,
        learning_rate=case["learning_rate"],
        jit_compile=(mode != "uncompiled"),
        **{**case["zoo_kwargs"], **extra},
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_evaluation_point_matches_reference(name, mode):
    data = trajectory_io.load(name)
    assert keras_optim_zoo.get(name).has_evaluation_point
    for case in data["cases"]:
        got, _ = _train(_make(name, case, mode), case)
        weights = {k: w for k, (w, _) in got.items()}
        evals = {k: e for k, (_, e) in got.items()}
        assert difference(weights, case) <= data["tolerance"], case["name"]
        against = {**case, "weights": case["eval_weights"]}
        worst = difference(evals, against)
        assert worst <= data["tolerance"], (case["name"], worst)


@pytest.mark.parametrize("name", NAMES[:2])
def test_evaluation_point_from_y_and_z(name):
    # x = (y - (1 - beta) z) / beta, from the model's y and the slot z.
    case = trajectory_io.load(name)["cases"][1]
    opt = _make(name, case, "xla")
    _, variables = _train(opt, case, steps=12)
    beta = case["zoo_kwargs"].get("beta_1", case["zoo_kwargs"].get("momentum"))
    slot = "momentum" if name.endswith("adamw") else "z"
    for var, x in zip(variables, opt.evaluation_values()):
        y = var.numpy().astype("float64")
        z = opt.slot_variables(var)[slot].numpy().astype("float64")
        expected = (y - (1 - beta) * z) / beta
        scale = max(1.0, float(np.max(np.abs(expected))))
        assert np.max(np.abs(np.asarray(x) - expected)) / scale <= 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_swap_evaluate_restore_is_exact(name):
    case = trajectory_io.load(name)["cases"][1]
    shapes = [tuple(s) for s in case["shapes"]]
    grads = problem.gradients(20, case["grad_seed"], shapes)
    init = problem.initial(case["init_seed"], shapes)

    def run(swap_every):
        opt = _make(name, case, "xla")
        variables = [keras.Variable(x) for x in init]
        for step, g in enumerate(grads, start=1):
            opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
            if swap_every and step % swap_every == 0:
                before = [v.numpy() for v in variables]
                expected = [np.asarray(x) for x in opt.evaluation_values()]
                opt.swap_evaluation_weights()
                assert opt.evaluating
                for v, x in zip(variables, expected):
                    np.testing.assert_array_equal(v.numpy(), x)
                with pytest.raises(ValueError, match="restore_training"):
                    opt.apply_gradients(zip(g, variables))
                opt.restore_training_weights()
                for v, x in zip(variables, before):
                    np.testing.assert_array_equal(v.numpy(), x)
        return [v.numpy() for v in variables]

    for a, b in zip(run(0), run(3)):
        np.testing.assert_array_equal(a, b)


def test_asgd_evaluation_point_before_and_at_start():
    # Before any step the average is the initial point (torch: zeros,
    # overwritten at step 1); it follows theta while mu = 1.
    init = keras_parity.initial()
    variables = [keras.Variable(x) for x in init]
    opt = keras_optim_zoo.get("zoo_asgd", t0=3.0)
    opt.build(variables)
    for x, v in zip(opt.evaluation_values(), init):
        np.testing.assert_array_equal(np.asarray(x), v)
    for step, g in enumerate(keras_parity.gradients(6), start=1):
        opt.apply_gradients(zip(g, variables))
        same = all(
            np.array_equal(np.asarray(x), v.numpy())
            for x, v in zip(opt.evaluation_values(), variables)
        )
        assert same == (step <= 5), step  # mu = 1 up to step t0 + 2


class KerasOrderAdamW(schedule_free.ScheduleFreeAdamW):
    """What Keras's ScheduleFreeAdamW computes on TensorFlow (unregistered)."""

    hyperparameters = {"weight_lr_power": keras_optim_zoo.core.Hyper(0.0)}
    keras_equivalent = ("ScheduleFreeAdamW", {})
    update_rule = staticmethod(
        functools.partial(schedule_free._adamw_rule, keras_tf_order=True)
    )


def _authors_difference(opt, case):
    got, _ = _train(opt, case)
    return difference({k: w for k, (w, _) in got.items()}, case)


def test_keras_schedule_free_adamw_reads_the_new_z():
    """Keras 3.15's ScheduleFreeAdamW on TensorFlow forms x_{t-1} from z_t.

    If this fails, Keras has changed (fixed?) its ScheduleFreeAdamW: make
    zoo_schedule_free_adamw its twin again (`keras_equivalent`) if it now
    matches the authors' trajectories.
    """
    grads, init = keras_parity.gradients(100), keras_parity.initial()
    for kwargs in ({}, {"beta_1": 0.72, "warmup_steps": 7}):
        zoo = KerasOrderAdamW(learning_rate=0.05, jit_compile=False, **kwargs)
        ref = zoo.keras_twin()
        a, _ = keras_parity.run(zoo, "uncompiled", grads, init)
        b, _ = keras_parity.run(ref, "eager", grads, init)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    case = trajectory_io.load("zoo_schedule_free_adamw")["cases"][0]
    keras_form = KerasOrderAdamW(learning_rate=case["learning_rate"])
    assert _authors_difference(keras_form, case) > 1e-3  # measured 3.2e-3


def test_uniform_weighting_differs_from_authors_under_warmup():
    data = trajectory_io.load("zoo_schedule_free_adamw")
    case = next(
        c for c in data["cases"] if c["name"] == "warmup_authors_weighting"
    )
    authors = _make("zoo_schedule_free_adamw", case, "xla")
    uniform = _make("zoo_schedule_free_adamw", case, "xla", weight_lr_power=0)
    assert _authors_difference(authors, case) <= data["tolerance"]
    assert _authors_difference(uniform, case) > 1e-2  # measured 2.8e-2
