"""Learning-rate schedules, by `zoo_*` name.

    from keras_optim_zoo import schedules
    lr = schedules.get("zoo_warmup_cosine", peak_learning_rate=1e-3,
                       warmup_steps=500, decay_steps=10_000)
    optimizer = keras_optim_zoo.get("zoo_adam", learning_rate=lr)

Every module in this folder is imported here, which registers its
schedules; a new schedule needs only its own file. The classes are
attributes of this package (`schedules.WarmupCosine`), looked up in the
registry.
"""

import importlib
import numbers
import pkgutil

from keras_optim_zoo.core import registry as _registry
from keras_optim_zoo.schedules.base import Constant, ZooSchedule

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


list_schedules, _get = _registry.accessors("schedule", "zoo_cosine")


def get(identifier, **overrides):
    """A schedule from a `zoo_*` name, a config dict, a float or a schedule.

    Args:
        identifier: A registered name (`"zoo_cosine"`), a config dict (as
            written by `keras.saving.serialize_keras_object`), a float (a
            `Constant`), or a schedule instance (returned as is).
        **overrides: Constructor arguments, e.g. `decay_steps=1000`.

    Raises:
        KeyError: For an unknown name; the message lists the closest
            registered names.
        ValueError: For an invalid argument value.
    """
    if isinstance(identifier, numbers.Real) and not isinstance(
        identifier, bool
    ):
        return Constant(identifier, **overrides)
    return _get(identifier, **overrides)


def _classes():
    return {
        cls.__name__: cls
        for cls in (_registry.lookup("schedule", n) for n in list_schedules())
    }


def __getattr__(name):
    try:
        return _classes()[name]
    except KeyError:
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}"
        ) from None


def __dir__():
    return sorted(set(globals()) | set(_classes()))


__all__ = ["ZooSchedule", "get", "list_schedules"]
