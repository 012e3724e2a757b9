"""Draws every registered learning-rate schedule into one PNG grid.

    python tools/plot_schedules.py [--out docs/schedules.png] [--steps 1000]

Each schedule is drawn over `--steps` steps from the example arguments in
`EXAMPLES` below (chosen for 1,000 steps), evaluated in one vectorized
call. A registered schedule with no example is an error, so that the
picture in the README always shows them all. Uses matplotlib's Agg
renderer through `matplotlib.figure.Figure` (no pyplot, no display).
"""

import argparse
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_optim_zoo import schedules  # noqa: E402

T = 1000  # the steps the examples are chosen for


def _cosine():
    return schedules.get("zoo_cosine", initial_learning_rate=1.0, decay_steps=T)


#: `{name: (constructor arguments, or a function returning them)}`.
EXAMPLES = {
    "zoo_constant": dict(value=1.0),
    "zoo_linear": dict(start=1.0, end=0.1, steps=T),
    "zoo_polynomial": dict(
        initial_learning_rate=1.0,
        decay_steps=T,
        end_learning_rate=0.05,
        power=2.0,
    ),
    "zoo_exponential": dict(
        initial_learning_rate=1.0, decay_steps=200, decay_rate=0.5
    ),
    "zoo_inverse_time": dict(
        initial_learning_rate=1.0, decay_steps=100, decay_rate=0.5
    ),
    "zoo_step_decay": dict(initial_learning_rate=1.0, step_size=250, gamma=0.5),
    "zoo_multistep": dict(
        initial_learning_rate=1.0, milestones=[500, 750, 900], gamma=0.3
    ),
    "zoo_inverse_sqrt": dict(peak_learning_rate=1.0, warmup_steps=100),
    "zoo_noam": dict(d_model=512, warmup_steps=200),
    "zoo_cosine": dict(initial_learning_rate=1.0, decay_steps=T, alpha=0.1),
    "zoo_warmup_cosine": dict(
        peak_learning_rate=1.0, warmup_steps=100, decay_steps=T
    ),
    "zoo_sgdr": dict(
        initial_learning_rate=1.0, first_decay_steps=150, t_mul=2.0, m_mul=0.8
    ),
    "zoo_wsd": dict(
        peak_learning_rate=1.0,
        warmup_steps=100,
        stable_steps=600,
        decay_steps=300,
        decay="1-sqrt",
    ),
    "zoo_one_cycle": dict(max_learning_rate=1.0, total_steps=T),
    "zoo_one_cycle_momentum": dict(total_steps=T),
    "zoo_cyclical": dict(
        initial_learning_rate=0.1,
        maximal_learning_rate=1.0,
        step_size=125,
        mode="triangular2",
    ),
    "zoo_piecewise": dict(
        boundaries=[0, 200, 600, T], values=[0.2, 1.0, 1.0, 0.1]
    ),
    "zoo_warmup": lambda: dict(schedule=_cosine(), warmup_steps=150),
    "zoo_join": lambda: dict(
        schedules=[
            schedules.get("zoo_linear", start=0.0, end=1.0, steps=200),
            schedules.get(
                "zoo_exponential",
                initial_learning_rate=1.0,
                decay_steps=200,
                decay_rate=0.3,
            ),
        ],
        boundaries=[200],
    ),
    "zoo_scale": lambda: dict(schedule=_cosine(), factor=0.5),
    "zoo_adjustable_scale": lambda: dict(schedule=_cosine(), factor=0.5),
}


def build(name):
    """The example schedule registered as `name`."""
    args = EXAMPLES[name]
    return schedules.get(name, **(args() if callable(args) else args))


def draw(path, steps=T, columns=4):
    """Draws all registered schedules into a grid; returns `path`."""
    from matplotlib.figure import Figure

    names = schedules.list_schedules()
    missing = sorted(set(names) - set(EXAMPLES))
    if missing:
        raise SystemExit(
            f"No example arguments for {', '.join(missing)}: add them to "
            f"EXAMPLES in {__file__}."
        )
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(3.2 * columns, 2.2 * rows), dpi=100)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    t = np.arange(steps)
    for ax, name in zip(axes, names):
        values = np.asarray(build(name)(t))
        ax.plot(t, values, linewidth=1.5)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(bottom=0.0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    figure.suptitle(
        f"keras_optim_zoo schedules, steps 0..{steps - 1} "
        "(example arguments in tools/plot_schedules.py)",
        fontsize=11,
    )
    figure.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, format="png")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "schedules.png"))
    parser.add_argument("--steps", type=int, default=T)
    args = parser.parse_args(argv)
    print(draw(args.out, steps=args.steps))


if __name__ == "__main__":
    sys.exit(main())
