"""A schedule times a factor that may change during training.

Registered as `"zoo_adjustable_scale"`. `callbacks.ReduceLROnPlateau` puts
it around a schedule, so that a plateau can lower a learning rate that is
not a plain variable.
"""

import keras
from keras import ops

from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import Nested, ZooSchedule, evaluate, number

FACTOR_DTYPE = "float64"


@register("zoo_adjustable_scale")
class AdjustableScale(ZooSchedule):
    r"""A schedule times a factor held in a variable: $\eta_t = c\, s(t)$.

    Like `"zoo_scale"`, except that $c$ lives in a non-trainable float64
    `keras.Variable` (`factor_variable`), read at every call: assigning
    `schedule.factor = c` changes the learning rate from the next step on,
    also inside an already compiled (XLA) train step, without retracing.
    The product is computed in float64 and rounded once to float32.

    The current factor is written into `get_config()`, so a model saved
    with `model.save` and reloaded with `keras.models.load_model` resumes
    with the factor it had. (The variable is not one of the optimizer's
    variables: weights-only checkpoints do not carry it.)

    Args:
        schedule: A `LearningRateSchedule` or a float ($s$).
        factor: Float >= 0, $c$. Defaults to `1.0`.
    """

    arguments = {"schedule": Nested(), "factor": number(1.0, low=0.0)}

    @property
    def factor(self):
        """The current factor $c$, a Python float; assignable."""
        return float(ops.convert_to_numpy(self.factor_variable))

    @factor.setter
    def factor(self, value):
        value = type(self).arguments["factor"].validate("factor", value)
        variable = self.__dict__.get("factor_variable")
        if variable is None:
            self.factor_variable = keras.Variable(
                value,
                dtype=FACTOR_DTYPE,
                trainable=False,
                name="learning_rate_factor",
            )
        else:
            variable.assign(value)

    def compute(self, step):
        base = ops.cast(evaluate(self.schedule, step), FACTOR_DTYPE)
        return ops.convert_to_tensor(self.factor_variable) * base
