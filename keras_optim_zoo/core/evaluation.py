"""An evaluation point other than the training point, swapped in and out.

Schedule-free's average, ASGD's average, the EMA of the weights and
Lookahead's slow weights are points to evaluate (and save) the model at
that are not the weights being trained. Every zoo optimizer and wrapper
mixes in `EvaluationPoint`, which writes that point into the model's
variables and puts the exact training values back; it needs only
`evaluation_values(variables)` and `_trainable_variables` (Keras's).
"""

from keras import ops


class EvaluationPoint:
    """Mixin: `swap_evaluation_weights` / `restore_training_weights`."""

    def evaluation_values(self, variables=None):
        """The weights to evaluate at, one tensor per trainable variable."""
        raise NotImplementedError

    def _evaluated_variables(self, variables):
        """`variables` (default: the trainable ones) as a list, or a clear
        error before the optimizer has any state."""
        if not self.built:
            raise ValueError(
                "The optimizer has no state yet: evaluation weights exist "
                "once it has been built (after the first training step)."
            )
        return list(
            self._trainable_variables if variables is None else variables
        )

    @property
    def evaluating(self):
        """Whether the evaluation weights are swapped into the model."""
        return vars(self).get("_training_backup") is not None

    def swap_evaluation_weights(self, variables=None):
        """Writes the evaluation point into the model's variables.

        The training values are kept (exactly) until
        `restore_training_weights`. Raises if they are already swapped.
        """
        if self.evaluating:
            raise ValueError(
                "The evaluation weights are already swapped in; call "
                "restore_training_weights() first."
            )
        variables = self._evaluated_variables(variables)
        values = self.evaluation_values(variables)
        backup = [ops.copy(v.value) for v in variables]
        for var, value in zip(variables, values):
            var.assign(value)
        vars(self)["_training_backup"] = (variables, backup)

    def restore_training_weights(self):
        """Puts back the training values saved by `swap_evaluation_weights`."""
        if not self.evaluating:
            raise ValueError(
                "The evaluation weights are not swapped in: nothing to restore."
            )
        variables, backup = vars(self)["_training_backup"]
        for var, value in zip(variables, backup):
            var.assign(value)
        vars(self)["_training_backup"] = None

    def _check_training(self):
        """Raises if the evaluation weights are in the model (before a step)."""
        if self.evaluating:
            raise ValueError(
                "The evaluation weights are swapped into the model; call "
                "restore_training_weights() before training again."
            )


def has_point(optimizer):
    """Whether `optimizer` (any Keras optimizer) has an evaluation point:
    an evaluation rule of its own, or Keras's `use_ema`."""
    return bool(
        getattr(optimizer, "has_evaluation_point", False)
        or getattr(optimizer, "use_ema", False)
    )


def point_values(optimizer, variables):
    """The evaluation point of `optimizer` for `variables`: its
    `evaluation_values()` where it has one, else the EMA of the weights;
    `None` if it has neither."""
    if hasattr(optimizer, "evaluation_values") and getattr(
        optimizer, "has_evaluation_point", False
    ):
        return optimizer.evaluation_values(variables)
    if getattr(optimizer, "use_ema", False):
        return ema_values(optimizer, variables)
    return None


def ema_values(optimizer, variables):
    """The EMA of `variables` kept by any Keras optimizer with `use_ema`."""
    averages = optimizer._model_variables_moving_average
    values = []
    for var in variables:
        average = averages[optimizer._get_variable_index(var)]
        values.append(var.value if average is None else average.value)
    return values
