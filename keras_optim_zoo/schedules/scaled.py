"""A schedule times a factor that may change during training.

Registered as `"zoo_adjustable_scale"`. `callbacks.ReduceLROnPlateau` puts
it around a schedule, so that a plateau can lower a learning rate that is
not a plain variable.
"""

import keras

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import Nested, ZooSchedule, evaluate, number


@register("zoo_adjustable_scale")
class AdjustableScale(ZooSchedule):
    r"""A schedule times a factor held in a variable: $\eta_t = c\, s(t)$.

    Like `"zoo_scale"`, except that $c$ lives in non-trainable variables
    (`factor_variable`, float32, and its residual: 48 bits of the double,
    as a zoo optimizer keeps its hyper-parameters), read at every call:
    assigning `schedule.factor = c` changes the learning rate from the
    next step on, also inside an already compiled (XLA) train step,
    without retracing. The product is computed in the widest float of
    the backend (float64, or float32 on JAX without x64) from the double
    $c$ and rounded once to float32.

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
        return xla.stored_float(
            self.factor_variable,
            self.factor_residual,
            self.__dict__.get("_factor_given"),
        )

    @factor.setter
    def factor(self, value):
        value = type(self).arguments["factor"].validate("factor", value)
        high, low = xla.split(value)
        if self.__dict__.get("factor_variable") is None:
            self.factor_variable, self.factor_residual = (
                keras.Variable(
                    part, dtype="float32", trainable=False, name=name
                )
                for part, name in (
                    (high, "learning_rate_factor"),
                    (low, "learning_rate_factor_residual"),
                )
            )
        else:
            self.factor_variable.assign(high)
            self.factor_residual.assign(low)
        self._factor_given = value

    def compute(self, step):
        return xla.times(
            xla.read(self.factor_variable),
            xla.read(self.factor_residual),
            evaluate(self.schedule, step),
        )
