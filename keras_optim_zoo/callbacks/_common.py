"""What the callbacks share: reading and setting an optimizer's state.

The learning rate as given (a variable, a schedule or a callable) is read
through `core.base.learning_rate_object`, which keeps the private Keras
attribute behind it in the one module that uses private Keras API.
"""

import math
import numbers

import keras
from keras import ops

from keras_optim_zoo import schedules
from keras_optim_zoo.core import base
from keras_optim_zoo.core.hyper import invalid

_Schedule = keras.optimizers.schedules.LearningRateSchedule

MODES = ("step", "epoch")


def chain(optimizer):
    """`optimizer` and each `inner_optimizer` inside it, outermost first
    (a `LossScaleOptimizer`, the zoo's wrappers)."""
    found = [optimizer]
    while hasattr(found[-1], "inner_optimizer"):
        found.append(found[-1].inner_optimizer)
    return found


def unwrap(optimizer):
    """The optimizer that holds the learning rate (inside a
    `LossScaleOptimizer` or the zoo's wrappers): the one that does the
    updates, or `ParameterGroups`, whose rate sets its groups'."""
    return chain(optimizer)[-1]


def model_optimizer(callback):
    """The unwrapped optimizer of the callback's model, or a clear error."""
    optimizer = getattr(callback.model, "optimizer", None)
    if optimizer is None:
        raise ValueError(
            f"{type(callback).__name__} needs a compiled model with an "
            "optimizer; call `model.compile(optimizer=...)` first."
        )
    if hasattr(optimizer, "optimizers"):  # keras's multi-optimizer wrappers
        raise ValueError(
            f"{type(callback).__name__} drives one learning rate; "
            f"{type(optimizer).__name__} holds several optimizers and has "
            "none. Use keras_optim_zoo.wrappers.ParameterGroups, whose "
            "learning rate sets every group's, keeping their ratios."
        )
    return unwrap(optimizer)


def learning_rate_object(optimizer):
    """The learning rate as given: a `Variable`, a schedule or a callable."""
    return base.learning_rate_object(unwrap(optimizer))


def to_float(value):
    """A scalar tensor, variable or number as a Python float."""
    return float(ops.convert_to_numpy(value))


def hyper_float(optimizer, name):
    """`optimizer.<name>` as a float: for a zoo optimizer's declared
    hyper-parameter, the value it was given (its variable holds float32;
    `ZooOptimizer.get_hyperparameter`)."""
    if name in getattr(type(optimizer), "_all_hyperparameters", ()):
        return float(optimizer.get_hyperparameter(name))
    return to_float(getattr(optimizer, name))


def step_of(optimizer):
    """The optimizer's step count (`iterations`) as a Python int."""
    return int(ops.convert_to_numpy(unwrap(optimizer).iterations))


def applied_learning_rate(optimizer):
    """The learning rate of the optimizer's most recent step, as a float.

    A schedule is evaluated at `iterations - 1` (the step just taken; at
    `0` before any step); a variable is read; a callable is called.
    """
    lr = learning_rate_object(optimizer)
    if isinstance(lr, _Schedule):
        return to_float(lr(max(step_of(optimizer) - 1, 0)))
    if isinstance(lr, keras.Variable):
        return to_float(lr)
    return to_float(lr() if callable(lr) else lr)


def set_learning_rate(optimizer, value, who):
    """Assigns a float learning rate; a clear error if it is not settable."""
    optimizer = unwrap(optimizer)
    if not isinstance(learning_rate_object(optimizer), keras.Variable):
        raise TypeError(
            f"{who} sets the learning rate at every step, so the optimizer "
            "needs a float learning rate (held in a variable); "
            f"{type(optimizer).__name__} was given "
            f"{learning_rate_object(optimizer)!r}. Compile with a float "
            "`learning_rate` and pass the schedule to the callback instead."
        )
    optimizer.learning_rate = value


def as_schedule_or_function(name, value):
    """A `LearningRateSchedule` (from a schedule, name, dict) or a callable.

    Args:
        name: The argument's name, for the error message.
        value: A schedule instance, a registered `zoo_*` name, a config
            dict, or a callable `fn(step, current_value) -> float`.
    """
    if isinstance(value, (str, dict)):
        try:
            if isinstance(value, str):
                value = schedules.get(value)
            else:
                value = keras.saving.deserialize_keras_object(value)
        except (KeyError, TypeError, ValueError) as error:
            raise invalid(name, value, _ALLOWED) from error
    if isinstance(value, _Schedule) or callable(value):
        return value
    raise invalid(name, value, _ALLOWED)


_ALLOWED = (
    "a keras.optimizers.schedules.LearningRateSchedule, a registered "
    "schedule name or config dict, or a callable fn(step, value) -> float"
)


def evaluate(schedule, index, current):
    """`schedule(index)`, or `fn(index, current())`, as a finite float.

    `current` is a function returning the value now, called only for a
    plain function (it may cost a read from the device).
    """
    if isinstance(schedule, _Schedule):
        value = schedule(index)
    else:
        value = schedule(index, current())
    if isinstance(value, bool) or not isinstance(
        value, (numbers.Real, keras.Variable)
    ):
        try:
            value = to_float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"The schedule must return a float; {schedule!r} returned "
                f"{value!r} at step {index}."
            ) from None
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            f"The schedule returned {value} at step {index}; expected a "
            "finite float."
        )
    return value


def serialize(value):
    """A schedule or registered function for `get_config`."""
    if isinstance(value, _Schedule) or callable(value):
        return keras.saving.serialize_keras_object(value)
    return value


def set_validated(callback, specs, **values):
    """Validates each value against `specs[name]` and sets it on `callback`."""
    for key, value in values.items():
        setattr(callback, key, specs[key].validate(key, value))


def check_choice(name, value, options):
    if value not in options:
        raise invalid(
            name, value, "one of " + ", ".join(repr(o) for o in options)
        )
    return value


class ConfigMixin:
    """`get_config` / `from_config` from the constructor arguments.

    A callback lists its constructor arguments in `config_keys`; each is
    read back from the attribute of the same name. Schedules and
    registered functions are serialized with Keras.
    """

    config_keys = ()

    def get_config(self):
        return {key: serialize(getattr(self, key)) for key in self.config_keys}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key, value in config.items():
            if isinstance(value, dict) and "class_name" in value:
                config[key] = keras.saving.deserialize_keras_object(value)
        return cls(**config)
