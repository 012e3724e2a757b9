"""Reference trajectories of `zoo_parameter_groups`: torch optimizers with
`param_groups` (per-group `lr` and `weight_decay`), a torch scheduler over
every group, and two torch optimizers side by side for groups trained by
different algorithms.

Run in the reference environment (torch; no Keras), from the repository
root:

    python -m tests.reference.generators.parameter_groups

A case's `zoo_kwargs` hold the wrapper's arguments: `"optimizer"` (the
default group's optimizer, a registered or Keras name with its
arguments), `"groups"` (each with `patterns` over the variable names
`w0`...`w5` of `problem.SHAPES`; a group's own optimizer comes with its
own `learning_rate`) and, optionally, `"schedule"`, the wrapper's learning
rate as a schedule config (`tests/test_wrappers.py` builds them).
"""

from importlib.metadata import version

import torch

from tests.reference import trajectory_io

CHECKPOINTS = [1, 2, 3, 5, 8, 12, 20, 30, 40]
STEPS = max(CHECKPOINTS)
SCRIPT = "tests/reference/generators/parameter_groups.py"
TOLERANCE = 5e-7
REASON = (
    "float32 round-off over 40 steps (torch's Adam puts epsilon after the "
    "bias correction, Keras's before)"
)
# Weight decay: torch multiplies the weights by `1 - lr * wd` rounded to
# float32, Keras subtracts `p * wd * lr`. Unless `lr * wd` is a power of two
# the factor's rounding (2.3e-8 relative at lr=0.01, wd=0.05) biases every
# step the same way: plain AdamW, torch against Keras, differs by 1.2e-6
# after 40 steps there, 6.2e-8 without decay. The cases use rates and
# decays whose products are powers of two, where both forms are exact, so
# that the groups are what is compared; only the scheduled case's
# changing rate keeps some of it.
LR = 2.0**-7
DECAY = 2.0**-4
# problem.SHAPES: w0 (3, 3, 2, 4) a convolution kernel; w1, w3, w5 1-D;
# w2, w4 (5, 7).
ONE_D = [1, 3, 5]


def inner(name, **kwargs):
    return {"name": name, "kwargs": kwargs}


class _Both:
    """Several torch optimizers (and schedulers) stepped as one."""

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    def step(self):
        for optimizer in self.optimizers:
            optimizer.step()


def _adamw_groups(params, lr, gamma=None):
    # Default group: w2, w4 (decayed); w0 at 0.25 times the rate; the
    # 1-D variables without decay.
    opt = torch.optim.AdamW(
        [
            {"params": [params[2], params[4]]},
            {"params": [params[0]], "lr": 0.25 * lr},
            {"params": [params[i] for i in ONE_D], "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.99),
        eps=1e-8,
        weight_decay=DECAY,
    )
    if gamma is None:
        return opt
    scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)

    class _Scheduled:
        def step(self):
            opt.step()
            scheduler.step()

    return _Scheduled()


ADAMW_GROUPS = [
    {"patterns": ["w0"], "learning_rate_multiplier": 0.25},
    {"patterns": ["w1", "w3", "w5"], "weight_decay": 0.0, "name": "no_decay"},
]
ADAMW = inner("zoo_adamw", beta_2=0.99, epsilon=1e-8, weight_decay=DECAY)


def main():
    cases = []
    # 1. SGD with momentum, per-group rates (constant: torch's velocity and
    # Keras's agree only while the rate does not change).
    lr = 0.05
    weights = trajectory_io.torch_trajectory(
        lambda p: torch.optim.SGD(
            [
                {"params": [p[i] for i in (1, 2, 3, 5)]},
                {"params": [p[0]], "lr": 0.2 * lr},
                {"params": [p[4]], "lr": 2.5 * lr},
            ],
            lr=lr,
            momentum=0.9,
        ),
        STEPS,
    )
    cases.append(
        trajectory_io.case(
            "momentum_rate_multipliers",
            {
                "optimizer": inner("zoo_momentum", momentum=0.9),
                "groups": [
                    {"patterns": ["w0"], "learning_rate_multiplier": 0.2},
                    {"patterns": ["w4"], "learning_rate_multiplier": 2.5},
                ],
            },
            lr,
            weights,
            CHECKPOINTS,
        )
    )
    # 2. AdamW, per-group rate and weight decay, constant rate.
    lr = LR
    weights = trajectory_io.torch_trajectory(
        lambda p: _adamw_groups(p, lr), STEPS
    )
    cases.append(
        trajectory_io.case(
            "adamw_rate_and_decay",
            {"optimizer": ADAMW, "groups": ADAMW_GROUPS},
            lr,
            weights,
            CHECKPOINTS,
        )
    )
    # 3. The same under a scheduler over every group (torch's
    # ExponentialLR multiplies each group's rate, keeping the ratios): the
    # wrapper's learning rate is the schedule.
    gamma = 0.93
    weights = trajectory_io.torch_trajectory(
        lambda p: _adamw_groups(p, lr, gamma), STEPS
    )
    cases.append(
        trajectory_io.case(
            "adamw_exponential_schedule",
            {
                "optimizer": ADAMW,
                "groups": ADAMW_GROUPS,
                "schedule": {
                    "class_name": "zoo_exponential",
                    "config": {
                        "initial_learning_rate": lr,
                        "decay_steps": 1,
                        "decay_rate": gamma,
                    },
                },
            },
            lr,
            weights,
            CHECKPOINTS,
        )
    )
    # 4. Two algorithms: AdamW by default, SGD with momentum for the
    # convolution kernel and the 1-D variables at its own rate (the
    # multiplier derived from the two rates).
    lr, sgd_lr = LR, 0.04
    weights = trajectory_io.torch_trajectory(
        lambda p: _Both(
            torch.optim.AdamW(
                [p[2], p[4]],
                lr=lr,
                betas=(0.9, 0.99),
                eps=1e-8,
                weight_decay=DECAY,
            ),
            torch.optim.SGD(
                [p[0], *(p[i] for i in ONE_D)], lr=sgd_lr, momentum=0.8
            ),
        ),
        STEPS,
    )
    cases.append(
        trajectory_io.case(
            "adamw_and_momentum",
            {
                "optimizer": ADAMW,
                "groups": [
                    {
                        "patterns": ["w0", "w1", "w3", "w5"],
                        "optimizer": {
                            **inner("zoo_momentum", momentum=0.8),
                            "learning_rate": sgd_lr,
                        },
                    }
                ],
            },
            lr,
            weights,
            CHECKPOINTS,
        )
    )
    trajectory_io.write(
        "zoo_parameter_groups",
        f"torch.optim param_groups (SGD, AdamW, ExponentialLR) "
        f"{version('torch')}",
        cases,
        script=SCRIPT,
        versions={"torch": version("torch")},
        tolerance=TOLERANCE,
        tolerance_reason=REASON,
    )


if __name__ == "__main__":
    main()
