"""The 1cycle policy: learning rate and momentum, as PyTorch computes them.

Registered as `"zoo_one_cycle"` (the learning rate) and
`"zoo_one_cycle_momentum"` (the paired momentum, for an optimizer's
`momentum` or `beta_1`). Both follow `torch.optim.lr_scheduler.OneCycleLR`
step for step; the phases are computed once, here.
"""

from keras import ops

from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    Choice,
    ZooSchedule,
    number,
    ramp,
    rate,
    steps,
)


class _OneCycleBase(ZooSchedule):
    r"""The phases of `OneCycleLR`; a subclass gives the levels.

    Phase $k$ runs from step $e_{k-1}$ ($e_{-1} = 0$) to step $e_k$ and
    anneals from level $k$ to level $k + 1$, with torch's (fractional)
    phase ends
    $e = (pT - 1,\; T - 1)$, or $(pT - 1,\; 2pT - 2,\; T - 1)$ with
    `three_phase=True`. A step belongs to the first phase whose end is
    >= the step.
    """

    def _ends(self):
        total, pct = self.total_steps, self.pct_start
        if self.three_phase:
            return [
                float(pct * total) - 1,
                float(2 * pct * total) - 2,
                total - 1,
            ]
        return [float(pct * total) - 1, total - 1]

    def _levels(self):
        raise NotImplementedError

    def _check_arguments(self):
        ends = self._ends()
        if ends[0] > 0 and all(a < b for a, b in zip(ends, ends[1:])):
            return
        allowed = (
            f"a float in (0, 1) with pct_start * total_steps > 1 (here "
            f"total_steps={self.total_steps}), so that every phase lasts "
            "more than a step"
        )
        if self.three_phase:
            allowed += ", and < (total_steps + 1) / (2 * total_steps)"
        raise invalid("pct_start", self.pct_start, allowed)

    def compute(self, step):
        shape = "cosine" if self.anneal == "cos" else "linear"
        levels, ends = self._levels(), self._ends()
        starts = [0.0] + ends[:-1]
        phases = [
            ramp(
                levels[k],
                levels[k + 1],
                (step - starts[k]) / (ends[k] - starts[k]),
                shape,
            )
            for k in range(len(ends))
        ]
        result = phases[-1]
        for end, value in zip(reversed(ends[:-1]), reversed(phases[:-1])):
            result = ops.where(step <= end, value, result)
        return result


_PHASE_ARGUMENTS = {
    "pct_start": number(0.3, low=0.0, high=1.0, low_open=True, high_open=True),
    "anneal": Choice("cos", ("cos", "linear")),
}


@register("zoo_one_cycle")
class OneCycle(_OneCycleBase):
    r"""The 1cycle learning rate: up to `max_learning_rate`, then far down.

    With $T$ = `total_steps`, $p$ = `pct_start`,
    $\eta_\mathrm{init} = \eta_\mathrm{max} / $ `div_factor` and
    $\eta_\mathrm{min} = \eta_\mathrm{init} / $ `final_div_factor`: from
    $\eta_\mathrm{init}$ at step 0 up to $\eta_\mathrm{max}$ at step
    $pT - 1$, then down to $\eta_\mathrm{min}$ at step $T - 1$. With
    `three_phase=True`: up to $\eta_\mathrm{max}$ at $pT - 1$, back to
    $\eta_\mathrm{init}$ at $2pT - 2$, down to $\eta_\mathrm{min}$ at
    $T - 1$. Within a phase from $a$ (at step $s_0$) to $b$ (at $s_1$),
    with $f = (t - s_0) / (s_1 - s_0)$:

    $$ \eta_t = b + (a - b)\,\tfrac{1}{2}(1 + \cos \pi f)
       \;\;(\text{"cos"}) \qquad\text{or}\qquad a + (b - a) f
       \;\;(\text{"linear"}). $$

    Matches `torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr,
    total_steps, pct_start, anneal_strategy=anneal, div_factor=...,
    final_div_factor=..., three_phase=...)` stepped once per optimizer
    step, for steps `0 .. total_steps - 1`. After that this schedule holds
    $\eta_\mathrm{min}$, where torch extrapolates the last phase for one
    step and then raises.

    Args:
        max_learning_rate: Float >= 0, $\eta_\mathrm{max}$ (torch's
            `max_lr`).
        total_steps: Int >= 2, $T$.
        pct_start: Float in `(0, 1)`, $p$, the fraction of steps spent
            increasing; $pT$ must exceed 1 (and, with `three_phase`,
            $2pT - 2 < T - 1$). Defaults to `0.3`.
        anneal: `"cos"` or `"linear"` (torch's `anneal_strategy`).
            Defaults to `"cos"`.
        div_factor: Float > 0. Defaults to `25.0`.
        final_div_factor: Float > 0. Defaults to `1e4`.
        three_phase: Bool. Defaults to `False`.

    References:
        - Smith & Topin, 2019. Super-convergence: very fast training of
          neural networks using large learning rates.
        - Smith, 2018. A disciplined approach to neural network
          hyper-parameters: Part 1.
    """

    arguments = {
        "max_learning_rate": rate(),
        "total_steps": steps(low=2),
        **_PHASE_ARGUMENTS,
        "div_factor": number(25.0, low=0.0, low_open=True),
        "final_div_factor": number(1e4, low=0.0, low_open=True),
        "three_phase": Hyper(False),
    }

    def _levels(self):
        peak = self.max_learning_rate
        initial = peak / self.div_factor
        final = initial / self.final_div_factor
        if self.three_phase:
            return [initial, peak, initial, final]
        return [initial, peak, final]


@register("zoo_one_cycle_momentum")
class OneCycleMomentum(_OneCycleBase):
    r"""The momentum paired with the 1cycle learning rate (its mirror).

    The phases of `OneCycle` with the same `total_steps`, `pct_start`,
    `anneal` and `three_phase`, over the levels
    $(\beta_\mathrm{max}, \beta_\mathrm{base}, \beta_\mathrm{max})$, or
    $(\beta_\mathrm{max}, \beta_\mathrm{base}, \beta_\mathrm{max},
    \beta_\mathrm{max})$ with `three_phase=True`: momentum is lowest when
    the learning rate peaks. Assign it to an optimizer's `momentum` (SGD)
    or `beta_1` (Adam family) at every step, e.g. from a callback: zoo
    optimizers keep those in variables that may change during training.

    Matches the momentum (or `betas[0]`) that
    `torch.optim.lr_scheduler.OneCycleLR(..., cycle_momentum=True,
    base_momentum, max_momentum)` sets, for steps `0 .. total_steps - 1`;
    $\beta_\mathrm{max}$ holds after.

    Args:
        total_steps: Int >= 2, $T$.
        base_momentum: Float in `[0, 1]`, $\beta_\mathrm{base}$. Defaults
            to `0.85`.
        max_momentum: Float in `[0, 1]`, $\beta_\mathrm{max}$. Defaults to
            `0.95`.
        pct_start: As in `OneCycle`. Defaults to `0.3`.
        anneal: As in `OneCycle`. Defaults to `"cos"`.
        three_phase: As in `OneCycle`. Defaults to `False`.

    References:
        - Smith, 2018. A disciplined approach to neural network
          hyper-parameters: Part 1.
    """

    arguments = {
        "total_steps": steps(low=2),
        "base_momentum": number(0.85, low=0.0, high=1.0),
        "max_momentum": number(0.95, low=0.0, high=1.0),
        **_PHASE_ARGUMENTS,
        "three_phase": Hyper(False),
    }

    def _levels(self):
        low, high = self.base_momentum, self.max_momentum
        if self.three_phase:
            return [high, low, high, high]
        return [high, low, high]
