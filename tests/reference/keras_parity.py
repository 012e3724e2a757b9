"""Runs a zoo optimizer next to its Keras built-in on the same gradients.

Used by the contract tests, and runnable as a script that prints the
largest difference per optimizer, variant and mode:

    python -m tests.reference.keras_parity
"""

import keras
import numpy as np
import tensorflow as tf

import keras_optim_zoo
from keras_optim_zoo.core.base import COMMON_HYPERPARAMETERS
from tests.reference import problem

# Repeated shapes share one compiled kernel; each must still update its own
# variable.
SHAPES = problem.SHAPES
MODES = ("uncompiled", "eager", "function", "xla")


def variants(cls):
    """Hyper-parameter settings to test, derived from the declarations.

    The defaults; every fixed bool flipped and every slot-gating float
    switched on; and every float (changeable or fixed) moved away from its
    default.
    Hyper-parameters beyond the Keras twin (`keras_equivalent_excludes`)
    keep their defaults.
    """
    own = {
        k: v
        for k, v in cls._all_hyperparameters.items()
        if (k not in COMMON_HYPERPARAMETERS or k in cls.hyperparameters)
        and k not in cls.keras_equivalent_excludes
    }
    gates = {s.when for s in cls.slots if s.when}
    switched = {}
    for key, spec in own.items():
        if spec.kind == "bool":
            switched[key] = not spec.default
        elif key in gates and not spec.default:
            switched[key] = 0.5
    moved = {
        key: spec.default * 0.8
        for key, spec in own.items()
        if spec.kind == "float" and spec.default
    }
    found = [{}]
    for extra in (switched, {**switched, **moved}):
        if extra and extra not in found:
            found.append(extra)
    return found


gradients = problem.gradients
initial = problem.initial


def run(optimizer, mode, grads, init):
    """Applies `grads` one step at a time; returns the final weights."""
    variables = [keras.Variable(x, name=f"w{i}") for i, x in enumerate(init)]

    def step(g):
        optimizer.apply_gradients(zip(g, variables))

    if mode in ("function", "xla"):
        optimizer.build(variables)
        step = tf.function(step, jit_compile=(mode == "xla"))
    for g in grads:
        step([tf.constant(x) for x in g])
    return [v.numpy() for v in variables], variables


def compare(name, kwargs, mode, steps=100, learning_rate=0.05):
    """Max absolute difference between zoo and Keras after `steps` steps."""
    zoo = keras_optim_zoo.get(
        name,
        learning_rate=learning_rate,
        jit_compile=(mode != "uncompiled"),
        **kwargs,
    )
    ref = zoo.keras_twin()
    grads, init = gradients(steps), initial()
    a, _ = run(zoo, mode, grads, init)
    b, _ = run(ref, "eager" if mode == "uncompiled" else mode, grads, init)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def slot_values(optimizer):
    """`{variable name: value}` of an optimizer's per-variable state."""
    return {
        v.name: v.numpy()
        for v in optimizer.variables
        if v.dtype == "float32" and len(v.shape) > 0
    }


def exponential_decay():
    return keras.optimizers.schedules.ExponentialDecay(
        0.05, decay_steps=10, decay_rate=0.8
    )


def main():
    print(
        f"{'optimizer':14} {'variant':44} "
        + " ".join(f"{m:>10}" for m in MODES)
    )
    for name in keras_optim_zoo.list_optimizers():
        cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
        for kwargs in variants(cls):
            diffs = [compare(name, kwargs, m) for m in MODES]
            print(
                f"{name:14} {str(kwargs)[:44]:44} "
                + " ".join(f"{d:10.2e}" for d in diffs)
            )


if __name__ == "__main__":
    main()
