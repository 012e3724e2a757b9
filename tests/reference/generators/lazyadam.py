"""Writes `lazyadam_sparse_torch.json`: torch.optim.SparseAdam trajectories.

Run in the reference environment (torch, no Keras):

    python -m tests.reference.generators.lazyadam

Two embedding-like tables receive, at every step, a sparse gradient: a
fixed number of rows drawn at random (so rows repeat within a step and
many rows stay untouched for several steps), with gradient values from
`problem.gradients`. torch sums repeated indices (`coalesce`), as the zoo
does. The indices are stored with each case; `tests/test_lazy_sparse.py`
replays them as `tf.IndexedSlices`. (The generic replay test only reads
`<zoo name>.json`, which LazyAdam does not need: its dense path is checked
against `keras.optimizers.Adam`.)
"""

import numpy as np
import torch

from tests.reference import problem, trajectory_io

NAME = "lazyadam_sparse_torch"
TABLES = [(12, 3), (7, 2)]
ROWS_PER_STEP = [4, 3]
STEPS = 30
CHECKPOINTS = [1, 2, 10, 30]


def indices(steps, seed):
    """Per step, per table, the touched row of each gradient position."""
    rng = np.random.default_rng(seed)
    found = [
        [
            rng.integers(0, t[0], n).tolist()
            for t, n in zip(TABLES, ROWS_PER_STEP)
        ]
        for _ in range(steps)
    ]
    found[0][0] = [1, 3, 1, 5]  # a repeated index from the first step on
    return found


def trajectory(kwargs, learning_rate, index_seed, grad_seed, init_seed):
    shapes = [(n, t[1]) for t, n in zip(TABLES, ROWS_PER_STEP)]
    rows = indices(STEPS, index_seed)
    grads = [
        [
            torch.sparse_coo_tensor(torch.tensor([i]), torch.tensor(g), t)
            for g, i, t in zip(step_grads, step_rows, TABLES)
        ]
        for step_grads, step_rows in zip(
            problem.gradients(STEPS, grad_seed, shapes), rows
        )
    ]
    out = trajectory_io.torch_trajectory(
        lambda params: torch.optim.SparseAdam(
            params, lr=learning_rate, **kwargs
        ),
        STEPS,
        init_seed=init_seed,
        shapes=TABLES,
        grads=grads,
    )
    return out, rows


def main():
    cases = []
    for name, zoo_kwargs, ref_kwargs, lr in (
        ("defaults", {}, {"eps": 1e-7}, 0.01),
        (
            "betas_large_epsilon",
            {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-2},
            {"betas": (0.8, 0.99), "eps": 1e-2},
            0.05,
        ),
    ):
        traj, rows = trajectory(ref_kwargs, lr, 2, 0, 1)
        case = trajectory_io.case(
            name,
            zoo_kwargs,
            lr,
            traj,
            CHECKPOINTS,
            reference_kwargs={
                k: list(v) if isinstance(v, tuple) else v
                for k, v in ref_kwargs.items()
            },
            shapes=TABLES,
        )
        case["index_seed"] = 2
        case["indices"] = rows
        case["rows_per_step"] = ROWS_PER_STEP
        cases.append(case)
    trajectory_io.write(
        NAME,
        "torch.optim.SparseAdam",
        cases,
        script="tests/reference/generators/lazyadam.py",
        versions={"torch": torch.__version__},
        tolerance=1e-6,
        tolerance_reason=(
            "float32 round-off over 30 steps (measured 8.8e-8 in both "
            "cases, uncompiled and XLA): SparseAdam computes the same "
            "epsilon-hat Adam on the touched rows; a different epsilon "
            "placement would show in the epsilon=1e-2 case"
        ),
    )


if __name__ == "__main__":
    main()
