"""The optimizers: one algorithm (or one family) per module.

Every module in this folder is imported here, which registers its classes;
a new optimizer needs only its own file. The registered classes are then
attributes of this package (`optimizers.Adam`).
"""

import importlib
import pkgutil

from keras_optim_zoo.core import registry as _registry

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

_CLASSES = {
    cls.__name__: cls
    for cls in map(
        lambda name: _registry.lookup("optimizer", name),
        _registry.names("optimizer"),
    )
}
globals().update(_CLASSES)
__all__ = sorted(_CLASSES)
