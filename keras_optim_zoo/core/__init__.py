"""The mechanism, once: base class, hyper-parameters, registry, compilation."""

from keras_optim_zoo.core.base import (
    StepContext,
    ZooOptimizer,
    cautious_update,
)
from keras_optim_zoo.core.hyper import PARAM, Hyper, Slot, fraction, positive
from keras_optim_zoo.core.registry import register

__all__ = [
    "Hyper",
    "PARAM",
    "Slot",
    "StepContext",
    "ZooOptimizer",
    "cautious_update",
    "fraction",
    "positive",
    "register",
]
