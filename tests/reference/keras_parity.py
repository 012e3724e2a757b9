"""Runs a zoo optimizer next to its Keras built-in on the same gradients.

Used by the contract tests, and runnable as a script that prints the
largest difference per optimizer, variant and mode:

    python -m tests.reference.keras_parity
"""

import keras
import numpy as np
from keras import ops

import keras_optim_zoo
from keras_optim_zoo.core.base import COMMON_HYPERPARAMETERS
from tests.reference import problem

# Repeated shapes share one compiled kernel; each must still update its own
# variable.
SHAPES = problem.SHAPES
BACKEND = keras.backend.backend()
# The calling modes of each backend. TensorFlow: the zoo's XLA kernels off
# ("uncompiled") and on, called eagerly, inside `tf.function` and inside
# `tf.function(jit_compile=True)`. JAX: eagerly, and `stateless_apply`
# inside `jax.jit` (as Keras's JAX trainer calls it). Torch: eagerly.
MODES = {
    "tensorflow": ("uncompiled", "eager", "function", "xla"),
    "jax": ("eager", "jit"),
    "torch": ("eager",),
}[BACKEND]


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


def stepper(optimizer, variables, mode):
    """`step(grads)`: one `apply_gradients` on `variables` in `mode`.

    A hyper-parameter assigned between steps takes effect at the next one
    in every mode (in "jit" the optimizer's variables are passed in anew
    at each call).
    """
    if mode in ("function", "xla"):
        import tensorflow as tf

        optimizer.build(variables)

        @tf.function(jit_compile=(mode == "xla"))
        def step(grads):
            optimizer.apply_gradients(zip(grads, variables))

        return step
    if mode == "jit":
        return _jax_stateless_step(optimizer, variables)

    def step(grads):
        optimizer.apply_gradients(zip(grads, variables))

    return step


def _jax_stateless_step(optimizer, variables):
    import jax

    optimizer.build(variables)

    @jax.jit
    def pure(optimizer_values, values, grads):
        return optimizer.stateless_apply(optimizer_values, grads, values)

    def step(grads):
        values, optimizer_values = pure(
            [v.value for v in optimizer.variables],
            [v.value for v in variables],
            list(grads),
        )
        for var, value in zip(variables, values):
            var.assign(value)
        for var, value in zip(optimizer.variables, optimizer_values):
            var.assign(value)

    return step


def tensors(arrays):
    """NumPy arrays as tensors of the backend."""
    return [ops.convert_to_tensor(x) for x in arrays]


def generic(optimizer):
    """A Keras built-in running its per-variable rule on every backend.

    On torch Keras swaps in multi-tensor (`torch._foreach_*`) versions of
    nine built-ins, which order the same arithmetic differently (AdamW's
    decay as `w * (1 - lr * wd)`; measured up to 24 ulp over 100 steps
    against the per-variable rule that TensorFlow and JAX run). The zoo's
    rules are that per-variable rule, so torch compares against it.
    """
    if BACKEND != "torch" or optimizer is None:
        return optimizer
    # A subclass is not swapped (Keras swaps only its own classes); the
    # weight decay is the class's own or the base's (`w - w * wd * lr`),
    # not the torch optimizers' multi-tensor one.
    keras_class = next(
        c
        for c in type(optimizer).__mro__
        if c.__module__.startswith("keras.src.optimizers.")
    )
    decay = next(
        vars(c)["_apply_weight_decay"]
        for c in keras_class.__mro__
        if "_apply_weight_decay" in vars(c)
        and not c.__module__.startswith("keras.src.backend.")
    )
    per_variable = type(
        keras_class.__name__,
        (keras_class,),
        {"_apply_weight_decay": decay},
    )
    return per_variable.from_config(optimizer.get_config())


def run(optimizer, mode, grads, init):
    """Applies `grads` one step at a time; returns the final weights."""
    variables = [keras.Variable(x, name=f"w{i}") for i, x in enumerate(init)]
    step = stepper(optimizer, variables, mode)
    for g in grads:
        step(tensors(g))
    return [ops.convert_to_numpy(v) for v in variables], variables


def compare(name, kwargs, mode, steps=100, learning_rate=0.05):
    """Max absolute difference between zoo and Keras after `steps` steps."""
    zoo = keras_optim_zoo.get(
        name,
        learning_rate=learning_rate,
        jit_compile=(mode != "uncompiled"),
        **kwargs,
    )
    ref = generic(zoo.keras_twin())
    grads, init = gradients(steps), initial()
    a, _ = run(zoo, mode, grads, init)
    b, _ = run(ref, "eager" if mode == "uncompiled" else mode, grads, init)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def slot_values(optimizer):
    """`{variable name: value}` of an optimizer's per-variable state."""
    return {
        v.name: ops.convert_to_numpy(v)
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
