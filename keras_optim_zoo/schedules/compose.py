"""Schedules built from schedules: warm-up, sequence, scaling.

Registered as `"zoo_warmup"`, `"zoo_join"` and `"zoo_scale"`. Wherever a
schedule is taken, a float is accepted too (a constant), and any
serializable `keras.optimizers.schedules.LearningRateSchedule` works,
Keras's built-ins included. They evaluate element-wise on a tensor of steps
when the schedules they wrap do.
"""

from keras import ops

from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    ListOf,
    Nested,
    ZooSchedule,
    evaluate,
    number,
    ramp,
    rate,
    steps,
)


@register("zoo_warmup")
class Warmup(ZooSchedule):
    r"""Linear warm-up for `warmup_steps` steps in front of a schedule.

    With $W$ = `warmup_steps` and $s$ the wrapped schedule:

    $$ \eta_t = \begin{cases}
       \eta_\mathrm{init} + (s(\tau_W) - \eta_\mathrm{init})\, t / W
       & t < W \\
       s(\tau_t) & t \ge W
       \end{cases} \qquad
       \tau_t = \begin{cases} t - W & \text{offset} \\
                              t & \text{not offset} \end{cases} $$

    so the warm-up ends where the wrapped schedule takes over. With
    `offset=True` (the default) the wrapped schedule starts from its own
    step 0 when the warm-up ends, so its whole shape is kept, $W$ steps
    later; Keras's `CosineDecay(warmup_steps=...)` and
    `optax.join_schedules` count the same way. With `offset=False` it sees
    the optimizer's step, and the warm-up replaces its first $W$ steps.

    Args:
        schedule: The schedule after the warm-up: a
            `LearningRateSchedule` or a float.
        warmup_steps: Int >= 0, $W$; `0` is no warm-up.
        init_value: Float >= 0, $\eta_\mathrm{init}$, the value at step 0.
            Defaults to `0.0`.
        offset: Bool. Count the wrapped schedule's steps from the end of
            the warm-up. Defaults to `True`.

    References:
        - Goyal et al., 2017. Accurate, large minibatch SGD: training
          ImageNet in 1 hour.
    """

    arguments = {
        "schedule": Nested(),
        "warmup_steps": steps(),
        "init_value": rate(0.0),
        "offset": Hyper(True),
    }

    def compute(self, step):
        warmup = self.warmup_steps
        if self.offset:
            after = evaluate(self.schedule, ops.maximum(step - warmup, 0.0))
        else:
            after = evaluate(self.schedule, step)
        if warmup == 0:
            return after
        target = evaluate(self.schedule, 0.0 if self.offset else warmup)
        warm = ramp(self.init_value, target, step / warmup)
        return ops.where(step < warmup, warm, after)


@register("zoo_join")
class Join(ZooSchedule):
    r"""Schedules one after another, each counting steps from its start.

    $$ \eta_t = s_k(t - b_{k-1}) \quad\text{for}\quad
       b_{k-1} \le t < b_k, \qquad b_{-1} = 0 $$

    Matches `optax.join_schedules(schedules, boundaries)`.

    Args:
        schedules: Non-empty list of schedules ($s_k$), each a
            `LearningRateSchedule` or a float.
        boundaries: Strictly increasing list of ints >= 0, one fewer than
            `schedules`: the step at which each later schedule starts.
    """

    arguments = {
        "schedules": ListOf(Nested()),
        "boundaries": ListOf(steps(), min_length=0, increasing=True),
    }

    def _check_arguments(self):
        if len(self.boundaries) != len(self.schedules) - 1:
            raise invalid(
                "boundaries",
                self.boundaries,
                f"a list of {len(self.schedules) - 1} ints (one fewer than "
                "schedules)",
            )

    def compute(self, step):
        result = evaluate(self.schedules[0], step)
        for start, schedule in zip(self.boundaries, self.schedules[1:]):
            later = evaluate(schedule, ops.maximum(step - start, 0.0))
            result = ops.where(step < start, result, later)
        return result


@register("zoo_scale")
class Scale(ZooSchedule):
    r"""A schedule multiplied by a constant: $\eta_t = c\, s(t)$.

    Args:
        schedule: A `LearningRateSchedule` or a float ($s$).
        factor: Float >= 0, $c$.
    """

    arguments = {"schedule": Nested(), "factor": number(low=0.0)}

    def compute(self, step):
        return self.factor * evaluate(self.schedule, step)
