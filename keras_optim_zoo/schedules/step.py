"""Piecewise-constant decays by a factor: every N steps, or at milestones.

Registered as `"zoo_step_decay"` and `"zoo_multistep"`; the learning rates
of `torch.optim.lr_scheduler.StepLR` and `MultiStepLR`.
"""

from keras import ops

from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    ListOf,
    ZooSchedule,
    number,
    rate,
    steps,
)


@register("zoo_step_decay")
class StepDecay(ZooSchedule):
    r"""Multiplies the learning rate by `gamma` every `step_size` steps.

    $$ \eta_t = \eta_0\, \gamma^{\lfloor t / N \rfloor} $$

    Matches `torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)`
    with `lr=initial_learning_rate`, stepped once per optimizer step, and
    `keras.optimizers.schedules.ExponentialDecay(initial_learning_rate,
    step_size, gamma, staircase=True)`.

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        step_size: Int >= 1, $N$.
        gamma: Float > 0, the factor. Defaults to `0.1`.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "step_size": steps(low=1),
        "gamma": number(0.1, low=0.0, low_open=True),
    }

    def compute(self, step):
        decays = ops.floor(step / self.step_size)
        return self.initial_learning_rate * ops.power(self.gamma, decays)


@register("zoo_multistep")
class MultiStep(ZooSchedule):
    r"""Multiplies the learning rate by `gamma` at each milestone step.

    $$ \eta_t = \eta_0\, \gamma^{\,|\{m \in \mathrm{milestones} : m \le t\}|} $$

    Matches `torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones,
    gamma)` with `lr=initial_learning_rate`, stepped once per optimizer
    step: the new value applies from the milestone step itself.

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        milestones: Non-empty, strictly increasing list of ints >= 0.
        gamma: Float > 0, the factor. Defaults to `0.1`.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "milestones": ListOf(steps(), increasing=True),
        "gamma": number(0.1, low=0.0, low_open=True),
    }

    def compute(self, step):
        decays = ops.zeros_like(step)
        for milestone in self.milestones:
            decays = decays + ops.cast(step >= milestone, step.dtype)
        return self.initial_learning_rate * ops.power(self.gamma, decays)
