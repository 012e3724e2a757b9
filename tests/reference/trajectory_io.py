"""Stored reference trajectories: the file format, written and read here.

A generator script (`tests/reference/generators/*.py`, run with the
reference library installed; it needs no Keras) steps the reference
implementation on `problem.gradients` from `problem.initial` and writes
`tests/reference/trajectories/<zoo name>.json`:

    {
      "optimizer": "zoo_radam",
      "reference": "torch.optim.RAdam",
      "versions": {"torch": "2.13.0", "numpy": "..."},
      "script": "tests/reference/generators/radam.py",
      "tolerance": 2e-6,
      "tolerance_reason": "float32 round-off over 30 steps ...",
      "cases": [
        {"name": "defaults", "zoo_kwargs": {...}, "reference_kwargs": {...},
         "learning_rate": 0.01, "steps": 30, "grad_seed": 0,
         "init_seed": 1, "shapes": [[3, 3, 2, 4], ...],
         "weights": {"1": [[...], ...], "10": [...], "30": [...]}}
      ]
    }

`weights[k]` holds the flattened variables after `k` steps. The test
(`tests/test_reference_trajectories.py`) replays each case with the zoo
optimizer and asserts `max |zoo - ref| / max(1, max |ref|) <= tolerance`
at every stored step.
"""

import json
import os
import platform

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIRECTORY = os.path.join(HERE, "trajectories")


def path(name):
    return os.path.join(DIRECTORY, f"{name}.json")


def exists(name):
    return os.path.exists(path(name))


def load(name):
    with open(path(name)) as f:
        return json.load(f)


def case(
    name,
    zoo_kwargs,
    learning_rate,
    trajectory,
    checkpoints,
    *,
    reference_kwargs=None,
    grad_seed=0,
    init_seed=1,
    shapes=None,
):
    """One case: `trajectory[k]` is the list of arrays after `k` steps."""
    from tests.reference import problem

    shapes = problem.SHAPES if shapes is None else shapes
    return {
        "name": name,
        "zoo_kwargs": zoo_kwargs,
        "reference_kwargs": reference_kwargs or {},
        "learning_rate": learning_rate,
        "steps": max(checkpoints),
        "grad_seed": grad_seed,
        "init_seed": init_seed,
        "shapes": [list(s) for s in shapes],
        "weights": {
            str(k): [
                np.asarray(a, "float64").ravel().tolist() for a in trajectory[k]
            ]
            for k in checkpoints
        },
    }


def write(
    name, reference, cases, *, script, versions, tolerance, tolerance_reason
):
    """Writes one optimizer's trajectory file (sorted keys, stable diffs)."""
    versions = dict(versions)
    versions.setdefault("numpy", np.__version__)
    versions.setdefault("python", platform.python_version())
    data = {
        "optimizer": name,
        "reference": reference,
        "versions": versions,
        "script": script,
        "tolerance": tolerance,
        "tolerance_reason": tolerance_reason,
        "cases": cases,
    }
    os.makedirs(DIRECTORY, exist_ok=True)
    with open(path(name), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
