"""The README's optimizer table, measured: one row per registered optimizer.

    python -m tools.optimizer_table [--steps 100]

Columns: name, paper (the first reference of the docstring), what it is
checked against, the largest difference measured (Keras twins: max over
the parity variants and the four calling modes of
`tests.reference.keras_parity`, absolute, over 100 steps; others: the
largest relative difference to the stored reference trajectories, over
all cases, uncompiled and XLA), and the optimizer state in bytes per
float32 parameter, built on the MNIST-1D MLP of `make demo` (40-100-100-10;
Adafactor's factored and Muon's routed state depend on the shapes).
"""

import argparse
import inspect
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

import keras_optim_zoo  # noqa: E402
from tests import test_reference_trajectories as trajectories  # noqa: E402
from tests.reference import keras_parity, trajectory_io  # noqa: E402


def paper(cls):
    doc = inspect.getdoc(cls) or ""
    match = re.search(
        r"References:\s*\n\s*-\s*(.+?)(?:\n\s*-|\n\s*\n|$)", doc, re.S
    )
    return " ".join(match.group(1).split()) if match else ""


def checked_against(cls):
    if cls.keras_equivalent is not None:
        name, fixed = cls.keras_equivalent
        args = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
        return f"`keras.optimizers.{name}({args})` {keras.__version__}"
    return trajectory_io.load(cls.registered_name)["reference"]


def largest_difference(cls, steps):
    name = cls.registered_name
    if cls.keras_equivalent is not None:
        return max(
            keras_parity.compare(name, kwargs, mode, steps=steps)
            for kwargs in keras_parity.variants(cls)
            for mode in keras_parity.MODES
        )
    data = trajectory_io.load(name)
    return max(
        trajectories.difference(trajectories.replay(name, case, mode), case)
        for case in data["cases"]
        for mode in trajectories.MODES
    )


def state_bytes(name):
    model = keras.Sequential(
        [
            keras.Input((40,)),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    opt = keras_optim_zoo.get(name)
    opt.build(model.trainable_variables)
    return opt.state_bytes()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--optimizers", nargs="*", default=None)
    args = parser.parse_args(argv)
    print(
        "| name | paper | checked against | largest difference | "
        "state bytes / param |"
    )
    print("|---|---|---|---|---|")
    for name in args.optimizers or keras_optim_zoo.list_optimizers():
        cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
        diff = largest_difference(cls, args.steps)
        kind = "abs" if cls.keras_equivalent is not None else "rel"
        print(
            f"| `{name}` | {paper(cls)} | {checked_against(cls)} | "
            f"{diff:.1e} {kind} | {state_bytes(name):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
