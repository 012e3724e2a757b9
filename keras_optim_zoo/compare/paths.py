"""Optimizer paths on 2-D test surfaces, and schedule plots.

    from keras_optim_zoo.compare import paths
    traces = paths.run_paths("rosenbrock", ["zoo_sgd", "zoo_adam"])
    paths.plot_paths({"rosenbrock": traces}, "paths.png")

Each path is made by the real zoo optimizer: the point is a
`keras.Variable` of shape `(2,)`, its gradient comes from
`tf.GradientTape`, and `optimizer.apply_gradients` moves it, exactly as in
training. Surfaces are written with `keras.ops`.
"""

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import keras_optim_zoo
from keras_optim_zoo.compare.plots import new_figure
from keras_optim_zoo.compare.runner import (
    GUIDE_OPTIMIZERS,
    describe,
    parse_config,
)


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _beale(x, y):
    return (
        (1.5 - x + x * y) ** 2
        + (2.25 - x + x * y**2) ** 2
        + (2.625 - x + x * y**3) ** 2
    )


def _ravine(x, y):
    # Condition number 100: 0.01 along x, 1 across.
    return 0.01 * x**2 + y**2


def _two_minima(x, y):
    # A shallow, narrow basin near (-1, 0) next to a deep, wide one near
    # (2, 0), in a gentle bowl: plain gradient descent stops in the first,
    # momentum carries the point over into the second.
    shallow = 0.4 * ops.exp(-((x + 1.0) ** 2 + y**2) / 0.2)
    deep = 1.6 * ops.exp(-((x - 2.0) ** 2 + y**2) / 1.5)
    return 0.1 * (x**2 + y**2) - shallow - deep


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D test function with where to start and what to draw.

    Attributes:
        name: Key in `SURFACES`.
        fn: `fn(x, y)` with `keras.ops` (works on tensors and arrays).
        start: Starting point.
        minima: Points marked with a star (global minimum first).
        xlim: Plotted x range.
        ylim: Plotted y range.
        steps: Default number of optimizer steps.
        learning_rates: Default learning rate per optimizer name, chosen so
            that each default optimizer gets somewhere in `steps` steps
            without diverging.
        log_levels: Whether contour levels are spaced logarithmically.
    """

    name: str
    fn: Callable
    start: tuple
    minima: tuple
    xlim: tuple
    ylim: tuple
    steps: int
    learning_rates: dict
    log_levels: bool = True


SURFACES = {
    s.name: s
    for s in [
        Surface(
            "rosenbrock",
            _rosenbrock,
            start=(-1.5, 2.0),
            minima=((1.0, 1.0),),
            xlim=(-2.0, 2.0),
            ylim=(-1.0, 3.0),
            steps=1000,
            learning_rates={
                "zoo_sgd": 1e-3,
                "zoo_momentum": 5e-4,
                "zoo_nesterov": 5e-4,
                "zoo_rmsprop": 1e-2,
                "zoo_adam": 5e-2,
            },
        ),
        Surface(
            "beale",
            _beale,
            start=(1.0, 1.7),
            minima=((3.0, 0.5),),
            xlim=(-4.5, 4.5),
            ylim=(-4.5, 4.5),
            steps=500,
            learning_rates={
                "zoo_sgd": 1e-3,
                "zoo_momentum": 5e-4,
                "zoo_nesterov": 5e-4,
                "zoo_rmsprop": 1e-2,
                "zoo_adam": 5e-2,
            },
        ),
        Surface(
            "ravine",
            _ravine,
            start=(-9.0, 2.0),
            minima=((0.0, 0.0),),
            xlim=(-10.0, 10.0),
            ylim=(-3.0, 3.0),
            steps=150,
            learning_rates={
                "zoo_sgd": 0.9,
                "zoo_momentum": 0.2,
                "zoo_nesterov": 0.2,
                "zoo_rmsprop": 0.1,
                "zoo_adam": 0.3,
            },
        ),
        Surface(
            "two_minima",
            _two_minima,
            start=(-3.5, 1.0),
            minima=((1.83, 0.0), (-0.95, 0.0)),
            xlim=(-4.5, 4.5),
            ylim=(-2.5, 2.5),
            steps=300,
            learning_rates={
                "zoo_sgd": 0.05,
                "zoo_momentum": 0.05,
                "zoo_nesterov": 0.05,
                "zoo_rmsprop": 0.05,
                "zoo_adam": 0.1,
            },
            log_levels=False,
        ),
    ]
}

DEFAULT_OPTIMIZERS = GUIDE_OPTIMIZERS


def _surface(surface):
    if isinstance(surface, Surface):
        return surface
    try:
        return SURFACES[surface]
    except KeyError:
        raise KeyError(
            f"Unknown surface {surface!r}; known: {', '.join(SURFACES)}."
        ) from None


def run_path(surface, config, steps=None):
    """Moves a point with one zoo optimizer; returns the visited points.

    Args:
        surface: A `Surface` or a key of `SURFACES`.
        config: A string as `compare.parse_config` takes it (`"zoo_adam"`,
            `"zoo_sgd:learning_rate=0.01"`, a JSON config). Without a
            `learning_rate`, the surface's default for that name is used.
        steps: Optimizer steps. Defaults to the surface's `steps`.

    Returns:
        `(label, points)`: `points` is a `(steps + 1, 2)` float32 array,
        starting at `surface.start`.
    """
    surface = _surface(surface)
    label, identifier, overrides = parse_config(config)
    if isinstance(identifier, str) and "learning_rate" not in overrides:
        rate = surface.learning_rates.get(identifier)
        if rate is not None:
            overrides = {**overrides, "learning_rate": rate}
            label = f"{identifier} (lr={rate:g})"
    elif isinstance(identifier, dict):
        label = describe(identifier)
    optimizer = keras_optim_zoo.get(identifier, **overrides)
    point = keras.Variable(np.asarray(surface.start, "float32"), name="xy")
    optimizer.build([point])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = surface.fn(point[0], point[1])
        optimizer.apply_gradients([(tape.gradient(value, point), point)])

    points = [point.numpy()]
    for _ in range(surface.steps if steps is None else steps):
        step()
        points.append(point.numpy())
    return label, np.stack(points)


def run_paths(surface, configs=DEFAULT_OPTIMIZERS, steps=None):
    """`run_path` for each config; returns a list of `(label, points)`."""
    return [run_path(surface, c, steps) for c in configs]


def _grid(surface, resolution=200):
    xs = np.linspace(*surface.xlim, resolution, dtype="float32")
    ys = np.linspace(*surface.ylim, resolution, dtype="float32")
    gx, gy = np.meshgrid(xs, ys)
    z = ops.convert_to_numpy(surface.fn(gx, gy))
    return gx, gy, z


def _draw_surface(ax, surface):
    gx, gy, z = _grid(surface)
    if surface.log_levels:
        levels = np.logspace(
            np.log10(max(z.min(), 1e-3)), np.log10(z.max()), 25
        )
        ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.6)
    else:
        ax.contourf(gx, gy, z, levels=30, cmap="viridis", alpha=0.5)
        ax.contour(gx, gy, z, levels=30, colors="k", linewidths=0.3)
    for i, (mx, my) in enumerate(surface.minima):
        ax.plot(mx, my, "*", ms=14 if i == 0 else 10, color="gold", mec="black")
    ax.plot(*surface.start, "o", color="black", ms=5)
    ax.set(xlim=surface.xlim, ylim=surface.ylim, title=surface.name)
    ax.set_aspect("auto")


def _draw_path(ax, points, color, label):
    # Diverging paths leave the plot; clip so matplotlib stays finite.
    points = np.clip(np.nan_to_num(points, nan=1e6), -1e6, 1e6)
    (line,) = ax.plot(
        points[:, 0], points[:, 1], "-", color=color, lw=1.5, label=label
    )
    ax.plot(*points[-1], "o", color=color, ms=4)
    return line


def plot_paths(traces, path, *, columns=2):
    """Writes contour plots with optimizer paths to a PNG.

    Args:
        traces: `{surface_name: [(label, points), ...]}`, e.g. from
            `run_paths`.
        path: Output `.png` file.
        columns: Panels per row. Defaults to `2`.

    Returns:
        `path`.
    """
    rows = -(-len(traces) // columns)
    cols = min(columns, len(traces))
    fig = new_figure(6 * cols, 5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (name, paths) in zip(axes, traces.items()):
        _draw_surface(ax, _surface(name))
        for i, (label, points) in enumerate(paths):
            _draw_path(ax, points, f"C{i % 10}", label)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes[len(traces) :]:
        ax.set_visible(False)
    fig.savefig(path)
    return path


def animate_paths(surface, paths, path, *, frames=60, fps=15):
    """Writes an animated GIF of paths growing on one surface.

    Uses `matplotlib.animation.FuncAnimation` and `PillowWriter`.

    Args:
        surface: A `Surface` or a key of `SURFACES`.
        paths: `[(label, points), ...]`, e.g. from `run_paths`.
        path: Output `.gif` file.
        frames: Frames in the animation. Defaults to `60`.
        fps: Frames per second. Defaults to `15`.

    Returns:
        `path`.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    surface = _surface(surface)
    fig = new_figure(6, 5, dpi=80)
    ax = fig.subplots()
    _draw_surface(ax, surface)
    lines = [
        ax.plot([], [], "-", color=f"C{i % 10}", lw=1.5, label=label)[0]
        for i, (label, _) in enumerate(paths)
    ]
    ax.legend(fontsize=7, loc="upper right")
    length = max(len(points) for _, points in paths)
    ends = np.unique(np.linspace(1, length, frames).astype(int))

    def draw(end):
        for line, (_, points) in zip(lines, paths):
            shown = np.clip(np.nan_to_num(points[:end], nan=1e6), -1e6, 1e6)
            line.set_data(shown[:, 0], shown[:, 1])
        return lines

    animation = FuncAnimation(fig, draw, frames=ends, blit=False)
    animation.save(path, writer=PillowWriter(fps=fps))
    return path


def plot_schedule(schedule, steps, path, *, log=False, title=None):
    """Writes a PNG of a learning-rate schedule over `steps` steps.

    Args:
        schedule: A `LearningRateSchedule`, or a string as
            `compare.parse_schedule` takes it (`"zoo_cosine:..."` or JSON).
        steps: Number of steps plotted (`0 .. steps - 1`).
        path: Output `.png` file.
        log: Logarithmic y axis. Defaults to `False`.
        title: Plot title. Defaults to a description of the schedule.

    Returns:
        The schedule's values as a NumPy array of length `steps`.
    """
    from keras_optim_zoo.compare.runner import parse_schedule

    if isinstance(schedule, str):
        schedule = parse_schedule(schedule)
    values = ops.convert_to_numpy(
        schedule(ops.arange(steps, dtype="int64"))
    ).astype(float)
    values = np.broadcast_to(values, (steps,))
    fig = new_figure(7, 4)
    ax = fig.subplots()
    ax.plot(np.arange(steps), values, lw=1.6)
    ax.set(xlabel="step", ylabel="learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.set_title(
        title or describe(keras.saving.serialize_keras_object(schedule)),
        fontsize=8,
        wrap=True,
    )
    fig.savefig(path)
    return values
