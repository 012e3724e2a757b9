"""Reference trajectories of `zoo_laprop`: the authors' `LaProp`.

The authors' code (github.com/Z-T-WANG/LaProp-Optimizer, `laprop.py`, not
on PyPI) is imported from a fetched copy: pass the path of its
`laprop.py`. `fixed_decay=False` (weight decay scaled by the learning
rate, which the authors do not offer) is checked against
`pytorch_optimizer.LaProp`. Run in the reference environment (no Keras):

    python -m tests.reference.generators.laprop \\
        /path/to/LaProp-Optimizer/laprop.py

Besides the constant-rate `cases`, the file holds `changing_cases`: the
learning rate and `beta_1` assigned new values before given steps (the
authors' momentum keeps the learning rate it was built with and its bias
correction follows both), replayed by `tests/test_adan_adopt_laprop.py`.
It also prints the largest difference of `pytorch_optimizer.LaProp`
(epsilon added before dividing by the bias correction) to the authors'.
"""

import json
import sys
import warnings
from importlib.metadata import version

import pytorch_optimizer
import torch

from tests.reference import trajectory_io

NAME = "zoo_laprop"
SCRIPT = "tests/reference/generators/laprop.py"
OFFICIAL = "Z-T-WANG/LaProp-Optimizer"
OFFICIAL_COMMIT = "a419916505bfb5d6a55f6b7b0ae14eb401b3be12"
# Steps 10, 11 and 12 straddle the start of the centered moment.
CHECKPOINTS = [1, 2, 10, 11, 12, 30, 40]

# (name, zoo kwargs, library, library kwargs, learning rate)
CASES = [
    ("defaults", {}, "authors", {}, 0.01),
    (
        "betas_epsilon",
        {"beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3},
        "authors",
        {"betas": (0.8, 0.95), "eps": 1e-3},
        0.02,
    ),
    (
        "centered",
        {"centered": True, "beta_2": 0.9},
        "authors",
        {"centered": True, "betas": (0.9, 0.9)},
        0.01,
    ),
    (
        "amsgrad",
        {"amsgrad": True, "beta_2": 0.9},
        "authors",
        {"amsgrad": True, "betas": (0.9, 0.9)},
        0.01,
    ),
    (
        "centered_amsgrad",
        {"centered": True, "amsgrad": True, "beta_2": 0.8},
        "authors",
        {"centered": True, "amsgrad": True, "betas": (0.9, 0.8)},
        0.01,
    ),
    (
        "fixed_decay",
        {"weight_decay": 0.01},
        "authors",
        {"weight_decay": 0.01},
        0.01,
    ),
    (
        "lr_scaled_decay",
        {"weight_decay": 0.5, "fixed_decay": False, "beta_1": 0.85},
        "pytorch_optimizer.LaProp",
        {
            "weight_decay": 0.5,
            "weight_decouple": True,
            "fixed_decay": False,
            "betas": (0.85, 0.999),
        },
        0.02,
    ),
]

# (name, zoo kwargs, authors' kwargs, learning rate,
#  {step: {argument: value}} assigned before that step)
CHANGING = [
    (
        "lr_and_beta_1_change",
        {"weight_decay": 0.01},
        {"weight_decay": 0.01},
        0.02,
        {"16": {"learning_rate": 0.005}, "26": {"beta_1": 0.7}},
    ),
]


def run(module, library, kwargs, lr, steps):
    if library == "authors":
        return trajectory_io.torch_trajectory(
            lambda params: module.LaProp(params, lr=lr, **kwargs), steps
        )
    return trajectory_io.torch_trajectory(
        lambda params: pytorch_optimizer.LaProp(
            params, lr=lr, foreach=False, **kwargs
        ),
        steps,
    )


def run_changing(module, kwargs, lr, changes, steps):
    """The authors' optimizer with `changes` assigned before their steps."""
    from tests.reference import problem

    params = [torch.nn.Parameter(torch.tensor(x)) for x in problem.initial()]
    opt = module.LaProp(params, lr=lr, **kwargs)
    out = {0: [p.detach().numpy().copy() for p in params]}
    for step, grads in enumerate(problem.gradients(steps), start=1):
        for key, value in changes.get(str(step), {}).items():
            for group in opt.param_groups:
                if key == "learning_rate":
                    group["lr"] = value
                else:
                    group["betas"] = (value, group["betas"][1])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt.step()
        out[step] = [p.detach().numpy().copy() for p in params]
    return out


def peers(module):
    steps = max(CHECKPOINTS)
    for name, _, library, kwargs, lr in CASES:
        if library != "authors":
            continue
        ref = run(module, "authors", kwargs, lr, steps)
        lib = dict(kwargs)
        if "amsgrad" in lib:
            lib["ams_bound"] = lib.pop("amsgrad")
        if "weight_decay" in lib:
            lib["fixed_decay"] = True
        other = run(module, "pytorch_optimizer", lib, lr, steps)
        print(
            f"{name}: pytorch_optimizer.LaProp vs the authors' "
            f"{trajectory_io.difference(other, ref, CHECKPOINTS):.2e}"
        )


def main():
    warnings.simplefilter("ignore", UserWarning)  # the authors' torch API
    module = trajectory_io.load_module(sys.argv[1], "official_laprop")
    steps = max(CHECKPOINTS)
    cases = []
    for name, zoo_kwargs, library, ref_kwargs, lr in CASES:
        traj = run(module, library, ref_kwargs, lr, steps)
        label = f"{OFFICIAL} laprop.LaProp" if library == "authors" else library
        cases.append(
            trajectory_io.case(
                name,
                zoo_kwargs,
                lr,
                traj,
                CHECKPOINTS,
                reference_kwargs={"library": label, **ref_kwargs},
            )
        )
    changing = []
    for name, zoo_kwargs, ref_kwargs, lr, changes in CHANGING:
        traj = run_changing(module, ref_kwargs, lr, changes, steps)
        case = trajectory_io.case(
            name,
            zoo_kwargs,
            lr,
            traj,
            CHECKPOINTS + [15, 16, 25, 26],
            reference_kwargs={
                "library": f"{OFFICIAL} laprop.LaProp",
                **ref_kwargs,
            },
        )
        case["changes"] = changes
        changing.append(case)
    peers(module)
    trajectory_io.write(
        NAME,
        f"{OFFICIAL} laprop.LaProp @{OFFICIAL_COMMIT[:7]} "
        "(fixed_decay=False: pytorch_optimizer.LaProp)",
        cases,
        script=SCRIPT,
        versions={
            OFFICIAL: OFFICIAL_COMMIT,
            "torch": torch.__version__,
            "pytorch_optimizer": version("pytorch_optimizer"),
        },
        tolerance=TOLERANCE,
        tolerance_reason=TOLERANCE_REASON,
    )
    # The changing-rate cases, in the same file under their own key (the
    # shared replay reads `cases` only, with a constant rate).
    path = trajectory_io.path(NAME)
    with open(path) as f:
        data = json.load(f)
    data["changing_cases"] = changing
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


TOLERANCE = 5e-7
TOLERANCE_REASON = (
    "float32 round-off over 40 steps: measured at most 1.2e-7 (fixed_decay "
    "uncompiled, and the changing-rate case), the running averages of the "
    "learning rate and of the bias correction being float32 variables "
    "here and Python floats for the authors"
)

if __name__ == "__main__":
    main()
