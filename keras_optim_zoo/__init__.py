"""keras_optim_zoo: XLA-compiled optimizers for Keras 3, by `zoo_*` name.

    import keras_optim_zoo
    model.compile(optimizer="zoo_nesterov", loss=...)

Importing the package registers every optimizer, learning-rate schedule and
callback under its `zoo_*` name with Keras, so compile configs,
`keras.optimizers.get` and saved models resolve them. (`keras_optim_zoo.data`,
the offline TFDS datasets, needs tensorflow-datasets and is imported on its
own.)
"""

from keras_optim_zoo import _quiet

_quiet.on_package_import()  # `python -m keras_optim_zoo`: no TF start-up log

from keras_optim_zoo import (  # noqa: E402
    callbacks,
    core,
    optimizers,
    schedules,
    wrappers,
)
from keras_optim_zoo.core import registry as _registry  # noqa: E402
from keras_optim_zoo.core.base import ZooOptimizer  # noqa: E402
from keras_optim_zoo.optimizers import *  # noqa: E402,F401,F403

__version__ = "0.1.0"


list_optimizers, get = _registry.accessors("optimizer", "zoo_adam")

__all__ = [
    "ZooOptimizer",
    "callbacks",
    "core",
    "get",
    "list_optimizers",
    "optimizers",
    "schedules",
    "wrappers",
]
__all__ += optimizers.__all__
