"""Reference trajectories of `zoo_lars`: `pytorch_optimizer.LARS` and
`optax.lars`.

`pytorch_optimizer.LARS` computes the paper's trust ratio (decay in the
denominator as a sum of norms) and always exempts rank <= 1 variables;
`optax.lars` with no decay is the same algorithm applied to every variable,
with an epsilon, so it covers `exclude_1d=False` and `epsilon`. Run in the
reference environment (no Keras):

    python -m tests.reference.generators.lars
"""

from importlib.metadata import version

import jax
import optax
import pytorch_optimizer
import torch

from tests.reference import problem, trajectory_io

NAME = "zoo_lars"
CHECKPOINTS = [1, 2, 10, 30]

# (name, zoo kwargs, library, library kwargs, learning rate)
CASES = [
    (
        "defaults",
        {},
        "pytorch_optimizer.LARS",
        {"momentum": 0.9, "trust_coefficient": 0.001},
        0.1,
    ),
    (
        "decay_nesterov",
        {
            "momentum": 0.8,
            "nesterov": True,
            "trust_coefficient": 0.02,
            "weight_decay_rate": 0.01,
        },
        "pytorch_optimizer.LARS",
        {
            "momentum": 0.8,
            "nesterov": True,
            "trust_coefficient": 0.02,
            "weight_decay": 0.01,
        },
        0.5,
    ),
    (
        "no_momentum_decay",
        {"momentum": 0.0, "trust_coefficient": 0.05, "weight_decay_rate": 0.05},
        "pytorch_optimizer.LARS",
        {"momentum": 0.0, "trust_coefficient": 0.05, "weight_decay": 0.05},
        0.3,
    ),
    (
        "all_variables_epsilon",
        {"exclude_1d": False, "trust_coefficient": 0.01, "epsilon": 0.5},
        "optax.lars",
        {"trust_coefficient": 0.01, "eps": 0.5, "momentum": 0.9},
        1.0,
    ),
    (
        "all_variables_nesterov",
        {"exclude_1d": False, "trust_coefficient": 0.03, "nesterov": True},
        "optax.lars",
        {"trust_coefficient": 0.03, "momentum": 0.9, "nesterov": True},
        0.5,
    ),
]


def run_torch(kwargs, lr, steps, grad_seed=0, init_seed=1):
    return trajectory_io.torch_trajectory(
        lambda params: pytorch_optimizer.LARS(
            params, lr=lr, foreach=False, **kwargs
        ),
        steps,
        grad_seed=grad_seed,
        init_seed=init_seed,
    )


def run_optax(kwargs, lr, steps, grad_seed=0, init_seed=1):
    return trajectory_io.optax_trajectory(
        optax.lars(lr, **kwargs),
        steps,
        jit=True,
        grad_seed=grad_seed,
        init_seed=init_seed,
    )


def run(library, kwargs, lr, steps):
    if library == "optax.lars":
        return run_optax(kwargs, lr, steps)
    return run_torch(kwargs, lr, steps)


def peers():
    """How far optax's form (decay inside the norm) is from the paper's."""
    steps = max(CHECKPOINTS)
    ref = run_torch(CASES[1][3], CASES[1][4], steps)
    masks = [len(s) > 1 for s in problem.SHAPES]
    other = run_optax(
        {
            "trust_coefficient": 0.02,
            "weight_decay": 0.01,
            "momentum": 0.8,
            "nesterov": True,
            "weight_decay_mask": masks,
            "trust_ratio_mask": masks,
        },
        CASES[1][4],
        steps,
    )
    print(
        "optax.lars vs pytorch_optimizer.LARS, case decay_nesterov: "
        f"{trajectory_io.difference(other, ref, CHECKPOINTS):.2e}"
    )


def main():
    cases = []
    for name, zoo_kwargs, library, ref_kwargs, lr in CASES:
        traj = run(library, ref_kwargs, lr, max(CHECKPOINTS))
        cases.append(
            trajectory_io.case(
                name,
                zoo_kwargs,
                lr,
                traj,
                CHECKPOINTS,
                reference_kwargs={"library": library, **ref_kwargs},
            )
        )
    peers()
    trajectory_io.write(
        NAME,
        "pytorch_optimizer.LARS, optax.lars",
        cases,
        script="tests/reference/generators/lars.py",
        versions={
            "pytorch_optimizer": version("pytorch_optimizer"),
            "torch": torch.__version__,
            "optax": optax.__version__,
            "jax": jax.__version__,
        },
        tolerance=1e-6,
        tolerance_reason=(
            "float32 round-off over 30 steps: measured at most 3.2e-7 "
            "(defaults, where torch multiplies the momentum buffer by the "
            "learning rate and the zoo accumulates lr-scaled steps, as the "
            "paper and optax do; the same numbers up to rounding while the "
            "learning rate is constant), 1.4e-7 in the other cases"
        ),
    )


if __name__ == "__main__":
    main()
