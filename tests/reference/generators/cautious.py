"""Trajectories of cautious Lion: the authors' C-Lion and pytorch-optimizer.

Run in the reference environment (torch, no Keras), with the authors'
`c_lion.py` (github.com/kyleliang919/C-Optim, commit 2c0517c) in a folder
named by `COPTIM` (it imports only torch):

    COPTIM=/tmp/coptim /work/refvenv/bin/python \
        -m tests.reference.generators.cautious

Writes `zoo_lion.json`. `zoo_lion` is also checked against
`keras.optimizers.Lion`, which has no cautious form; these cases check the
base's `cautious=True` (`core/base.py`, `cautious_step`) on a rule with a
Keras twin.
"""

import importlib
import os
import sys
from importlib.metadata import version

import pytorch_optimizer
import torch

from tests.reference import trajectory_io

CHECKPOINTS = [1, 2, 10, 30]
SCRIPT = "tests/reference/generators/cautious.py"
PYTORCH_OPTIMIZER = version("pytorch_optimizer")
COPTIM_COMMIT = "2c0517c4db2e50b56d389ba4803eab1f4b3b8ae3"


def _authors_lion():
    sys.path.insert(0, os.environ.get("COPTIM", "/tmp/coptim"))
    return importlib.import_module("c_lion").Lion


def _case(name, learning_rate, zoo_kwargs, make, reference_kwargs):
    trajectory = trajectory_io.torch_trajectory(make, max(CHECKPOINTS))
    return trajectory_io.case(
        name,
        {"cautious": True, **zoo_kwargs},
        learning_rate,
        trajectory,
        CHECKPOINTS,
        reference_kwargs=reference_kwargs,
    )


def main():
    torch.set_num_threads(1)
    authors = _authors_lion()
    cases = [
        _case(
            "defaults (authors' C-Lion)",
            0.001,
            {},
            lambda p: authors(p, lr=0.001, betas=(0.9, 0.99)),
            {"betas": [0.9, 0.99]},
        ),
        _case(
            "betas_weight_decay (authors' C-Lion)",
            0.003,
            {"beta_1": 0.8, "beta_2": 0.95, "weight_decay": 0.5},
            lambda p: authors(p, lr=0.003, betas=(0.8, 0.95), weight_decay=0.5),
            {"betas": [0.8, 0.95], "weight_decay": 0.5},
        ),
        _case(
            "betas_weight_decay (pytorch_optimizer.Lion)",
            0.003,
            {"beta_1": 0.8, "beta_2": 0.95, "weight_decay": 0.5},
            lambda p: pytorch_optimizer.Lion(
                p,
                lr=0.003,
                betas=(0.8, 0.95),
                weight_decay=0.5,
                cautious=True,
                foreach=False,
            ),
            {
                "betas": [0.8, 0.95],
                "weight_decay": 0.5,
                "cautious": True,
                "foreach": False,
            },
        ),
    ]
    trajectory_io.write(
        "zoo_lion",
        f"C-Optim c_lion.py {COPTIM_COMMIT[:7]} (authors' cautious Lion); "
        f"pytorch_optimizer.Lion {PYTORCH_OPTIMIZER}",
        cases,
        script=SCRIPT,
        versions={
            "torch": torch.__version__,
            "pytorch_optimizer": PYTORCH_OPTIMIZER,
            "c_optim": COPTIM_COMMIT,
        },
        tolerance=2e-6,
        tolerance_reason=TOLERANCE_REASON,
    )


TOLERANCE_REASON = (
    "float32 round-off. The base recovers the rule's step as "
    "u = param - new_param before masking it (one rounding of param, "
    "measured 3.5e-7 over 30 steps without weight decay); with weight decay "
    "both references multiply by float32(1 - lr*wd), whose rounding changes "
    "the decay rate (lr*wd = 0.0015) where the zoo computes w - w*wd*lr as "
    "Keras does (measured 9.9e-7). The authors' C-Lion and pytorch-optimizer "
    "agree bit for bit on these cases"
)


if __name__ == "__main__":
    main()
