"""Keras callbacks for learning rates and hyper-parameters, by `zoo_*` name.

    from keras_optim_zoo import callbacks
    model.fit(x, y, callbacks=[
        callbacks.LearningRateLogger(),
        callbacks.ReduceLROnPlateau("val_loss", patience=3),
    ])

- `LearningRateScheduler`: a schedule (or `fn(step, lr)`) applied before
  every step, or every epoch.
- `HyperparameterScheduler`: the same for `momentum`, `beta_1`... of a zoo
  optimizer (the momentum half of 1cycle).
- `LearningRateLogger`: `learning_rate`, `momentum`, `beta_1` in the logs
  at every batch and epoch, schedules included.
- `ReduceLROnPlateau`: also for a learning rate that is a schedule; the
  factor is saved with the model.
- `LearningRateFinder` / `find_learning_rate`: the range test, with a
  suggested learning rate and a plot.
- `SwapEvaluationWeights`: validation (and, optionally, checkpoints) at
  the optimizer's evaluation point: schedule-free's average, ASGD's
  average, Lookahead's slow weights, or the EMA of the weights.
- `SkippedStepsMonitor`: `skipped_steps` of a `SkipNonFinite` wrapper in
  the logs, and an error past its `max_skipped_steps`.

Every module in this folder is imported here, which registers its
callbacks; a new callback needs only its own file.
"""

import importlib
import pkgutil

from keras_optim_zoo.core import registry as _registry

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from keras_optim_zoo.callbacks.evaluation import (  # noqa: E402
    SwapEvaluationWeights,
)
from keras_optim_zoo.callbacks.finder import (  # noqa: E402
    LearningRateFinder,
    RangeTestResult,
    find_learning_rate,
)
from keras_optim_zoo.callbacks.logger import LearningRateLogger  # noqa: E402
from keras_optim_zoo.callbacks.plateau import ReduceLROnPlateau  # noqa: E402
from keras_optim_zoo.callbacks.scheduler import (  # noqa: E402
    HyperparameterScheduler,
    LearningRateScheduler,
)
from keras_optim_zoo.callbacks.skipped import SkippedStepsMonitor  # noqa: E402

list_callbacks, get = _registry.accessors(
    "callback", "zoo_learning_rate_logger"
)

__all__ = [
    "HyperparameterScheduler",
    "LearningRateFinder",
    "LearningRateLogger",
    "LearningRateScheduler",
    "RangeTestResult",
    "ReduceLROnPlateau",
    "SkippedStepsMonitor",
    "SwapEvaluationWeights",
    "find_learning_rate",
    "get",
    "list_callbacks",
]
