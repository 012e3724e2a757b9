"""What the derived suites do not cover for Adan, ADOPT and LaProp.

- Their weight decay is the rule's own (the authors' forms), so the base
  features' decoupled-decay check skips them: here `exclude_from_weight_decay`
  must leave an excluded variable exactly as without decay.
- LaProp keeps the learning rate inside its momentum and bias-corrects
  with running averages of the rate and of `beta_1`: the stored
  `changing_cases` (the authors' code with the rate and `beta_1` assigned
  new values mid-run) are replayed with the same assignments.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo
from tests.reference import problem, trajectory_io
from tests.test_reference_trajectories import MODES, difference

RULE_OWNED = ("zoo_adan", "zoo_adopt", "zoo_laprop")


def _run(opt, steps=6):
    variables = [
        keras.Variable(x, name=f"w{i}") for i, x in enumerate(problem.initial())
    ]
    return opt, variables, problem.gradients(steps)


@pytest.mark.parametrize("name", RULE_OWNED)
def test_rule_owned_decay_spares_excluded_variables(name):
    results = []
    for weight_decay in (0.5, None):
        opt = keras_optim_zoo.get(
            name, learning_rate=0.01, weight_decay=weight_decay
        )
        opt, variables, grads = _run(opt)
        opt.exclude_from_weight_decay(var_names=["w2"])
        for g in grads:
            opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
        results.append([v.numpy() for v in variables])
    decayed, plain = results
    np.testing.assert_array_equal(decayed[2], plain[2])
    for i in (0, 1, 3, 4, 5):
        assert not np.array_equal(decayed[i], plain[i]), i


@pytest.mark.parametrize("mode", MODES)
def test_zoo_laprop_follows_changing_rate_and_beta(mode):
    data = trajectory_io.load("zoo_laprop")
    assert data["changing_cases"]
    for case in data["changing_cases"]:
        opt = keras_optim_zoo.get(
            "zoo_laprop",
            learning_rate=case["learning_rate"],
            jit_compile=(mode != "uncompiled"),
            **case["zoo_kwargs"],
        )
        opt, variables, grads = _run(opt, case["steps"])
        got = {}
        for step, g in enumerate(grads, start=1):
            for key, value in case["changes"].get(str(step), {}).items():
                setattr(opt, key, value)
            opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
            if str(step) in case["weights"]:
                got[str(step)] = [
                    v.numpy().astype("float64") for v in variables
                ]
        assert difference(got, case) <= data["tolerance"], case["name"]
