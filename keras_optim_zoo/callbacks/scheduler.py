"""Per-step schedulers: the learning rate, and momentum-like hyper-parameters.

Registered as `"zoo_learning_rate_scheduler"` and
`"zoo_hyperparameter_scheduler"`.
"""

import keras

from keras_optim_zoo.callbacks import _common
from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register


class _Scheduler(_common.ConfigMixin, keras.callbacks.Callback):
    """Sets one value from `schedule` before every step (or every epoch)."""

    def __init__(self, schedule, mode="step", verbose=0):
        super().__init__()
        self.schedule = _common.as_schedule_or_function("schedule", schedule)
        self.mode = _common.check_choice("mode", mode, _common.MODES)
        self.verbose = Hyper(0, low=0).validate("verbose", verbose)

    def _current(self, optimizer):
        raise NotImplementedError

    def _set(self, optimizer, value):
        raise NotImplementedError

    def _update(self, index):
        optimizer = _common.model_optimizer(self)
        value = _common.evaluate(
            self.schedule, index, lambda: self._current(optimizer)
        )
        self._set(optimizer, value)
        return value

    def on_train_batch_begin(self, batch, logs=None):
        if self.mode == "step":
            self._update(_common.step_of(self.model.optimizer))

    def on_epoch_begin(self, epoch, logs=None):
        if self.mode == "epoch":
            value = self._update(epoch)
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: {type(self).__name__} setting "
                    f"{self._what()} to {value}."
                )

    def _what(self):
        return "learning rate"


@register("zoo_learning_rate_scheduler")
class LearningRateScheduler(_Scheduler):
    """Sets the learning rate from a schedule before every step or epoch.

    Keras's `LearningRateScheduler` acts once per epoch only. This one, in
    `mode="step"` (the default), assigns the optimizer's learning rate
    before every training batch to `schedule(step)`, where `step` is the
    optimizer's `iterations` (the number of updates applied so far), so
    the value used by update `t` is exactly `schedule(t)`: the same numbers
    as giving the schedule to the optimizer, but driven from outside (the
    schedule can then be changed between runs, or be any Python function).
    Because `iterations` is saved with the optimizer, a model reloaded
    with `load_model` continues the schedule at the right step. In
    `mode="epoch"` it acts like Keras's callback: `schedule(epoch)` before
    every epoch (`initial_epoch` respected).

    With `steps_per_execution > 1` Keras calls the callback once per
    execution, so the value is held for that many steps.

    The optimizer must have a float learning rate (a variable): a
    `TypeError` says so otherwise. Unlike Keras's callback, this one does
    not write `learning_rate` into the logs; add `LearningRateLogger`.

    Args:
        schedule: A `keras.optimizers.schedules.LearningRateSchedule`, a
            registered schedule name (only for one without required
            arguments) or a config dict
            (`{"class_name": "zoo_cosine", "config": {...}}`), or a
            callable `fn(index, lr) -> float` receiving the step (or epoch)
            and the current learning rate as a float.
        mode: `"step"` or `"epoch"`. Defaults to `"step"`.
        verbose: Int. `1` prints the value at each epoch in epoch mode.
            Defaults to `0`.

    Example:

    ```python
    model.compile(optimizer=keras_optim_zoo.get("zoo_adam"), loss="mse")
    cosine = keras_optim_zoo.schedules.get(
        "zoo_warmup_cosine", peak_learning_rate=1e-3, warmup_steps=100,
        decay_steps=10_000)
    model.fit(x, y, callbacks=[LearningRateScheduler(cosine)])
    ```
    """

    config_keys = ("schedule", "mode", "verbose")

    def _current(self, optimizer):
        return _common.to_float(optimizer.learning_rate)

    def _set(self, optimizer, value):
        _common.set_learning_rate(optimizer, value, type(self).__name__)


@register("zoo_hyperparameter_scheduler")
class HyperparameterScheduler(_Scheduler):
    """Sets a hyper-parameter (`momentum`, `beta_1`...) from a schedule.

    Before every training batch (`mode="step"`, the default) assigns
    `optimizer.<hyperparameter> = schedule(step)`, with `step` the
    optimizer's `iterations`, so update `t` uses exactly `schedule(t)`; in
    `mode="epoch"`, `schedule(epoch)` before every epoch. This is the
    momentum half of the 1cycle policy
    (`"zoo_one_cycle_momentum"` for `momentum` or `beta_1`), which Keras
    has no way to express: its optimizers compile momentum in as a
    constant. Zoo optimizers keep each changeable float hyper-parameter in
    a variable that the compiled update reads, so a new value takes effect
    at the next step without retracing, and is validated against the
    hyper-parameter's declared range.

    The optimizer (inside a `LossScaleOptimizer` too) must be a zoo
    optimizer with `hyperparameter` changeable: a `ValueError` at the
    start of training names the changeable ones otherwise (e.g. `momentum`
    of `zoo_sgd` built with `momentum=0.0` is fixed, since no momentum
    state exists).

    Args:
        hyperparameter: String, the hyper-parameter's name, e.g.
            `"momentum"` or `"beta_1"`.
        schedule: As in `LearningRateScheduler`: a schedule, a config
            dict, a name, or a callable `fn(index, value) -> float`.
        mode: `"step"` or `"epoch"`. Defaults to `"step"`.
        verbose: Int. `1` prints the value at each epoch in epoch mode.
            Defaults to `0`.

    Example:

    ```python
    steps = epochs * steps_per_epoch
    callbacks = [
        LearningRateScheduler(keras_optim_zoo.schedules.get(
            "zoo_one_cycle", max_learning_rate=0.1, total_steps=steps)),
        HyperparameterScheduler("momentum", keras_optim_zoo.schedules.get(
            "zoo_one_cycle_momentum", total_steps=steps)),
    ]
    ```
    """

    config_keys = ("hyperparameter", "schedule", "mode", "verbose")

    def __init__(self, hyperparameter, schedule, mode="step", verbose=0):
        if not isinstance(hyperparameter, str):
            raise invalid(
                "hyperparameter", hyperparameter, "a hyper-parameter name"
            )
        self.hyperparameter = hyperparameter
        super().__init__(schedule, mode=mode, verbose=verbose)

    def on_train_begin(self, logs=None):
        check_changeable(_common.model_optimizer(self), self.hyperparameter)

    def _current(self, optimizer):
        if hasattr(optimizer, "group_optimizers"):  # ParameterGroups
            return optimizer.get_hyperparameter(self.hyperparameter)
        return _common.hyper_float(optimizer, self.hyperparameter)

    def _set(self, optimizer, value):
        if hasattr(optimizer, "group_optimizers"):  # every group's
            optimizer.set_hyperparameter(self.hyperparameter, value)
        else:
            setattr(optimizer, self.hyperparameter, value)

    def _what(self):
        return self.hyperparameter


def changeable_hyperparameters(optimizer):
    """Names of the hyper-parameters of `optimizer` held in variables."""
    optimizer = _common.unwrap(optimizer)
    if hasattr(optimizer, "group_optimizers"):  # ParameterGroups
        return sorted(optimizer.changeable_hyperparameters())
    declared = getattr(type(optimizer), "_all_hyperparameters", {})
    return [
        name
        for name in declared
        if isinstance(getattr(optimizer, name, None), keras.Variable)
    ]


def check_changeable(optimizer, name):
    """Raises `ValueError` unless `optimizer.<name>` may change in training."""
    optimizer = _common.unwrap(optimizer)
    declared = getattr(type(optimizer), "_all_hyperparameters", None)
    changeable = changeable_hyperparameters(optimizer)
    if name in changeable:
        return
    kind = type(optimizer).__name__
    if hasattr(optimizer, "group_optimizers"):
        why = f"no parameter group's optimizer has `{name}` changeable"
    elif declared is None:
        why = (
            f"{kind} is not a zoo optimizer; Keras's optimizers compile "
            "their hyper-parameters in as constants. Use a zoo optimizer "
            "(e.g. keras_optim_zoo.get('zoo_momentum'))"
        )
    elif name not in declared:
        why = f"{kind} has no hyper-parameter `{name}`"
    else:
        why = (
            f"`{name}` of this {kind} is fixed (it was "
            f"{getattr(optimizer, name)!r} at construction)"
        )
    raise ValueError(
        f"Cannot schedule `{name}`: {why}. Changeable hyper-parameters of "
        f"this optimizer: {', '.join(changeable) or 'none'}."
    )
