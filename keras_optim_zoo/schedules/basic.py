"""Monotone decays in closed form: linear, polynomial, exponential, 1/t.

Registered as `"zoo_linear"`, `"zoo_polynomial"`, `"zoo_exponential"` and
`"zoo_inverse_time"`. The last three match Keras's built-ins of the same
arguments.
"""

from keras import ops

from keras_optim_zoo.core.hyper import Hyper
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    ZooSchedule,
    number,
    ramp,
    rate,
    steps,
)


@register("zoo_linear")
class Linear(ZooSchedule):
    r"""Linear from `start` to `end` over `steps` steps, then `end`.

    $$ \eta_t = \mathrm{start} + (\mathrm{end} - \mathrm{start})
       \,\frac{\min(t, T)}{T}, \qquad T = \mathrm{steps} $$

    Increasing (a warm-up) or decreasing. Matches
    `optax.linear_schedule(start, end, steps)` and
    `keras.optimizers.schedules.PolynomialDecay(start, steps, end,
    power=1.0)`.

    Args:
        start: Float >= 0, the value at step 0.
        end: Float >= 0, the value from step `steps` on.
        steps: Int >= 1, the length of the ramp.
    """

    arguments = {"start": rate(), "end": rate(), "steps": steps(low=1)}

    def compute(self, step):
        return ramp(self.start, self.end, step / self.steps)


@register("zoo_polynomial")
class Polynomial(ZooSchedule):
    r"""Polynomial decay to `end_learning_rate`, optionally cycling.

    $$ \eta_t = (\eta_0 - \eta_\mathrm{end})
       \left(1 - \frac{\min(t, T)}{T}\right)^{p} + \eta_\mathrm{end} $$

    With `cycle=True`, $T$ becomes the first multiple of `decay_steps` that
    is >= $t$ (`decay_steps` at $t = 0$), and there is no $\min$.

    Matches `keras.optimizers.schedules.PolynomialDecay` (same arguments
    and defaults).

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        decay_steps: Int >= 1, $T$.
        end_learning_rate: Float >= 0, $\eta_\mathrm{end}$. Defaults to
            `0.0001`.
        power: Float > 0, $p$. Defaults to `1.0`.
        cycle: Bool. Restart the decay every `decay_steps`, from a longer
            period each time. Defaults to `False`.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "decay_steps": steps(low=1),
        "end_learning_rate": rate(0.0001),
        "power": number(1.0, low=0.0, low_open=True),
        "cycle": Hyper(False),
    }

    def compute(self, step):
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps = decay_steps * ops.where(
                step == 0.0, 1.0, ops.ceil(step / decay_steps)
            )
        else:
            step = ops.minimum(step, decay_steps)
        remaining = 1.0 - step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * ops.power(remaining, self.power) + self.end_learning_rate


@register("zoo_exponential")
class Exponential(ZooSchedule):
    r"""Exponential decay: $\eta_t = \eta_0\, r^{\,t / T}$.

    With `staircase=True` the exponent is $\lfloor t / T \rfloor$.

    Matches `keras.optimizers.schedules.ExponentialDecay` (same arguments).

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        decay_steps: Int >= 1, $T$.
        decay_rate: Float > 0, $r$.
        staircase: Bool. Decay in discrete steps. Defaults to `False`.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "decay_steps": steps(low=1),
        "decay_rate": number(low=0.0, low_open=True),
        "staircase": Hyper(False),
    }

    def compute(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = ops.floor(p)
        return self.initial_learning_rate * ops.power(self.decay_rate, p)


@register("zoo_inverse_time")
class InverseTime(ZooSchedule):
    r"""Inverse time decay: $\eta_t = \eta_0 / (1 + r\, t / T)$.

    With `staircase=True`, $t / T$ is replaced by $\lfloor t / T \rfloor$.

    Matches `keras.optimizers.schedules.InverseTimeDecay` (same arguments).

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        decay_steps: Int >= 1, $T$.
        decay_rate: Float >= 0, $r$.
        staircase: Bool. Decay in discrete steps. Defaults to `False`.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "decay_steps": steps(low=1),
        "decay_rate": number(low=0.0),
        "staircase": Hyper(False),
    }

    def compute(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = ops.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)
