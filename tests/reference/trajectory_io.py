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

`torch_trajectory` and `optax_trajectory` run a reference on that problem
for the generators (torch, jax and optax are imported only when called, so
this module loads in the zoo's environment too).
"""

import json
import os
import platform

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIRECTORY = os.path.join(HERE, "trajectories")


def difference(a, b, steps):
    """Largest `|a - b| / max(1, max |b|)` over `steps` (the test's metric).

    `a` and `b` map a step to its list of arrays (as the trajectories of
    `torch_trajectory` and `optax_trajectory` do).
    """
    worst = 0.0
    for k in steps:
        scale = max(1.0, max(float(np.max(np.abs(x))) for x in b[k]))
        diff = max(float(np.max(np.abs(x - y))) for x, y in zip(a[k], b[k]))
        worst = max(worst, diff / scale)
    return worst


def load_module(path, name):
    """Imports the Python file `path` (e.g. the authors' optimizer file
    from a fetched repository) as a module called `name`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def path(name):
    return os.path.join(DIRECTORY, f"{name}.json")


def exists(name):
    return os.path.exists(path(name))


def load(name):
    with open(path(name)) as f:
        return json.load(f)


def torch_trajectory(
    make_optimizer,
    steps,
    extra=None,
    *,
    grad_seed=0,
    init_seed=1,
    shapes=None,
    grads=None,
    output_first=False,
):
    """Weights of a torch optimizer stepped on `problem.gradients`.

    `make_optimizer(params)` returns the optimizer over the torch
    parameters made from `problem.initial(init_seed, shapes)` (it may keep
    them and the optimizer, e.g. to switch it to eval mode afterwards).
    Each step sets `p.grad` from `problem.gradients(steps, grad_seed,
    shapes)`, or from `grads` (per step, one array or torch tensor per
    parameter, e.g. sparse ones), then calls `step()`.

    With `output_first`, arrays of rank >= 2 are given to torch with their
    last axis (Keras's output axis) first, torch's layout, and returned in
    Keras's: for rules that treat the output axis specially (gradient
    centralization).

    Returns `{k: [arrays after k steps]}` for k = 0..steps (copies). With
    `extra`, `extra(optimizer, params)` is called after every step and
    `(trajectory, {k: its result})` is returned.
    """
    import torch

    from tests.reference import problem

    def to_torch(x):
        if output_first and x.ndim >= 2:
            x = np.ascontiguousarray(np.moveaxis(x, -1, 0))
        return torch.tensor(x)

    def to_keras(p):
        x = p.detach().numpy().copy()
        return np.moveaxis(x, 0, -1) if output_first and x.ndim >= 2 else x

    shapes = problem.SHAPES if shapes is None else shapes
    if grads is None:
        grads = problem.gradients(steps, grad_seed, shapes)
    params = [
        torch.nn.Parameter(to_torch(x))
        for x in problem.initial(init_seed, shapes)
    ]
    opt = make_optimizer(params)
    out = {0: [to_keras(p) for p in params]}
    extras = {}
    for step, step_grads in enumerate(grads[:steps], start=1):
        for p, g in zip(params, step_grads):
            p.grad = g if isinstance(g, torch.Tensor) else to_torch(g)
        opt.step()
        out[step] = [to_keras(p) for p in params]
        if extra is not None:
            extras[step] = extra(opt, params)
    return out if extra is None else (out, extras)


def optax_trajectory(
    tx, steps, extra=None, *, jit=False, grad_seed=0, init_seed=1, shapes=None
):
    """Weights of the optax transformation `tx` on `problem.gradients`.

    Parameters are the list of `problem.initial(init_seed, shapes)`; each
    step is `tx.update` then `optax.apply_updates`, jitted together if
    `jit` (XLA may fuse differently from the eager ops: keep what a stored
    file was written with).

    Returns `{k: [arrays after k steps]}` for k = 0..steps. With `extra`,
    `extra(state, grads)` is called at every step with the state that
    step's update reads (where branch margins are found) and its
    gradients, and `(trajectory, {k: its result})` is returned.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from tests.reference import problem

    shapes = problem.SHAPES if shapes is None else shapes

    def step_fn(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    if jit:
        step_fn = jax.jit(step_fn)
    params = [jnp.asarray(x) for x in problem.initial(init_seed, shapes)]
    state = tx.init(params)
    out = {0: [np.asarray(p) for p in params]}
    extras = {}
    for step, grads in enumerate(
        problem.gradients(steps, grad_seed, shapes), start=1
    ):
        grads = [jnp.asarray(g) for g in grads]
        if extra is not None:
            extras[step] = extra(state, grads)
        params, state = step_fn(params, state, grads)
        out[step] = [np.asarray(p) for p in params]
    return out if extra is None else (out, extras)


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
