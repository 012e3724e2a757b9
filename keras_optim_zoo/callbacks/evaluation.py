"""Evaluation at the optimizer's evaluation point (schedule-free, EMA)."""

import keras

from keras_optim_zoo.callbacks import _common
from keras_optim_zoo.core.hyper import Hyper
from keras_optim_zoo.core.registry import register


@register("zoo_swap_evaluation_weights")
class SwapEvaluationWeights(keras.callbacks.Callback):
    """Swaps the optimizer's evaluation point into the model for evaluation.

    Some optimizers train at one point and should be evaluated at another:
    schedule-free optimizers train at $y_t$ and evaluate at the average
    $x_t$; ASGD evaluates at its Polyak average; the `Lookahead` wrapper
    at its slow weights; with `use_ema=True` any zoo optimizer evaluates
    at the EMA of the weights. Inside wrappers, the outermost optimizer
    that has an evaluation point is used. Their
    `evaluation_values()` gives that point; this callback writes it into
    the model's variables for validation (`on_test_begin`) and puts the
    training values back exactly afterwards (`on_test_end`), so training
    continues bit for bit as without the callback.

    With `swap_on_epoch=True` the evaluation point also stays in the model
    from the end of each epoch to the start of the next, so that callbacks
    listed after this one (`ModelCheckpoint`, `BackupAndRestore`) save it;
    the training values are restored when the next epoch (or
    `model.fit`'s end) begins. Like `keras.callbacks.SwapEMAWeights`, whose
    behaviour it generalizes.

    Args:
        swap_on_epoch: Bool. Also keep the evaluation weights in the model
            between epochs. Defaults to `False`.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = Hyper(False).validate(
            "swap_on_epoch", swap_on_epoch
        )

    def _optimizer(self):
        # The outermost optimizer with an evaluation point: a Lookahead
        # wrapper's slow weights before its inner optimizer's EMA.
        _common.model_optimizer(self)  # a clear error without one
        for optimizer in _common.chain(self.model.optimizer):
            if hasattr(optimizer, "evaluation_values") and (
                optimizer.has_evaluation_point or optimizer.use_ema
            ):
                return optimizer
        names = " around ".join(
            type(o).__name__ for o in _common.chain(self.model.optimizer)
        )
        raise ValueError(
            f"SwapEvaluationWeights found no evaluation point in {names}: "
            "it needs a zoo optimizer or wrapper with one (schedule-free, "
            "ASGD, Lookahead) or use_ema=True. For a Keras optimizer with "
            "use_ema=True use keras.callbacks.SwapEMAWeights."
        )

    def _swap_in(self):
        optimizer = self._optimizer()
        if optimizer.built and not optimizer.evaluating:
            optimizer.swap_evaluation_weights()

    def _swap_out(self):
        optimizer = self._optimizer()
        if optimizer.evaluating:
            optimizer.restore_training_weights()

    def on_train_begin(self, logs=None):
        self._optimizer()  # a clear error before the first step

    def on_epoch_begin(self, epoch, logs=None):
        self._swap_out()

    def on_test_begin(self, logs=None):
        self._swap_in()

    def on_test_end(self, logs=None):
        if not self.swap_on_epoch:
            self._swap_out()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._swap_in()

    def on_train_end(self, logs=None):
        self._swap_out()

    def get_config(self):
        return {"swap_on_epoch": self.swap_on_epoch}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
