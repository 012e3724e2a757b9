"""keras_optim_zoo: XLA-compiled optimizers for Keras 3, by `zoo_*` name.

    import keras_optim_zoo
    model.compile(optimizer="zoo_nesterov", loss=...)

Importing the package registers every optimizer, learning-rate schedule and
callback under its `zoo_*` name with Keras, so compile configs,
`keras.optimizers.get` and saved models resolve them. (`keras_optim_zoo.data`,
the offline TFDS datasets, needs tensorflow-datasets and is imported on its
own.)
"""

from keras_optim_zoo import callbacks, core, optimizers, schedules
from keras_optim_zoo.core import registry as _registry
from keras_optim_zoo.core.base import ZooOptimizer
from keras_optim_zoo.optimizers import *  # noqa: F401,F403

__version__ = "0.1.0"


def list_optimizers(pattern=None):
    """Sorted `zoo_*` names of the registered optimizers.

    Args:
        pattern: Optional shell-style wildcard, e.g. `"zoo_adam*"`.
    """
    return _registry.names("optimizer", pattern)


def get(identifier, **overrides):
    """An optimizer from a `zoo_*` name, a config dict or an instance.

    Args:
        identifier: A registered name (`"zoo_adam"`), a config dict
            (`{"class_name": "zoo_adam", "config": {...}}`, or what
            `keras.optimizers.serialize` writes), or an optimizer instance.
        **overrides: Constructor arguments, e.g. `learning_rate=0.01`.

    Raises:
        KeyError: For an unknown name; the message lists the closest
            registered names.
        ValueError: For an invalid argument value.
    """
    return _registry.get("optimizer", identifier, **overrides)


__all__ = [
    "ZooOptimizer",
    "callbacks",
    "core",
    "get",
    "list_optimizers",
    "optimizers",
    "schedules",
]
__all__ += optimizers.__all__
