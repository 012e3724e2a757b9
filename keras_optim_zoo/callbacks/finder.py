"""The learning-rate range test (Smith, 2015): sweep, suggest, plot.

Registered as `"zoo_learning_rate_finder"` (the callback);
`find_learning_rate` runs it in a `model.fit` of its own.
"""

import dataclasses
import math

import keras
import numpy as np

from keras_optim_zoo.callbacks import _common
from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register

SWEEPS = ("exponential", "linear")

_ARGS = {
    "min_lr": Hyper(1e-7, low=0.0, low_open=True),
    "max_lr": Hyper(10.0, low=0.0, low_open=True),
    "steps": Hyper(100, low=2, kind="int"),
    "smoothing": Hyper(0.98, low=0.0, high=1.0, high_open=True),
    "divergence": Hyper(4.0, low=1.0, low_open=True),
}


def sweep(min_lr, max_lr, steps, mode="exponential"):
    r"""The learning rates of the range test, one per step.

    `"exponential"`: $\eta_k = \eta_\min (\eta_\max / \eta_\min)^{k/(n-1)}$;
    `"linear"`: $\eta_k = \eta_\min + (\eta_\max - \eta_\min)\,k/(n-1)$,
    for $k = 0 \dots n - 1$, $n$ = `steps`; both end exactly at `max_lr`.
    """
    k = np.arange(steps, dtype="float64") / (steps - 1)
    if mode == "exponential":
        lrs = min_lr * (max_lr / min_lr) ** k
    else:
        lrs = min_lr + (max_lr - min_lr) * k
    lrs[-1] = max_lr
    return lrs


def smooth(losses, smoothing=0.98):
    r"""Exponential moving average of `losses`, with bias correction.

    $a_k = \beta a_{k-1} + (1 - \beta) \ell_k$, $a_{-1} = 0$, reported as
    $a_k / (1 - \beta^{k+1})$ (as Adam corrects its moments), so the first
    value is the first loss and not $(1 - \beta)$ times it.
    """
    out, average = [], 0.0
    for k, loss in enumerate(losses):
        average = smoothing * average + (1.0 - smoothing) * float(loss)
        out.append(average / (1.0 - smoothing ** (k + 1)))
    return np.array(out, dtype="float64")


def centered_smooth(losses, sigma):
    r"""Gaussian smoothing of `losses` over the steps, centred: no lag.

    $s_k = \sum_j w_{kj} \ell_j / \sum_j w_{kj}$ with
    $w_{kj} = e^{-(j - k)^2 / 2\sigma^2}$ (truncated at the ends). The
    range test's suggestion is read from this curve: the causal moving
    average (`smooth`) lags the losses by up to about $\beta/(1 - \beta)$
    steps, 49 at $\beta = 0.98$, which in a 100-step sweep over seven
    decades is three decades.
    """
    losses = np.asarray(losses, dtype="float64")
    steps = np.arange(len(losses), dtype="float64")
    weights = np.exp(-0.5 * ((steps[None, :] - steps[:, None]) / sigma) ** 2)
    return (weights @ losses) / weights.sum(axis=1)


#: The width of `centered_smooth` in the range test, as a fraction of its
#: steps (3 steps of 100: a fifth of a decade over seven decades).
CENTERED_WIDTH = 0.03


@dataclasses.dataclass
class RangeTestResult:
    """The curve of a learning-rate range test, and what it suggests.

    Attributes:
        learning_rates: The learning rate of each step taken.
        losses: The training loss of each step (of its batch).
        smoothed: `smooth(losses)`, the causal moving average that
            detects divergence while the test runs.
        centered: `centered_smooth(losses)` (width `CENTERED_WIDTH` of
            the steps, at least 1), the curve the suggestion is read from.
        diverged: Whether the test stopped early on divergence.
        steepest_lr: The learning rate where the centred curve falls
            fastest against `log10(lr)`, searched from the 10th percentile
            of the steps up to its minimum. `None` when fewer than 3
            points lie there.
        min_loss_lr: The learning rate at the minimum of the centred curve.
        suggested_lr: `steepest_lr`, or `min_loss_lr / 10` when that is
            `None` (the "minimum over ten" rule of thumb).

    Reading the suggestion from the moving average instead put it one to
    three decades too high (the average lags the losses): on MNIST-1D
    (100 steps, two seeds) it suggested 0.145 and 0.089 for Adam on the
    CNN and 5.1e-6 and 0.0056 for Lion on the MLP; from the centred curve
    0.0126 and 0.0107, and 0.0034 for both seeds.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    diverged: bool

    @property
    def centered(self):
        sigma = max(1.0, CENTERED_WIDTH * len(self.losses))
        return centered_smooth(self.losses, sigma)

    @property
    def min_loss_lr(self):
        return float(self.learning_rates[int(np.argmin(self.centered))])

    @property
    def steepest_lr(self):
        curve = self.centered
        low = int(np.argmin(curve))
        start = len(curve) // 10
        if low - start < 2:
            return None
        x = np.log10(self.learning_rates[start : low + 1])
        slope = np.gradient(curve[start : low + 1], x)
        return float(self.learning_rates[start + int(np.argmin(slope))])

    @property
    def suggested_lr(self):
        steepest = self.steepest_lr
        return self.min_loss_lr / 10 if steepest is None else steepest

    def plot(self, path):
        """Draws loss against learning rate (log x) to a PNG at `path`.

        The raw losses are drawn faintly, the smoothed ones solid, and
        the suggestion marked. Needs matplotlib; uses no pyplot state.
        """
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4), dpi=100)
        ax = figure.add_subplot()
        curve = self.centered
        ax.plot(self.learning_rates, self.losses, alpha=0.3, label="loss")
        ax.plot(self.learning_rates, curve, label="smoothed loss (centred)")
        suggested = self.suggested_lr
        at = int(np.argmin(np.abs(self.learning_rates - suggested)))
        ax.plot(
            [suggested],
            [curve[at]],
            "o",
            color="red",
            label=f"suggested lr = {suggested:.3g}",
        )
        ax.axvline(suggested, color="red", linestyle=":", linewidth=1)
        # Show the descent; the divergence may run off the top.
        low = float(np.min(curve))
        high = float(np.max(curve[: int(np.argmin(curve)) + 1]))
        span = max(high - low, 1e-12)
        ax.set_ylim(low - 0.1 * span, high + 0.5 * span)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Learning-rate range test")
        ax.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
        return path


@register("zoo_learning_rate_finder")
class LearningRateFinder(_common.ConfigMixin, keras.callbacks.Callback):
    r"""The learning-rate range test, as a callback; restores the model after.

    At every training batch $k$ sets the learning rate to the $k$-th value
    of `sweep(min_lr, max_lr, steps, mode)` and records the batch's loss
    (the metrics are reset before each batch, so the logged loss is that
    batch's, not Keras's running epoch mean). Training stops after
    `steps` batches, or as soon as the loss is not finite or the smoothed
    loss exceeds $b + (d - 1)|b|$, $b$ the best smoothed loss so far and
    $d$ = `divergence` ($d \cdot b$ for positive losses, fastai's "4 times
    the best" by default). At the end of training every model variable
    and every optimizer variable (slots, `iterations`, the learning rate,
    a `LossScaleOptimizer`'s loss scale) gets back the value it had when
    training began, bit for bit; `result` holds the `RangeTestResult`.

    Keras has no range test. The optimizer must have a float learning
    rate; with `steps_per_execution > 1` each point is one execution.

    Args:
        min_lr: Float > 0, the first learning rate. Defaults to `1e-7`.
        max_lr: Float > `min_lr`, the last. Defaults to `10.0`.
        steps: Int >= 2, the number of learning rates (batches).
            Defaults to `100`.
        mode: `"exponential"` or `"linear"` spacing. Defaults to
            `"exponential"`.
        smoothing: Float in `[0, 1)`, $\beta$ of the moving average.
            Defaults to `0.98`.
        divergence: Float > 1, $d$. Defaults to `4.0`.

    References:
        - Smith, 2015 (2017). Cyclical learning rates for training neural
          networks. WACV.
    """

    config_keys = (
        "min_lr",
        "max_lr",
        "steps",
        "mode",
        "smoothing",
        "divergence",
    )

    def __init__(
        self,
        min_lr=1e-7,
        max_lr=10.0,
        steps=100,
        mode="exponential",
        smoothing=0.98,
        divergence=4.0,
    ):
        super().__init__()
        _common.set_validated(
            self,
            _ARGS,
            min_lr=min_lr,
            max_lr=max_lr,
            steps=steps,
            smoothing=smoothing,
            divergence=divergence,
        )
        if self.max_lr <= self.min_lr:
            raise invalid(
                "max_lr", max_lr, f"a float > min_lr (here {self.min_lr})"
            )
        self.mode = _common.check_choice("mode", mode, SWEEPS)
        self.learning_rates = sweep(self.min_lr, self.max_lr, steps, mode)
        self.result = None
        self._saved = []

    def on_train_begin(self, logs=None):
        self._losses, self._smoothed, self._average = [], [], 0.0
        self._best = math.inf
        self._diverged = False
        optimizer = self.model.optimizer
        if not optimizer.built:
            # Create the slots now, so that they are saved and restored too
            # (otherwise the sweep's momentum would survive it).
            optimizer.build(self.model.trainable_variables)
        self._saved = [
            (v, np.array(keras.ops.convert_to_numpy(v), copy=True))
            for v in list(self.model.variables)
            + list(self.model.optimizer.variables)
        ]
        # Fails here, before any step, if the learning rate is no float.
        self._set(0)

    def _set(self, k):
        _common.set_learning_rate(
            self.model.optimizer,
            float(self.learning_rates[k]),
            "LearningRateFinder",
        )

    def restore(self):
        """Gives every saved variable back its value from training start."""
        for variable, value in self._saved:
            variable.assign(value)
        self._saved = []

    def on_train_batch_begin(self, batch, logs=None):
        self._set(len(self._losses))
        self.model.reset_metrics()

    def on_train_batch_end(self, batch, logs=None):
        loss = _common.to_float(logs["loss"])
        self._losses.append(loss)
        k = len(self._losses)
        beta = self.smoothing
        self._average = beta * self._average + (1 - beta) * loss
        smoothed = self._average / (1 - beta**k)
        self._smoothed.append(smoothed)
        best = self._best
        threshold = best + (self.divergence - 1) * abs(best)
        if not math.isfinite(loss) or smoothed > threshold:
            self._diverged = True
            self.model.stop_training = True
        self._best = min(best, smoothed)
        if k >= self.steps:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.restore()
        n = len(self._losses)
        self.result = RangeTestResult(
            learning_rates=self.learning_rates[:n].copy(),
            losses=np.array(self._losses, dtype="float64"),
            smoothed=np.array(self._smoothed, dtype="float64"),
            diverged=self._diverged,
        )


def find_learning_rate(
    model,
    x=None,
    y=None,
    *,
    batch_size=None,
    min_lr=1e-7,
    max_lr=10.0,
    steps=100,
    mode="exponential",
    smoothing=0.98,
    divergence=4.0,
    plot_path=None,
    **fit_kwargs,
):
    """Runs the learning-rate range test on a compiled model.

    Trains `model` for up to `steps` batches of `x` (arrays, a
    `tf.data.Dataset` or a `PyDataset`, as `model.fit` takes them) with a
    learning rate rising from `min_lr` to `max_lr` (see
    `LearningRateFinder`), then restores the model's and the optimizer's
    variables, so that training can start from where it was.

    Args:
        model: A compiled Keras model whose optimizer has a float learning
            rate.
        x, y, batch_size: As in `model.fit`. Defaults to `None`.
        min_lr, max_lr, steps, mode, smoothing, divergence: As in
            `LearningRateFinder`. Default to `1e-7`, `10.0`, `100`,
            `"exponential"`, `0.98` and `4.0`.
        plot_path: Path of a PNG to draw the curve into (needs matplotlib),
            or `None`. Defaults to `None`.
        **fit_kwargs: Passed to `model.fit` (e.g. `steps_per_epoch` for a
            dataset that repeats forever). `epochs` defaults to `steps`,
            enough for any data with at least one batch.

    Returns:
        A `RangeTestResult`: `learning_rates`, `losses`, `smoothed`,
        `diverged`, `suggested_lr` (steepest descent of the centred
        smoothing of the losses, or the minimum's learning rate over ten),
        `min_loss_lr`.

    Example:

    ```python
    result = find_learning_rate(model, x, y, batch_size=64, min_lr=1e-6,
                                max_lr=1.0, plot_path="lr_range.png")
    model.optimizer.learning_rate = result.suggested_lr
    ```
    """
    finder = LearningRateFinder(
        min_lr=min_lr,
        max_lr=max_lr,
        steps=steps,
        mode=mode,
        smoothing=smoothing,
        divergence=divergence,
    )
    fit_kwargs.setdefault("epochs", finder.steps)
    fit_kwargs.setdefault("verbose", 0)
    callbacks = list(fit_kwargs.pop("callbacks", None) or [])
    if batch_size is not None:
        fit_kwargs["batch_size"] = batch_size
    try:
        model.fit(x, y, callbacks=[finder, *callbacks], **fit_kwargs)
    finally:  # Keras skips `on_train_end` when training raises.
        finder.restore()
    if plot_path is not None:
        finder.result.plot(plot_path)
    return finder.result
