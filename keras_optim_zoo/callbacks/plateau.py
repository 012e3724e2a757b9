"""Reduce the learning rate on a plateau, schedules included.

Registered as `"zoo_reduce_lr_on_plateau"`.
"""

import math
import warnings

import keras

from keras_optim_zoo.callbacks import _common
from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.scaled import AdjustableScale

_ARGS = {
    "factor": Hyper(0.1, low=0.0, high=1.0, low_open=True, high_open=True),
    "patience": Hyper(10, low=0, kind="int"),
    "min_delta": Hyper(1e-4, low=0.0),
    "cooldown": Hyper(0, low=0, kind="int"),
    "min_lr": Hyper(0.0, low=0.0),
    "verbose": Hyper(0, low=0, kind="int"),
}
_MAX_WORDS = ("acc", "auc", "precision", "recall", "f1", "iou")


@register("zoo_reduce_lr_on_plateau")
class ReduceLROnPlateau(_common.ConfigMixin, keras.callbacks.Callback):
    r"""Multiplies the learning rate by `factor` when a metric stops improving.

    At the end of every epoch, compares `logs[monitor]` with the best value
    so far. A value improves on the best $b$ when it is below
    $b - \delta$ (`mode="min"`) or above $b + \delta$ (`mode="max"`), with
    $\delta$ = `min_delta`, or $\delta$ = `min_delta` $\cdot |b|$ with
    `min_delta_mode="rel"`. After `patience` epochs without improvement
    the learning rate is multiplied by `factor`, then the next `cooldown`
    epochs are not counted (Keras counts the last of them, so its
    `cooldown=1` does nothing). A value that is not finite never
    improves. The comparisons are signed and the relative threshold uses
    $|b|$, so metrics that are negative (log-likelihoods,
    ELBOs) or maximized work as expected; PyTorch's relative threshold
    $b (1 \mp \delta)$ points the wrong way for negative $b$.

    What is scaled is whatever the learning rate is:

    - a float (a variable): the variable is assigned `lr * factor`, never
      below `min_lr` (as Keras does); it is saved with the optimizer;
    - a `LearningRateSchedule`: Keras's `ReduceLROnPlateau` raises
      `TypeError` here. At the start of training this callback wraps the
      schedule once in `schedules.AdjustableScale`
      (`"zoo_adjustable_scale"`), $\eta_t = c\, s(t)$, and multiplies $c$
      by `factor`. The compiled train step reads $c$ from a variable, so
      the change applies at the next step, and the warm-up, cosine or
      other shape of $s$ continues underneath. $c$ is part of the
      optimizer's config, so `model.save` / `keras.models.load_model`
      restore it, and a reloaded model is not wrapped twice (weights-only
      checkpoints, `save_weights` and `BackupAndRestore`, do not carry
      $c$: it is not one of the optimizer's variables). `min_lr`
      bounds the rate at the step of each reduction: $c$ is not lowered
      below `min_lr` $/ s(t)$.

    An epoch whose logs lack `monitor` (validation skipped by
    `validation_freq`) is not counted, with a warning. Plain callables
    (`learning_rate=lambda: ...`) raise `TypeError`.
    The callback's own counters (best value, wait, cooldown) are not
    saved, as in Keras. A `LossScaleOptimizer` is unwrapped.

    Args:
        monitor: String, the key in the epoch logs. Defaults to
            `"val_loss"`.
        factor: Float in `(0, 1)`, the multiplier. Defaults to `0.1`.
        patience: Int >= 0, epochs without improvement before reducing.
            Defaults to `10`.
        mode: `"min"`, `"max"` or `"auto"` (`"max"` when `monitor`
            contains one of "acc", "auc", "precision", "recall", "f1",
            "iou"; `"min"` otherwise: give `"max"` for a log-likelihood).
            Defaults to `"auto"`.
        min_delta: Float >= 0, the improvement threshold $\delta$.
            Defaults to `1e-4`.
        min_delta_mode: `"abs"` or `"rel"`. Defaults to `"abs"`.
        cooldown: Int >= 0, epochs to wait after a reduction. Defaults to
            `0`.
        min_lr: Float >= 0, lower bound of the learning rate. Defaults to
            `0.0`.
        verbose: Int; `1` prints a message at each reduction. Defaults to
            `0`.

    Example:

    ```python
    lr = keras_optim_zoo.schedules.get(
        "zoo_warmup_cosine", peak_learning_rate=1e-3, warmup_steps=500,
        decay_steps=50_000)
    model.compile(optimizer=keras_optim_zoo.get("zoo_adam",
                                                learning_rate=lr), ...)
    model.fit(..., callbacks=[ReduceLROnPlateau("val_loss", patience=3)])
    ```
    """

    config_keys = (
        "monitor",
        "factor",
        "patience",
        "mode",
        "min_delta",
        "min_delta_mode",
        "cooldown",
        "min_lr",
        "verbose",
    )

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        mode="auto",
        min_delta=1e-4,
        min_delta_mode="abs",
        cooldown=0,
        min_lr=0.0,
        verbose=0,
    ):
        super().__init__()
        if not isinstance(monitor, str):
            raise invalid("monitor", monitor, "a string")
        self.monitor = monitor
        self.mode = _common.check_choice("mode", mode, ("auto", "min", "max"))
        self.min_delta_mode = _common.check_choice(
            "min_delta_mode", min_delta_mode, ("abs", "rel")
        )
        _common.set_validated(
            self,
            _ARGS,
            factor=factor,
            patience=patience,
            min_delta=min_delta,
            cooldown=cooldown,
            min_lr=min_lr,
            verbose=verbose,
        )
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0
        self.reductions = []  # (epoch, new learning rate at that step)

    # ------------------------------------------------------------------

    def direction(self):
        """`"min"` or `"max"`, resolving `mode="auto"` from `monitor`."""
        if self.mode != "auto":
            return self.mode
        name = self.monitor.lower()
        return "max" if any(w in name for w in _MAX_WORDS) else "min"

    def is_improvement(self, current, best):
        """Whether `current` improves on `best` by more than the threshold."""
        if best is None:
            return True
        delta = self.min_delta
        if self.min_delta_mode == "rel":
            delta *= abs(best)
        if self.direction() == "min":
            return current < best - delta
        return current > best + delta

    def on_train_begin(self, logs=None):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0
        optimizer = _common.model_optimizer(self)
        lr = _common.learning_rate_object(optimizer)
        if isinstance(lr, keras.Variable | AdjustableScale):
            return
        if not isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                "ReduceLROnPlateau scales a float learning rate or a "
                "LearningRateSchedule; the optimizer's learning rate is the "
                f"callable {lr!r}, which it cannot scale or save."
            )
        optimizer.learning_rate = AdjustableScale(lr)
        # A train function traced by an earlier `fit` holds the old
        # schedule; the next call traces one that reads the factor.
        self.model.make_train_function(force=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        current = logs.get(self.monitor)
        if current is None:  # e.g. val_loss with validation_freq > 1
            warnings.warn(
                f"ReduceLROnPlateau monitors {self.monitor!r}, which is not "
                f"in the logs of epoch {epoch + 1}; available: "
                f"{', '.join(sorted(logs))}. The epoch is not counted.",
                stacklevel=2,
            )
            return
        current = _common.to_float(current)
        cooling = self.cooldown_counter > 0
        if cooling:
            self.cooldown_counter -= 1
            self.wait = 0
        if math.isfinite(current) and self.is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        if cooling:
            return
        self.wait += 1
        if self.wait >= self.patience and self.reduce(epoch):
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def reduce(self, epoch=None):
        """Multiplies the learning rate by `factor` now.

        Returns `False` (and changes nothing) when `min_lr` allows no
        reduction.
        """
        optimizer = _common.model_optimizer(self)
        lr = _common.learning_rate_object(optimizer)
        if isinstance(lr, AdjustableScale):
            base = _common.to_float(lr.schedule(_common.step_of(optimizer)))
            factor = lr.factor * self.factor
            if base > 0:
                factor = max(factor, self.min_lr / base)
            if factor >= lr.factor:
                return False
            lr.factor = factor
            new = factor * base
        else:
            old = _common.to_float(optimizer.learning_rate)
            if old <= self.min_lr:
                return False
            new = max(old * self.factor, self.min_lr)
            optimizer.learning_rate = new
        self.reductions.append((epoch, new))
        if self.verbose:
            print(
                f"\nEpoch {'?' if epoch is None else epoch + 1}: "
                f"ReduceLROnPlateau reducing the learning rate to {new:.6g}."
            )
        return True
