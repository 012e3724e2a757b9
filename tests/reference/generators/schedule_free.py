"""Trajectories of the authors' schedule-free SGD and AdamW.

Run in the reference environment (torch + schedulefree, no Keras):

    /work/refvenv/bin/python -m tests.reference.generators.schedule_free

Writes `zoo_schedule_free_sgd.json` and `zoo_schedule_free_adamw.json`.
`weights` are the training point y (what the zoo's model variables hold);
`eval_weights` the evaluation point x that the authors' `optimizer.eval()`
writes into the parameters, recorded from separate runs stopped at each
checkpoint (their `train()` after `eval()` recomputes y with round-off, so
the training runs are never switched to eval).
"""

import importlib.metadata

import numpy as np
import schedulefree
import torch

from tests.reference import trajectory_io

CHECKPOINTS = [1, 2, 10, 30]
SCRIPT = "tests/reference/generators/schedule_free.py"


def _run(make, learning_rate, reference_kwargs, steps, evaluate):
    made = []

    def optimizer(params):
        opt = make(params, lr=learning_rate, **reference_kwargs)
        opt.train()
        made.append((opt, params))
        return opt

    trajectory = trajectory_io.torch_trajectory(optimizer, steps)
    opt, params = made[0]
    state = [
        {k: v.detach().numpy().copy() for k, v in opt.state[p].items()}
        for p in params
    ]
    if evaluate:
        opt.eval()
        return [p.detach().numpy().copy() for p in params], state
    return trajectory, state


def _case(name, make, learning_rate, zoo_kwargs, reference_kwargs, beta):
    steps = max(CHECKPOINTS)
    trajectory, _ = _run(make, learning_rate, reference_kwargs, steps, False)
    case = trajectory_io.case(
        name,
        zoo_kwargs,
        learning_rate,
        trajectory,
        CHECKPOINTS,
        reference_kwargs=reference_kwargs,
    )
    case["eval_weights"] = {}
    worst = 0.0
    for k in CHECKPOINTS:
        x, state = _run(make, learning_rate, reference_kwargs, k, True)
        case["eval_weights"][str(k)] = [
            np.asarray(a, "float64").ravel().tolist() for a in x
        ]
        # The eval point is x = (y - (1 - beta) z) / beta.
        for a, y, s in zip(x, trajectory[k], state):
            y, z = y.astype("float64"), s["z"].astype("float64")
            worst = max(
                worst, float(np.max(np.abs(a - (y - (1 - beta) * z) / beta)))
            )
    print(f"{name}: eval() vs (y - (1-beta) z)/beta: {worst:.1e}")
    return case


def main():
    versions = {
        "schedulefree": importlib.metadata.version("schedulefree"),
        "torch": torch.__version__,
    }
    torch.set_num_threads(1)
    sgd = schedulefree.SGDScheduleFree
    sgd_cases = [
        _case("defaults", sgd, 1.0, {}, {}, 0.9),
        _case(
            "warmup_weighting_l2_low_momentum",
            sgd,
            0.5,
            {
                "momentum": 0.6,
                "warmup_steps": 5,
                "r": 0.5,
                "weight_lr_power": 1.5,
                "l2_penalty": 0.01,
            },
            {
                "momentum": 0.6,
                "warmup_steps": 5,
                "r": 0.5,
                "weight_lr_power": 1.5,
                "weight_decay": 0.01,
            },
            0.6,
        ),
        _case(
            "warmup_uniform_weights",
            sgd,
            0.2,
            {"momentum": 0.95, "warmup_steps": 8, "weight_lr_power": 0.0},
            {"momentum": 0.95, "warmup_steps": 8, "weight_lr_power": 0.0},
            0.95,
        ),
    ]
    trajectory_io.write(
        "zoo_schedule_free_sgd",
        "schedulefree.SGDScheduleFree 1.4.1",
        sgd_cases,
        script=SCRIPT,
        versions=versions,
        tolerance=1e-6,
        tolerance_reason=(
            "float32 round-off over 30 steps; the authors compute the "
            "averaging weight and warmup factor in double precision, we in "
            "float32 (measured: 1.7e-7)"
        ),
    )
    adamw = schedulefree.AdamWScheduleFree
    adamw_cases = [
        _case("defaults", adamw, 0.01, {}, {}, 0.9),
        _case(
            "betas_eps_warmup_weighting",
            adamw,
            0.05,
            {
                "beta_1": 0.8,
                "beta_2": 0.99,
                "epsilon": 1e-6,
                "warmup_steps": 5,
                "r": 0.5,
                "weight_lr_power": 1.0,
            },
            {
                "betas": (0.8, 0.99),
                "eps": 1e-6,
                "warmup_steps": 5,
                "r": 0.5,
                "weight_lr_power": 1.0,
            },
            0.8,
        ),
        _case(
            "warmup_authors_weighting",
            adamw,
            0.05,
            {"warmup_steps": 10},
            {"warmup_steps": 10},
            0.9,
        ),
    ]
    trajectory_io.write(
        "zoo_schedule_free_adamw",
        "schedulefree.AdamWScheduleFree 1.4.1",
        adamw_cases,
        script=SCRIPT,
        versions=versions,
        tolerance=1e-6,
        tolerance_reason=(
            "float32 round-off over 30 steps; the authors compute the "
            "averaging weight and warmup factor in double precision, we in "
            "float32, and recompute x from y and z (measured: 3.9e-7)"
        ),
    )


if __name__ == "__main__":
    main()
