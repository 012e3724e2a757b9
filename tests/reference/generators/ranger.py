"""Reference trajectories of `zoo_ranger`: the authors' `ranger2020.py`.

The authors' code is not on PyPI: take `ranger/ranger2020.py` from
lessw2020/Ranger-Deep-Learning-Optimizer (commit
c82a30460684c7301086d84185a1927b1c256afa, "2020.9.4") and run, in the
reference environment (torch, no Keras):

    python -m tests.reference.generators.ranger path/to/ranger2020.py

Torch stores the output axis first, and the authors' gradient
centralization averages over the other axes; the parameters are given to
torch in that layout (`output_first`), so that both compute the same
mean. The cases with weight decay or `gc_loc=False` use the authors' file
with its one aliasing line changed (`G_grad = exp_avg` ->
`G_grad = exp_avg.clone()`): unpatched, the decay and the centralization
of the step are written into the momentum buffer on the steps before
rectification. The script prints how far the unpatched code is.
"""

import sys
from importlib.metadata import version

from tests.reference import trajectory_io

NAME = "zoo_ranger"
SCRIPT = "tests/reference/generators/ranger.py"
CHECKPOINTS = [1, 2, 5, 6, 7, 12, 30, 40]
ALIAS = "G_grad = exp_avg\n"

# (name, zoo kwargs, authors' kwargs, learning rate, needs the alias fix)
CASES = [
    ("defaults", {}, {}, 0.01, False),
    (
        "lookahead_betas_conv_only",
        {
            "sync_period": 4,
            "slow_step_size": 0.8,
            "beta_1": 0.9,
            "beta_2": 0.99,
            "epsilon": 1e-6,
            "gc_conv_only": True,
        },
        {
            "k": 4,
            "alpha": 0.8,
            "betas": (0.9, 0.99),
            "eps": 1e-6,
            "gc_conv_only": True,
        },
        0.02,
        False,
    ),
    ("no_gc", {"use_gc": False}, {"use_gc": False}, 0.01, False),
    (
        "weight_decay",
        {"weight_decay": 0.05, "sync_period": 5},
        {"weight_decay": 0.05, "k": 5},
        0.01,
        True,
    ),
    (
        "gc_on_the_step",
        {"gc_loc": False, "beta_2": 0.99},
        {"gc_loc": False, "betas": (0.95, 0.99)},
        0.01,
        True,
    ),
]


def authors(path, fixed):
    source = open(path).read()
    if fixed:
        assert source.count(ALIAS) == 1
        source = source.replace(ALIAS, "G_grad = exp_avg.clone()\n")
    namespace = {"__name__": "ranger2020"}
    exec(compile(source, path, "exec"), namespace)
    return namespace["Ranger"]


def run(cls, kwargs, lr, steps):
    return trajectory_io.torch_trajectory(
        lambda params: cls(params, lr=lr, **kwargs), steps, output_first=True
    )


def main(path):
    steps = max(CHECKPOINTS)
    cases = []
    for name, zoo_kwargs, ref_kwargs, lr, fixed in CASES:
        got = run(authors(path, fixed), ref_kwargs, lr, steps)
        if fixed:
            raw = run(authors(path, False), ref_kwargs, lr, steps)
            print(
                f"{name}: unpatched authors' code differs by "
                f"{trajectory_io.difference(raw, got, CHECKPOINTS):.2e}"
            )
        cases.append(
            trajectory_io.case(
                name,
                zoo_kwargs,
                lr,
                got,
                CHECKPOINTS,
                reference_kwargs={
                    **{
                        k: list(v) if isinstance(v, tuple) else v
                        for k, v in ref_kwargs.items()
                    },
                    "alias_fixed": fixed,
                },
            )
        )
    trajectory_io.write(
        NAME,
        "lessw2020/Ranger-Deep-Learning-Optimizer ranger2020.py (c82a304)",
        cases,
        script=SCRIPT,
        versions={"torch": version("torch"), "ranger2020": "2020.9.4"},
        tolerance=2e-6,
        tolerance_reason=(
            "float32 round-off over 40 steps; torch and the zoo round the "
            "GC mean and the Lookahead interpolation in different orders"
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1])
