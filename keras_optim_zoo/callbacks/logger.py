"""Puts the learning rate (and momentum, and a step-size estimate) into
the logs.

Registered as `"zoo_learning_rate_logger"`.
"""

import numbers

import keras

from keras_optim_zoo.callbacks import _common
from keras_optim_zoo.core.hyper import invalid
from keras_optim_zoo.core.registry import register

#: Hyper-parameters logged next to the learning rate, where present.
LOGGED_HYPERPARAMETERS = ("momentum", "beta_1")
#: Read-only step-size estimates logged where the optimizer has them (the
#: learning-rate-free optimizers, `zoo_prodigy` and `zoo_dadapt_adamw`).
LOGGED_ESTIMATES = ("d", "effective_learning_rate")


@register("zoo_learning_rate_logger")
class LearningRateLogger(_common.ConfigMixin, keras.callbacks.Callback):
    """Writes `learning_rate` (and `momentum` / `beta_1`) into the logs.

    After every training batch and every epoch, adds to the logs the
    learning rate used by the optimizer's most recent update, and the
    current `momentum` and `beta_1` where the optimizer has them (as a
    number or a variable, zoo and Keras optimizers alike). For an
    optimizer with attributes `d` and `effective_learning_rate` (a
    learning-rate-free one: its estimated step size after the update, and
    `d` times the learning rate), those too. `History`, `CSVLogger`,
    `TensorBoard` and the progress bar then show them.

    Keras records the learning rate only from `ReduceLROnPlateau` and
    `LearningRateScheduler`, at epoch ends, and not at all when the
    learning rate is a `LearningRateSchedule`. Here a schedule is
    evaluated at `iterations - 1`, the step just taken, so the epoch value
    is the rate of the epoch's last update; a variable is read, a callable
    is called. A `LossScaleOptimizer` (mixed precision) is unwrapped to
    its `inner_optimizer`. With `wrappers.ParameterGroups`, each group's
    values are logged too, as `learning_rate/<group>` (and
    `momentum/<group>`, ...), next to the wrapper's `learning_rate`.

    Callbacks see the logs in list order, and Keras appends `History` and
    the progress bar after yours: put this logger before `CSVLogger` and
    `TensorBoard` in `callbacks=[...]`. Each batch value costs a read of
    the optimizer's step from the device; `batches=False` logs epochs
    only.

    Args:
        batches: Bool. Also log after every training batch. Defaults to
            `True`.

    Example:

    ```python
    history = model.fit(x, y, epochs=5, callbacks=[LearningRateLogger()])
    history.history["learning_rate"]  # one value per epoch
    ```
    """

    config_keys = ("batches",)

    def __init__(self, batches=True):
        super().__init__()
        if not isinstance(batches, bool):
            raise invalid("batches", batches, "a bool")
        self.batches = batches

    def values(self):
        """`{"learning_rate": float, ...}` for the model's optimizer now."""
        optimizer = _common.model_optimizer(self)
        found = _values_of(optimizer)
        groups = getattr(optimizer, "group_optimizers", {})
        for group, group_optimizer in groups.items():  # ParameterGroups
            for name, value in _values_of(group_optimizer).items():
                found[f"{name}/{group}"] = value
        return found

    def on_train_batch_end(self, batch, logs=None):
        if self.batches and logs is not None:
            logs.update(self.values())

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.values())


def _values_of(optimizer):
    """The learning rate, and the logged hyper-parameters and estimates
    that `optimizer` has, as floats."""
    found = {"learning_rate": _common.applied_learning_rate(optimizer)}
    optimizer = _common.unwrap(optimizer)
    for name in LOGGED_HYPERPARAMETERS + LOGGED_ESTIMATES:
        value = getattr(optimizer, name, None)
        if isinstance(value, keras.Variable) or (
            isinstance(value, numbers.Real) and not isinstance(value, bool)
        ):
            found[name] = _common.hyper_float(optimizer, name)
    return found
