"""Reference trajectories of `zoo_signum` from `pytorch_optimizer.SignSGD`.

Run in the reference environment (no Keras):

    python -m tests.reference.generators.signum
"""

from importlib.metadata import version

import numpy as np
import pytorch_optimizer
import torch

from tests.reference import problem, trajectory_io

NAME = "zoo_signum"
CHECKPOINTS = [1, 2, 10, 30, 40]

# (name, zoo kwargs, pytorch_optimizer kwargs, learning rate)
CASES = [
    ("defaults", {}, {}, 0.01),
    (
        "signsgd_weight_decay",
        {"momentum": 0.0, "weight_decay": 0.1},
        {"momentum": 0.0, "weight_decay": 0.1},
        0.02,
    ),
    (
        "momentum_weight_decay",
        {"momentum": 0.5, "weight_decay": 0.05},
        {"momentum": 0.5, "weight_decay": 0.05},
        0.005,
    ),
]


def smallest_sign_argument(opt, params):
    """Smallest |m| (|g| without momentum) over this step's elements."""
    return min(
        float(opt.state[p].get("momentum_buffer", p.grad).abs().min())
        for p in params
    )


def trajectory(kwargs, learning_rate, steps, grad_seed=0, init_seed=1):
    """Weights after each step; also the smallest |sign argument| seen."""
    # sign(0) = 0 would make round-off decide a step: the problem's
    # gradients have no exact zeros.
    for grads in problem.gradients(steps, grad_seed):
        assert all(np.all(g != 0) for g in grads)
    out, smallest = trajectory_io.torch_trajectory(
        lambda params: pytorch_optimizer.SignSGD(
            params,
            lr=learning_rate,
            weight_decouple=True,
            foreach=False,
            **kwargs,
        ),
        steps,
        smallest_sign_argument,
        grad_seed=grad_seed,
        init_seed=init_seed,
    )
    return out, min(smallest.values())


def main():
    cases = []
    for name, zoo_kwargs, ref_kwargs, lr in CASES:
        traj, smallest = trajectory(ref_kwargs, lr, max(CHECKPOINTS))
        print(f"{name}: smallest |m| = {smallest:.3g}")
        cases.append(
            trajectory_io.case(
                name,
                zoo_kwargs,
                lr,
                traj,
                CHECKPOINTS,
                reference_kwargs={
                    **ref_kwargs,
                    "weight_decouple": True,
                    "foreach": False,
                },
            )
        )
    trajectory_io.write(
        NAME,
        "pytorch_optimizer.SignSGD",
        cases,
        script="tests/reference/generators/signum.py",
        versions={
            "pytorch_optimizer": version("pytorch_optimizer"),
            "torch": torch.__version__,
        },
        tolerance=2e-6,
        tolerance_reason=(
            "Without weight decay the trajectories are bit-identical. With "
            "it, torch multiplies by float32(1 - lr*wd), whose rounding "
            "changes the decay rate by -1.3e-5 (lr*wd = 0.002) and -7.2e-5 "
            "(0.00025) relative; over 40 steps that is 1.0e-6 and 7.2e-7 of "
            "the weights (measured: 1.5e-6 and 7.7e-7; the zoo computes "
            "w - w*wd*lr as Keras does). No sign flips: the smallest "
            "|momentum| seen is 1e-4, far above round-off"
        ),
    )


if __name__ == "__main__":
    main()
