"""The optimizers: one algorithm (or one family) per module.

Every module in this folder is imported here, which registers its classes;
a new optimizer needs only its own file.
"""

import importlib
import pkgutil

from keras_optim_zoo.core.base import ZooOptimizer

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = sorted(
    cls.__name__
    for cls in ZooOptimizer.__subclasses__()
    if cls.__module__.startswith(__name__)
)
globals().update(
    {
        cls.__name__: cls
        for cls in ZooOptimizer.__subclasses__()
        if cls.__module__.startswith(__name__)
    }
)
