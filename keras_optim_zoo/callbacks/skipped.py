"""Skipped steps in the logs, and the stop at `max_skipped_steps`.

Registered as `"zoo_skipped_steps_monitor"`.
"""

import keras

from keras_optim_zoo.callbacks import _common
from keras_optim_zoo.core.hyper import Hyper
from keras_optim_zoo.core.registry import register


@register("zoo_skipped_steps_monitor")
class SkippedStepsMonitor(_common.ConfigMixin, keras.callbacks.Callback):
    """Logs `skipped_steps` of a `SkipNonFinite` wrapper, and stops there.

    After every training batch (with `batches=True`) and every epoch, adds
    `skipped_steps` (the steps skipped so far because their gradients
    were not finite) to the logs, so that `History`, `CSVLogger` and
    `TensorBoard` record it. Once more than the wrapper's
    `max_skipped_steps` have been skipped, raises `RuntimeError` at the
    end of that batch: training stops with the weights and optimizer
    state of the last finite step (nothing is lost; save them from the
    model as usual). Put it before `CSVLogger` and `TensorBoard` in
    `callbacks=[...]`. The `SkipNonFinite` may sit anywhere in the
    optimizer's wrappers (inside a `LossScaleOptimizer` too).

    Args:
        batches: Bool. Check and log after every batch (one read of a
            scalar from the device each). `False`: at epoch ends only.
            Defaults to `True`.
    """

    config_keys = ("batches",)

    def __init__(self, batches=True):
        super().__init__()
        self.batches = Hyper(True).validate("batches", batches)

    def _wrapper(self):
        _common.model_optimizer(self)  # a clear error without one
        for optimizer in _common.chain(self.model.optimizer):
            if hasattr(optimizer, "check_skipped_steps"):
                return optimizer
        raise ValueError(
            "SkippedStepsMonitor needs a SkipNonFinite wrapper in the "
            "model's optimizer; received "
            f"{type(self.model.optimizer).__name__}. Compile with "
            "optimizer=wrappers.SkipNonFinite(optimizer)."
        )

    def _update(self, logs):
        wrapper = self._wrapper()
        if wrapper.built:
            count = wrapper.check_skipped_steps()
            if logs is not None:
                logs["skipped_steps"] = count

    def on_train_begin(self, logs=None):
        self._wrapper()

    def on_train_batch_end(self, batch, logs=None):
        if self.batches:
            self._update(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._update(logs)
