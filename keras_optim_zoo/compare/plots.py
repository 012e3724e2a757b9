"""PNG figures of a comparison's curves, with matplotlib's Agg canvas.

Figures are drawn on `matplotlib.figure.Figure` with an Agg canvas
attached, never through `pyplot`, so importing or calling this module does
not change matplotlib's global backend and works without a display.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(width, height, dpi=100):
    """A `Figure` of `width` x `height` inches with an Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def smooth(values, window):
    """Trailing moving average over `window` points (shorter at the start).

    Args:
        values: 1-D array-like.
        window: Points averaged; `1` returns the values unchanged.
    """
    values = np.asarray(values, dtype=float)
    window = max(1, min(int(window), len(values)))
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    ends = np.arange(1, len(values) + 1)
    return (cumulative[ends] - cumulative[ends - counts]) / counts


def _band(ax, x, curves, color, label, linestyle="-"):
    """Mean line and a shaded band of +- one std across seeds."""
    curves = np.asarray(curves, dtype=float)
    mean = curves.mean(axis=0)
    ax.plot(x, mean, color=color, label=label, linestyle=linestyle, lw=1.4)
    if len(curves) > 1:
        std = curves.std(axis=0)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2)


def plot_comparison(results, path, *, title=None, smoothing=None):
    """Writes a 2 x 2 PNG of a comparison's curves to `path`.

    Panels: training loss per step (moving average, `smoothing` steps) with
    validation loss at each epoch end; the first metric of the runs
    (accuracy for classification, mae for regression) on validation (and
    training, dotted) data per epoch; the learning rate applied at each
    step; and the validation loss alone. Each curve is the mean over seeds
    with a band of +- one standard deviation.

    Args:
        results: What `compare.compare` returns.
        path: Output file (`.png`).
        title: Figure title. Defaults to none.
        smoothing: Steps in the training-loss moving average. Defaults to
            half an epoch.

    Returns:
        `path`.
    """
    fig = new_figure(12, 9)
    axes = fig.subplots(2, 2)
    loss_ax, acc_ax, lr_ax, val_ax = axes.ravel()
    colors = [f"C{i}" for i in range(10)]
    metric = "accuracy"  # the first metric of the runs, if they have one
    if results and results[0].get("metrics"):
        metric = results[0]["metrics"][0]
    lr_positive = True
    for i, result in enumerate(results):
        color = colors[i % len(colors)]
        label = result["label"]
        runs = result["runs"]
        per_epoch = result["steps_per_epoch"]
        window = smoothing or max(1, per_epoch // 2)
        steps = np.arange(1, len(runs[0]["steps"]["loss"]) + 1)
        _band(
            loss_ax,
            steps,
            [smooth(r["steps"]["loss"], window) for r in runs],
            color,
            f"{label} (train)",
        )
        epochs = len(runs[0]["history"]["val_loss"])
        epoch_steps = per_epoch * np.arange(1, epochs + 1)
        _band(
            loss_ax,
            epoch_steps,
            [r["history"]["val_loss"] for r in runs],
            color,
            None,
            linestyle="--",
        )
        _band(
            val_ax,
            epoch_steps,
            [r["history"]["val_loss"] for r in runs],
            color,
            label,
        )
        _band(
            acc_ax,
            epoch_steps,
            [r["history"][f"val_{metric}"] for r in runs],
            color,
            label,
        )
        train_acc = np.mean([r["history"][metric] for r in runs], axis=0)
        acc_ax.plot(epoch_steps, train_acc, color=color, ls=":", lw=1)
        lr = np.asarray([r["steps"]["learning_rate"] for r in runs])
        lr_positive &= bool((lr > 0).all())
        lr_ax.plot(steps, lr.mean(axis=0), color=color, label=label, lw=1.4)
    loss_ax.set(
        title="training loss (solid, smoothed) and validation loss (dashed)",
        xlabel="step",
        ylabel="loss",
    )
    spoken = metric.replace("_", " ")
    acc_ax.set(
        title=f"validation {spoken} (solid) and training {spoken} (dotted)",
        xlabel="step",
        ylabel=spoken,
    )
    lr_ax.set(title="learning rate applied", xlabel="step", ylabel="rate")
    if lr_positive:
        lr_ax.set_yscale("log")
    val_ax.set(title="validation loss", xlabel="step", ylabel="loss")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    handles, labels = lr_ax.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=1 if max(map(len, labels)) > 45 else min(3, len(labels)),
        fontsize=8,
    )
    if title:
        fig.suptitle(title)
    fig.savefig(path)
    return path
