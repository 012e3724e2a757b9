"""Optimizer wrappers, around any zoo optimizer or Keras built-in.

    from keras_optim_zoo import wrappers
    model.compile(optimizer=wrappers.Lookahead("zoo_adamw"), loss=...)

- `Lookahead` (`"zoo_lookahead"`): slow weights every k steps
  (`zoo_ranger` is Lookahead over RAdam with gradient centralization, as
  one optimizer).
- `GradientCentralization` (`"zoo_gradient_centralization"`).
- `AdaptiveGradientClipping` (`"zoo_adaptive_gradient_clipping"`):
  unit-wise, relative to the weights' norms.
- `SkipNonFinite` (`"zoo_skip_non_finite"`): steps with NaN or infinite
  gradients change nothing and are counted.
- `SWA` (`"zoo_swa"`): stochastic weight averaging, with its own constant,
  annealed or cyclical learning rate; `update_bn(model, data)` recomputes
  the batch-normalization statistics at the averaged weights.
- `ParameterGroups` (`"zoo_parameter_groups"`): different optimizers,
  learning-rate multipliers and weight decay for groups of variables
  chosen by path patterns or a predicate (`Group`); `layerwise_decay`
  makes the groups of layer-wise learning-rate decay.

Wrappers nest (`Lookahead(SkipNonFinite("zoo_adam"))`), save their inner
optimizer's config inside their own, and pass the learning rate, the step
counter and callbacks through to it. `list_wrappers()` names them. Every
module in this folder is imported here, which registers its classes.
"""

import importlib
import pkgutil

from keras_optim_zoo.core import registry as _registry

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from keras_optim_zoo.wrappers.base import ZooWrapper  # noqa: E402
from keras_optim_zoo.wrappers.gradients import (  # noqa: E402
    AdaptiveGradientClipping,
    GradientCentralization,
    SkipNonFinite,
)
from keras_optim_zoo.wrappers.groups import (  # noqa: E402
    Group,
    ParameterGroups,
    layerwise_decay,
)
from keras_optim_zoo.wrappers.lookahead import Lookahead  # noqa: E402
from keras_optim_zoo.wrappers.swa import SWA, update_bn  # noqa: E402

list_wrappers, get = _registry.accessors("wrapper", "zoo_lookahead")

__all__ = [
    "AdaptiveGradientClipping",
    "GradientCentralization",
    "Group",
    "Lookahead",
    "ParameterGroups",
    "SWA",
    "SkipNonFinite",
    "ZooWrapper",
    "get",
    "layerwise_decay",
    "list_wrappers",
    "update_bn",
]
