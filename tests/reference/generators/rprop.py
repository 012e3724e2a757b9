"""Writes `zoo_rprop.json`: torch.optim.Rprop trajectories.

Run in the reference environment (torch, no Keras):

    python -m tests.reference.generators.rprop

The fixed random gradients of `problem.gradients` change sign about every
other step, so every branch of the rule runs at every step: growth, a
sign change (no move, stored gradient zero), and the step after it (step
size kept). The second case's narrow bounds keep the step sizes clipped
at both ends.
"""

import torch

from tests.reference import trajectory_io

NAME = "zoo_rprop"
CHECKPOINTS = [1, 2, 3, 10, 30, 60]


def trajectory(learning_rate, steps, **kwargs):
    return trajectory_io.torch_trajectory(
        lambda params: torch.optim.Rprop(
            params, lr=learning_rate, foreach=False, **kwargs
        ),
        steps,
    )


def main():
    cases = []
    for name, zoo_kwargs, ref_kwargs, lr in (
        ("defaults", {}, {}, 0.01),
        (
            "etas_and_bounds",
            {
                "eta_minus": 0.3,
                "eta_plus": 1.5,
                "min_step": 0.02,
                "max_step": 0.1,
            },
            {"etas": (0.3, 1.5), "step_sizes": (0.02, 0.1)},
            0.05,
        ),
        (
            "large_initial_step",
            {"eta_minus": 0.6, "eta_plus": 1.1, "max_step": 0.5},
            {"etas": (0.6, 1.1), "step_sizes": (1e-6, 0.5)},
            0.7,
        ),
    ):
        traj = trajectory(lr, max(CHECKPOINTS), **ref_kwargs)
        cases.append(
            trajectory_io.case(
                name,
                zoo_kwargs,
                lr,
                traj,
                CHECKPOINTS,
                reference_kwargs={k: list(v) for k, v in ref_kwargs.items()},
            )
        )
    trajectory_io.write(
        NAME,
        "torch.optim.Rprop",
        cases,
        script="tests/reference/generators/rprop.py",
        versions={"torch": torch.__version__},
        tolerance=1e-6,
        tolerance_reason=(
            "float32 round-off over 60 steps; measured 0.0 (the zoo "
            "does torch's float32 operations in the same order)"
        ),
    )


if __name__ == "__main__":
    main()
