"""Every optimizer without a Keras twin replays its stored reference.

The trajectories were written by the scripts in `tests/reference/generators`
with the reference implementation (torch.optim, optax, pytorch-optimizer or
the authors' code; named in each file with its version), so this suite
needs none of those libraries.
"""

import keras
import numpy as np
import pytest

import keras_optim_zoo
from tests.reference import keras_parity, problem, trajectory_io

# TensorFlow: the zoo's XLA kernels off and on; JAX: eagerly and
# `stateless_apply` under `jax.jit`; torch: eagerly.
MODES = {
    "tensorflow": ("uncompiled", "xla"),
    "jax": ("eager", "jit"),
    "torch": ("eager",),
}[keras_parity.BACKEND]


def replay(name, case, mode, opt=None, in_function=False):
    """The zoo's weights at each stored step of `case`.

    `opt`: the optimizer to replay (a wrapper), instead of `name` built
    with the case's arguments. `in_function`: each step inside a
    `tf.function(jit_compile=True)`, as `model.fit(jit_compile=True)`
    (TensorFlow only), or `"graph"`: inside a `tf.function` (the same
    kernels as eagerly, op by op, without eager dispatch).
    A case with `"point": "average"` records the optimizer's evaluation
    point (`evaluation_values()`) instead of the weights.
    """
    shapes = [tuple(s) for s in case["shapes"]]
    grads = problem.gradients(case["steps"], case["grad_seed"], shapes)
    init = problem.initial(case["init_seed"], shapes)
    if opt is None:
        opt = keras_optim_zoo.get(
            name,
            learning_rate=case["learning_rate"],
            jit_compile=(mode != "uncompiled"),
            **case["zoo_kwargs"],
        )
    variables = [keras.Variable(x, name=f"w{i}") for i, x in enumerate(init)]

    step_mode = {True: "xla", "graph": "function"}.get(in_function)
    step_mode = step_mode or ("jit" if mode == "jit" else "eager")
    apply = keras_parity.stepper(opt, variables, step_mode)
    got = {}
    for step, g in enumerate(grads, start=1):
        apply(keras_parity.tensors(g))
        if str(step) in case["weights"]:
            values = variables
            if case.get("point") == "average":
                values = opt.evaluation_values(variables)
            got[str(step)] = [
                keras.ops.convert_to_numpy(v).astype("float64") for v in values
            ]
    return got


def difference(got, case):
    """Largest `|zoo - ref| / max(1, max |ref|)` over the stored steps."""
    worst = 0.0
    for step, ref in case["weights"].items():
        ref = [np.asarray(r) for r in ref]
        scale = max(1.0, max(float(np.max(np.abs(r))) for r in ref))
        diff = max(
            float(np.max(np.abs(a.ravel() - r))) for a, r in zip(got[step], ref)
        )
        worst = max(worst, diff / scale)
    return worst


def test_every_optimizer_has_a_reference(optimizer_class, optimizer_name):
    if optimizer_class.keras_equivalent is not None:
        return  # checked against the Keras built-in instead
    assert optimizer_class.reference, (
        f"{optimizer_name} has no Keras twin and names no `reference`"
    )
    assert trajectory_io.exists(optimizer_name), (
        f"no stored trajectories for {optimizer_name}: write "
        f"tests/reference/trajectories/{optimizer_name}.json with a "
        "generator script"
    )


@pytest.mark.parametrize("mode", MODES)
def test_matches_stored_reference(optimizer_name, mode):
    if not trajectory_io.exists(optimizer_name):
        pytest.skip("checked against its Keras built-in")
    data = trajectory_io.load(optimizer_name)
    assert data["optimizer"] == optimizer_name
    assert len(data["cases"]) >= 2, "defaults and non-default arguments"
    for number, case in enumerate(data["cases"]):
        assert case["steps"] >= 30
        # TensorFlow's op-by-op mode: the first case (the defaults) called
        # eagerly, where conditions known at the call take one branch in
        # Python; the others inside a `tf.function`, the same TensorFlow
        # kernels without eager dispatch (laprop: 18 ms a step eagerly;
        # the eager replays were a third of this file's time).
        graph = mode == "uncompiled" and number > 0 and "graph"
        worst = difference(
            replay(optimizer_name, case, mode, in_function=graph), case
        )
        assert worst <= data["tolerance"], (case["name"], worst)


def main():
    """Prints the largest difference per optimizer (the README's column)."""
    for name in keras_optim_zoo.list_optimizers():
        if not trajectory_io.exists(name):
            continue
        data = trajectory_io.load(name)
        worst = max(
            difference(replay(name, case, mode), case)
            for case in data["cases"]
            for mode in MODES
        )
        print(f"{name:28} {data['reference']:44} {worst:.2e}")


if __name__ == "__main__":
    main()
