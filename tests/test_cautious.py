"""The base's `cautious` option, for every optimizer that declares it.

Each cautious step is the plain rule's step, masked where its sign
disagrees with the gradient's and rescaled by size / (kept + 1)
(`core/base.py`, `cautious_step`). The rules that declare the option read
no weights (only gradients and state) when weight decay is off, so a
plain run's steps are the steps the cautious run masks: the cautious
trajectory is computed here from the plain one, in NumPy. The stored
trajectories of `zoo_lion` (the authors' C-Lion and pytorch-optimizer)
check the same against the published code.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optim_zoo
from keras_optim_zoo.core import registry
from tests.reference import problem
from tests.test_optimizer_contract import F32_EPS, relative_error

STEPS = 12
CAUTIOUS = sorted(
    name
    for name in keras_optim_zoo.list_optimizers()
    if registry.lookup("optimizer", name).supports_cautious
)


def _steps(name, **kwargs):
    """The weights before and after each step."""
    opt = keras_optim_zoo.get(name, learning_rate=0.01, **kwargs)
    variables = [keras.Variable(x) for x in problem.initial()]
    out = [[v.numpy() for v in variables]]
    for g in problem.gradients(STEPS):
        opt.apply_gradients(zip([tf.constant(x) for x in g], variables))
        out.append([v.numpy() for v in variables])
    return out


def _masked(update, grad):
    mask = (update * grad > 0).astype(np.float32)
    return update * (mask * (np.float32(mask.size) / (mask.sum() + 1)))


def test_the_declaring_optimizers():
    # The list, where the zoo has the optimizer.
    expected = {"zoo_adam", "zoo_adamw", "zoo_amsgrad", "zoo_nadam", "zoo_lion"}
    assert expected <= set(CAUTIOUS)


@pytest.mark.parametrize("name", CAUTIOUS)
def test_cautious_masks_the_plain_step(name):
    spec = registry.lookup("optimizer", name)._all_hyperparameters
    off = {"weight_decay": None if spec["weight_decay"].optional else 0.0}
    # Decays of their own (MARS's weight_decay_1d for its AdamW fallback).
    off.update({k: 0.0 for k in spec if k.startswith("weight_decay_")})
    plain = _steps(name, **off)
    cautious = _steps(name, cautious=True, **off)
    expected = [w.copy() for w in plain[0]]
    for k, grads in enumerate(problem.gradients(STEPS), start=1):
        expected = [
            e - _masked(before - after, g)
            for e, before, after, g in zip(
                expected, plain[k - 1], plain[k], grads
            )
        ]
        # Both recover each step from rounded weights (measured: at most
        # 0.8 of a float32 ulp of the weights, Lion's).
        assert relative_error(cautious[k], expected) <= 4 * F32_EPS, k
    assert relative_error(cautious[-1], plain[-1]) > 1e-4  # it acts


def test_cautious_is_fixed_and_only_where_declared():
    opt = keras_optim_zoo.get("zoo_adam", cautious=True)
    assert opt.get_config()["cautious"] is True
    assert keras_optim_zoo.get("zoo_adam").cautious is False
    with pytest.raises(ValueError, match="cautious"):
        opt.cautious = False
    with pytest.raises(ValueError, match="unexpected argument.*cautious"):
        keras_optim_zoo.get("zoo_sgd", cautious=True)
    with pytest.raises(ValueError, match="cautious"):
        keras_optim_zoo.get("zoo_adam", cautious=1)
    assert "cautious: Bool, fixed." in type(opt).__doc__
