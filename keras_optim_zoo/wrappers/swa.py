"""Stochastic weight averaging around any optimizer, `"zoo_swa"`, and the
batch-normalization refresh that goes with it (`update_bn`)."""

import math

import keras
from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.wrappers.base import ZooWrapper, per_variable


@register("zoo_swa")
class SWA(ZooWrapper):
    r"""Stochastic weight averaging (Izmailov et al., 2018) for any optimizer.

    The inner optimizer trains as usual. After its update number $t$ (its
    `iterations`, counted from 1) with $t \ge s$ (`start_averaging`) and
    $(t - s) \bmod c = 0$ (`average_period`), the weights are added to a
    running mean, the SWA point:

    $$ \bar\theta \leftarrow \bar\theta + \frac{\theta - \bar\theta}{n + 1},
       \qquad n \leftarrow n + 1 $$

    (the first snapshot is the weights themselves). $\bar\theta$ is the
    evaluation point: `SwapEvaluationWeights` (and `compare`) validate and
    save there, while training continues from $\theta$. Before the first
    snapshot the evaluation point is $\theta$. Batch-normalization
    statistics computed along the way belong to $\theta$, not to
    $\bar\theta$: recompute them at $\bar\theta$ with `update_bn` before
    using the averaged model (as with torch's `swa_utils.update_bn`).

    Its own learning rate, optional. With `swa_learning_rate`
    ($\alpha_2$), from update $s + 1$ on the inner optimizer's rate is
    replaced:

    - constant SWA (the paper's default; torch's `SWALR`): the rate moves
      from the inner schedule's value at step $s$, $\eta_s$, to $\alpha_2$
      over `anneal_steps` ($A$) updates and stays there:
      $\eta = \alpha_2 a + \eta_s (1 - a)$, $a = f(\min(1, k/A))$ for the
      $k$-th update of the phase ($k = 0, 1, \dots$; $A = 0$: $a = 1$), with
      $f(x) = (1 - \cos \pi x)/2$ (`anneal_strategy="cos"`) or $f(x) = x$
      (`"linear"`);
    - cyclical SWA (the paper's section 3.2), with `cycle_learning_rate`
      ($\alpha_1$): within each period of $c$ updates the rate falls
      linearly from near $\alpha_1$ to $\alpha_2$,
      $\eta = (1 - \tau)\alpha_1 + \tau\alpha_2$,
      $\tau = ((k \bmod c) + 1)/c$, so each snapshot is taken where the
      rate is lowest.

    The rate is installed as a schedule on the inner optimizer; a callback
    that sets the inner optimizer's rate (a learning-rate scheduler,
    `ReduceLROnPlateau`) replaces it, so use one or the other.

    Matches `torch.optim.swa_utils.AveragedModel` with `SWALR` around
    `torch.optim.SGD` (torch 2.13.0, stored trajectories; the snapshot
    timing is the authors' `timgaripov/swa` `train.py`: after the epochs
    $t \ge s$ with $(t - s) \bmod c = 0$, here counted in updates). The
    arguments `start_averaging` and `average_period` are tf-addons'
    `SWA`'s, and so are their defaults (`0`, `10`); tf-addons tested its
    condition before the update rather than after, so it took its first
    snapshot one update earlier.

    Args:
        optimizer: The inner optimizer (instance, name or config).
        start_averaging: Int $s \ge 0$. Defaults to `0`.
        average_period: Int $c \ge 1$. Defaults to `10`.
        swa_learning_rate: Float $\alpha_2 > 0$, or `None` (the inner
            optimizer's own rate throughout). Defaults to `None`.
        anneal_steps: Int $A \ge 0$, for constant SWA. Defaults to `0`.
        anneal_strategy: `"cos"` or `"linear"`. Defaults to `"cos"`.
        cycle_learning_rate: Float $\alpha_1 > 0$, or `None` (constant
            SWA). Needs `swa_learning_rate`. Defaults to `None`.

    Example:

    ```python
    opt = SWA(keras.optimizers.SGD(0.1, momentum=0.9),
              start_averaging=3000, average_period=100,
              swa_learning_rate=0.02)
    model.compile(optimizer=opt, loss=...)
    model.fit(x, y, epochs=40)
    opt.swap_evaluation_weights()      # the model now holds the average
    update_bn(model, x, batch_size=128)
    model.evaluate(x_test, y_test)
    ```
    """

    hyperparameters = {
        "start_averaging": Hyper(0, low=0),
        "average_period": Hyper(10, low=1),
        "swa_learning_rate": Hyper(
            None, low=0.0, low_open=True, optional=True, changeable=False
        ),
        "anneal_steps": Hyper(0, low=0),
        "anneal_strategy": Hyper("cos", choices=("cos", "linear")),
        "cycle_learning_rate": Hyper(
            None, low=0.0, low_open=True, optional=True, changeable=False
        ),
    }
    has_own_evaluation_point = True

    def __init__(self, optimizer, **kwargs):
        super().__init__(optimizer, **kwargs)
        if self.cycle_learning_rate is not None:
            if self.swa_learning_rate is None:
                raise invalid(
                    "cycle_learning_rate",
                    self.cycle_learning_rate,
                    "None unless swa_learning_rate is set (the rate each "
                    "cycle falls to)",
                )
            if self.anneal_steps:
                raise invalid(
                    "anneal_steps",
                    self.anneal_steps,
                    "0 with cycle_learning_rate (a cycle has no annealing)",
                )
        if self.swa_learning_rate is not None:
            inner = self.inner_optimizer
            base = inner._learning_rate
            if isinstance(base, keras.Variable):
                base = float(ops.convert_to_numpy(base))
            vars(self)["_base_learning_rate"] = base
            inner.learning_rate = SWALearningRate(
                base,
                start=self.start_averaging,
                swa_learning_rate=self.swa_learning_rate,
                anneal_steps=self.anneal_steps,
                anneal_strategy=self.anneal_strategy,
                cycle_learning_rate=self.cycle_learning_rate,
                period=self.average_period,
            )

    def build_state(self, variables):
        self._average = per_variable(self, variables, "swa_average")
        self._snapshots = self.add_variable(
            (), initializer="zeros", dtype="int64", name="swa_snapshots"
        )

    def after_step(self, variables):
        t = ops.cast(self.inner_optimizer.iterations, "int64")
        offset = t - self.start_averaging
        due = ops.logical_and(
            ops.logical_and(offset >= 0, t >= 1),
            ops.equal(ops.mod(offset, self.average_period), 0),
        )

        averages = [
            self._average[self._get_variable_index(v)] for v in variables
        ]

        def snapshot():
            n = self._snapshots.value
            new = []
            for var, average in zip(variables, averages):
                weight = ops.cast(1.0, var.dtype) / ops.cast(n + 1, var.dtype)
                new.append(average.value + (var.value - average.value) * weight)
            return new + [n + 1]

        xla.assign_if(due, snapshot, averages + [self._snapshots])

    @property
    def snapshots(self):
        """How many weight snapshots are in the average (an int64 variable;
        `None` until the optimizer is built)."""
        return getattr(self, "_snapshots", None)

    def own_evaluation_values(self, variables):
        taken = self._snapshots.value > 0
        return [
            ops.where(
                taken, self._average[self._get_variable_index(v)].value, v.value
            )
            for v in variables
        ]

    def get_config(self):
        config = super().get_config()
        if self.swa_learning_rate is not None:
            # The inner optimizer's own rate, not the installed SWA
            # schedule (rebuilt from this config when loading).
            base = vars(self)["_base_learning_rate"]
            config["optimizer"]["config"]["learning_rate"] = (
                keras.saving.serialize_keras_object(base)
            )
        return config


class SWALearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """The rate `SWA(swa_learning_rate=...)` installs on its inner optimizer:
    `base` (a float or a schedule) before update `start + 1`, then constant
    SWA (annealed) or cyclical SWA. See `SWA`."""

    def __init__(
        self,
        base,
        *,
        start,
        swa_learning_rate,
        anneal_steps=0,
        anneal_strategy="cos",
        cycle_learning_rate=None,
        period=1,
    ):
        self.base = base
        self.start = int(start)
        self.swa_learning_rate = float(swa_learning_rate)
        self.anneal_steps = int(anneal_steps)
        self.anneal_strategy = anneal_strategy
        self.cycle_learning_rate = cycle_learning_rate
        self.period = int(period)

    def _base(self, step):
        if callable(self.base):
            return ops.cast(self.base(step), "float32")
        return ops.convert_to_tensor(self.base, "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        k = step - self.start  # the phase's update index, from 0
        swa = self.swa_learning_rate
        if self.cycle_learning_rate is not None:
            tau = (ops.mod(k, self.period) + 1.0) / self.period
            phase = (1.0 - tau) * self.cycle_learning_rate + tau * swa
        else:
            if self.anneal_steps:
                x = ops.clip(k / self.anneal_steps, 0.0, 1.0)
            else:
                x = ops.ones_like(k)
            if self.anneal_strategy == "cos":
                a = (1.0 - ops.cos(math.pi * x)) / 2.0
            else:
                a = x
            phase = swa * a + self._base(float(self.start)) * (1.0 - a)
        return ops.where(k < 0, self._base(step), phase)

    def get_config(self):
        return {
            "base": keras.saving.serialize_keras_object(self.base),
            "start": self.start,
            "swa_learning_rate": self.swa_learning_rate,
            "anneal_steps": self.anneal_steps,
            "anneal_strategy": self.anneal_strategy,
            "cycle_learning_rate": self.cycle_learning_rate,
            "period": self.period,
        }


def update_bn(model, data, batch_size=32, steps=None):
    """Recomputes every `BatchNormalization` layer's moving statistics.

    Resets each layer's moving mean and variance, then runs the model in
    training mode over `data` and keeps, for each layer, the plain average
    of the batch means and variances (Keras's biased batch variance, the
    one its layer uses), as `torch.optim.swa_utils.update_bn` does with
    `momentum=None`. The model's other weights are not changed. Use it
    after `swap_evaluation_weights()` so that the statistics belong to the
    averaged weights; the layers' `momentum` is restored afterwards.

    Args:
        model: A built Keras model.
        data: Inputs: an array or tensor (batched by `batch_size`), or an
            iterable of batches (a `tf.data.Dataset` or a list), each an
            input or a tuple whose first element is the input.
        batch_size: Int >= 1, for array inputs. Defaults to `32`.
        steps: Int >= 1 or `None`: at most this many batches. Defaults to
            `None` (all).

    Returns:
        The number of batches used.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise invalid("batch_size", batch_size, "an int >= 1")
    if batch_size < 1:
        raise invalid("batch_size", batch_size, "an int >= 1")
    if steps is not None and (
        isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
    ):
        raise invalid("steps", steps, "an int >= 1, or None")
    layers = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.moving_mean.assign(ops.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(ops.ones_like(layer.moving_variance))
    count = 0
    try:
        for batch in _batches(data, batch_size):
            if steps is not None and count >= steps:
                break
            for layer in layers:
                # Cumulative average: the n-th batch has weight 1 / (n + 1).
                layer.momentum = count / (count + 1.0)
            model(batch, training=True)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if count == 0:
        raise invalid("data", data, "at least one batch of inputs")
    return count


def _batches(data, batch_size):
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        for start in range(0, int(data.shape[0]), batch_size):
            yield data[start : start + batch_size]
        return
    for batch in data:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield batch
