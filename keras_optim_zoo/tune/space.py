"""The search space of one candidate optimizer, derived from its declarations.

Every candidate is searched over:

- `learning_rate`, log-uniform, in a range seeded by the learning-rate range
  test (`range_from_suggestion`); the value is the rate at the reference
  batch size, scaled for other batch sizes by the optimizer's declared
  `batch_size_scaling` (linear for SGD-like rules, square root for adaptive
  ones);
- its key hyper-parameters where it declares them (changeable, non-zero by
  default): `momentum` and `beta_1`, searched as `1 - beta` on a log scale
  (0.01 to 0.5, i.e. beta from 0.5 to 0.99);
- `weight_decay` (the base's decoupled decay, or the rule's own),
  log-uniform, unless switched off;
- optionally the schedule (`constant`, `cosine`, `warmup_cosine` over the
  run's steps) and the batch size, as categorical choices.
"""

import dataclasses
import math

import keras_optim_zoo
from keras_optim_zoo.core import registry
from keras_optim_zoo.core.hyper import invalid

SCHEDULES = ("constant", "cosine", "warmup_cosine")
KEY_BETAS = ("momentum", "beta_1")
ONE_MINUS_BETA = (0.01, 0.5)
WEIGHT_DECAY = (1e-5, 0.3)
# The range test's suggestion is seeded into a range this many times
# either side of it (and of the optimizer's default rate).
LR_SPAN = 10.0


def optimizer_class(name):
    """The zoo class registered as `name`; a clear error otherwise."""
    try:
        return registry.lookup("optimizer", name)
    except KeyError as error:
        raise ValueError(
            f"Unknown optimizer {name!r} in `optimizers`: "
            f"{error.args[0] if error.args else ''} Registered: "
            f"{', '.join(keras_optim_zoo.list_optimizers())}."
        ) from None


def key_betas(cls):
    """The momentum-like hyper-parameters searched for `cls`."""
    specs = cls._all_hyperparameters
    return [
        k
        for k in KEY_BETAS
        if k in specs
        and specs[k].kind == "float"
        and specs[k].changeable
        and specs[k].default
    ]


def range_from_suggestion(suggested, default):
    """The learning-rate range searched: a decade either side of both."""
    values = [v for v in (suggested, default) if v and math.isfinite(v)]
    return min(values) / LR_SPAN, max(values) * LR_SPAN


@dataclasses.dataclass
class Space:
    """What is searched for one candidate.

    Attributes:
        optimizer: The zoo name.
        lr_range: `(low, high)` of the learning rate at `reference_batch`.
        betas: Names of the momentum-like hyper-parameters searched.
        weight_decay: Whether weight decay is searched.
        schedules: Schedule names to choose from (one: not searched).
        batch_sizes: Batch sizes to choose from (one: not searched).
        reference_batch: The batch size the learning rate refers to.
    """

    optimizer: str
    lr_range: tuple
    betas: list
    weight_decay: bool
    schedules: tuple
    batch_sizes: tuple

    @property
    def reference_batch(self):
        return self.batch_sizes[0]

    def suggest(self, trial):
        """Draws one configuration's parameters from an Optuna trial."""
        params = {
            "learning_rate": trial.suggest_float(
                "learning_rate", *self.lr_range, log=True
            )
        }
        for key in self.betas:
            params[f"one_minus_{key}"] = trial.suggest_float(
                f"one_minus_{key}", *ONE_MINUS_BETA, log=True
            )
        if self.weight_decay:
            params["weight_decay"] = trial.suggest_float(
                "weight_decay", *WEIGHT_DECAY, log=True
            )
        if len(self.schedules) > 1:
            params["schedule"] = trial.suggest_categorical(
                "schedule", list(self.schedules)
            )
        if len(self.batch_sizes) > 1:
            params["batch_size"] = trial.suggest_categorical(
                "batch_size", list(self.batch_sizes)
            )
        return params

    def defaults(self, learning_rate):
        """The parameters of the optimizer's defaults at `learning_rate`
        (for enqueued trials), clipped to nothing: they must lie inside."""
        cls = optimizer_class(self.optimizer)
        params = {"learning_rate": learning_rate}
        for key in self.betas:
            one_minus = 1.0 - cls._all_hyperparameters[key].default
            params[f"one_minus_{key}"] = min(
                max(one_minus, ONE_MINUS_BETA[0]), ONE_MINUS_BETA[1]
            )
        if self.weight_decay:
            default = cls._all_hyperparameters["weight_decay"].default
            params["weight_decay"] = min(
                max(default or WEIGHT_DECAY[0], WEIGHT_DECAY[0]),
                WEIGHT_DECAY[1],
            )
        if len(self.schedules) > 1:
            params["schedule"] = self.schedules[0]
        if len(self.batch_sizes) > 1:
            params["batch_size"] = self.reference_batch
        return params

    def configuration(self, params, steps_per_epoch_of, epochs):
        """`(optimizer overrides, batch size)` of one set of parameters.

        `steps_per_epoch_of(batch_size)` gives the steps of one epoch, for
        the schedules' lengths.
        """
        cls = optimizer_class(self.optimizer)
        batch = int(params.get("batch_size", self.reference_batch))
        ratio = batch / self.reference_batch
        scale = ratio if cls.batch_size_scaling == "linear" else ratio**0.5
        lr = float(params["learning_rate"]) * scale
        overrides = {}
        for key in self.betas:
            overrides[key] = 1.0 - float(params[f"one_minus_{key}"])
        if "weight_decay" in params:
            overrides["weight_decay"] = float(params["weight_decay"])
        schedule = params.get("schedule", self.schedules[0])
        total = max(1, steps_per_epoch_of(batch) * epochs)
        overrides["learning_rate"] = schedule_config(schedule, lr, total)
        return overrides, batch


def schedule_config(name, learning_rate, total_steps):
    """A float, or the config dict of a zoo schedule peaking at the rate."""
    if name == "constant":
        return learning_rate
    if name == "cosine":
        return {
            "class_name": "zoo_cosine",
            "config": {
                "initial_learning_rate": learning_rate,
                "decay_steps": total_steps,
            },
        }
    if name == "warmup_cosine":
        warmup = max(1, total_steps // 20)
        return {
            "class_name": "zoo_warmup_cosine",
            "config": {
                "peak_learning_rate": learning_rate,
                "warmup_steps": warmup,
                "decay_steps": max(1, total_steps - warmup),
            },
        }
    raise invalid("schedules", name, "one of " + ", ".join(SCHEDULES))


def validate_choices(schedules, batch_sizes):
    """Checks the `schedules` and `batch_sizes` options before any work."""
    schedules = tuple(schedules or ("constant",))
    for name in schedules:
        if name not in SCHEDULES:
            raise invalid("schedules", name, "one of " + ", ".join(SCHEDULES))
    if len(set(schedules)) != len(schedules):
        raise invalid("schedules", list(schedules), "distinct names")
    batch_sizes = tuple(batch_sizes or (100,))
    for b in batch_sizes:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise invalid("batch_sizes", b, "ints >= 1")
    if len(set(batch_sizes)) != len(batch_sizes):
        raise invalid("batch_sizes", list(batch_sizes), "distinct sizes")
    return schedules, batch_sizes
