"""Cosine decays: plain, after a linear warm-up, and with warm restarts.

Registered as `"zoo_cosine"`, `"zoo_warmup_cosine"` and `"zoo_sgdr"`.
"""

import math

from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.hyper import invalid
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    DTYPE,
    ZooSchedule,
    number,
    ramp,
    rate,
    steps,
)


@register("zoo_cosine")
class Cosine(ZooSchedule):
    r"""Cosine decay from `initial_learning_rate` to `alpha` times it.

    $$ \eta_t = \eta_0 \left((1 - \alpha)\,
       \tfrac{1}{2}\left(1 + \cos\frac{\pi \min(t, T)}{T}\right)
       + \alpha\right) $$

    Matches `keras.optimizers.schedules.CosineDecay(initial_learning_rate,
    decay_steps, alpha)` (without its warm-up),
    `optax.cosine_decay_schedule` and, for $t \le T$,
    `torch.optim.lr_scheduler.CosineAnnealingLR(T_max=decay_steps,
    eta_min=alpha * initial_learning_rate)`. After $T$ it holds the floor;
    torch's keeps following the cosine back up.

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        decay_steps: Int >= 1, $T$.
        alpha: Float in `[0, 1]`, the floor as a fraction of $\eta_0$.
            Defaults to `0.0`.

    References:
        - Loshchilov & Hutter, 2017. SGDR: Stochastic gradient descent
          with warm restarts. ICLR.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "decay_steps": steps(low=1),
        "alpha": number(0.0, low=0.0, high=1.0),
    }

    def compute(self, step):
        floor = self.alpha * self.initial_learning_rate
        return ramp(
            self.initial_learning_rate,
            floor,
            step / self.decay_steps,
            "cosine",
        )


@register("zoo_warmup_cosine")
class WarmupCosine(ZooSchedule):
    r"""Linear warm-up to a peak, then cosine decay; lasts `decay_steps`.

    With $W$ = `warmup_steps` and $T$ = `decay_steps` (the **total**
    length, warm-up included, as in optax):

    $$ \eta_t = \begin{cases}
       \eta_\mathrm{init} + (\eta_\mathrm{peak} - \eta_\mathrm{init})\,t/W
       & t < W \\
       \eta_\mathrm{end} + (\eta_\mathrm{peak} - \eta_\mathrm{end})\,
       \tfrac{1}{2}\left(1 + \cos\frac{\pi \min(t - W,\, T - W)}{T - W}
       \right) & t \ge W
       \end{cases} $$

    Matches `optax.warmup_cosine_decay_schedule(init_value, peak_value,
    warmup_steps, decay_steps, end_value)` (with its default
    `exponent=1.0`). `keras.optimizers.schedules.CosineDecay` counts its
    `decay_steps` after the warm-up and sets the floor as a fraction:
    `CosineDecay(init_value, D, alpha, warmup_target=peak, warmup_steps=W)`
    equals `WarmupCosine(peak, W, W + D, init_value, alpha * peak)`.

    Args:
        peak_learning_rate: Float >= 0, $\eta_\mathrm{peak}$, reached at
            step $W$.
        warmup_steps: Int >= 0, $W$; `0` starts at the peak.
        decay_steps: Int > `warmup_steps`, $T$: the step from which
            $\eta_\mathrm{end}$ holds.
        init_value: Float >= 0, $\eta_\mathrm{init}$. Defaults to `0.0`.
        end_value: Float >= 0, $\eta_\mathrm{end}$. Defaults to `0.0`.

    References:
        - Loshchilov & Hutter, 2017. SGDR: Stochastic gradient descent
          with warm restarts. ICLR.
        - Goyal et al., 2017. Accurate, large minibatch SGD: training
          ImageNet in 1 hour.
    """

    arguments = {
        "peak_learning_rate": rate(),
        "warmup_steps": steps(),
        "decay_steps": steps(low=1),
        "init_value": rate(0.0),
        "end_value": rate(0.0),
    }

    def _check_arguments(self):
        if self.decay_steps <= self.warmup_steps:
            raise invalid(
                "decay_steps",
                self.decay_steps,
                f"an int > warmup_steps={self.warmup_steps} (decay_steps is"
                " the total length, warm-up included)",
            )

    def compute(self, step):
        warmup = self.warmup_steps
        warm = ramp(
            self.init_value, self.peak_learning_rate, step / max(warmup, 1)
        )
        decay = ramp(
            self.peak_learning_rate,
            self.end_value,
            (step - warmup) / (self.decay_steps - warmup),
            "cosine",
        )
        return ops.where(step < warmup, warm, decay)


@register("zoo_sgdr")
class SGDR(ZooSchedule):
    r"""Cosine decay with warm restarts, each optionally warmed up.

    Cycle $i = 0, 1, \dots$ starts at step
    $S_i = T_0 (\tau^i - 1) / (\tau - 1)$ ($S_i = i T_0$ if $\tau = 1$)
    and lasts $T_i = T_0 \tau^i$ steps. With $u = t - S_i$ the step within
    the cycle, $W$ = `warmup_steps`, the floor $\eta_\alpha = \alpha\eta_0$
    and the cycle's peak $\hat\eta_i = \eta_\alpha +
    (\eta_0 - \eta_\alpha) \mu^i$:

    $$ \eta_t = \begin{cases}
       \eta_\alpha + (\hat\eta_i - \eta_\alpha)\, u / W & u < W \\
       \eta_\alpha + (\hat\eta_i - \eta_\alpha)\,
       \tfrac{1}{2}\left(1 + \cos\frac{\pi (u - W)}{T_i - W}\right)
       & u \ge W
       \end{cases} $$

    With `warmup_steps=0` this matches
    `keras.optimizers.schedules.CosineDecayRestarts` (same arguments) and,
    for an int $\tau$ and $\mu = 1$,
    `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0, T_mult=t_mul,
    eta_min=alpha * initial_learning_rate)`. With a warm-up it matches
    `optax.sgdr_schedule` given one `warmup_cosine_decay_schedule` per
    cycle (`init_value=end_value=` $\eta_\alpha$,
    `peak_value=` $\hat\eta_i$, `decay_steps=` $T_i$).

    The cycle of a step is found in float64 and is exact at every restart;
    Keras's float32 arithmetic loses up to about 1e-5 of the value within
    long runs of cycles with `t_mul=1`.

    Args:
        initial_learning_rate: Float >= 0, $\eta_0$.
        first_decay_steps: Int >= 1, $T_0$.
        t_mul: Float >= 1, $\tau$, the growth of the cycle length.
            Defaults to `2.0`. (Keras also accepts $\tau < 1$, for which
            the cycles shrink to nothing after $T_0 / (1 - \tau)$ steps.)
        m_mul: Float >= 0, $\mu$, the factor applied to the height of
            each new cycle above the floor. Defaults to `1.0`.
        alpha: Float in `[0, 1]`, the floor as a fraction of $\eta_0$.
            Defaults to `0.0`.
        warmup_steps: Int in `[0, first_decay_steps)`, $W$: linear
            warm-up from the floor at the start of every cycle. Defaults
            to `0`.

    References:
        - Loshchilov & Hutter, 2017. SGDR: Stochastic gradient descent
          with warm restarts. ICLR.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "first_decay_steps": steps(low=1),
        "t_mul": number(2.0, low=1.0),
        "m_mul": number(1.0, low=0.0),
        "alpha": number(0.0, low=0.0, high=1.0),
        "warmup_steps": steps(0),
    }

    def _check_arguments(self):
        if self.warmup_steps >= self.first_decay_steps:
            raise invalid(
                "warmup_steps",
                self.warmup_steps,
                f"an int in [0, first_decay_steps={self.first_decay_steps})",
            )

    def _cycle(self, step):
        """(cycle index, step within the cycle, cycle length), float64."""
        first, t_mul = float(self.first_decay_steps), self.t_mul
        step = ops.cast(step, xla.wide_dtype())
        if t_mul == 1.0:
            cycle = ops.floor(step / first)
            return cycle, step - cycle * first, ops.full_like(step, first)

        def start(i):
            return first * (ops.power(t_mul, i) - 1.0) / (t_mul - 1.0)

        def reached(i):
            # Restarts at integer steps must count as reached although
            # float64 rounding may put S_i a hair above them.
            return ops.cast(step >= start(i) * (1.0 - 1e-12), xla.wide_dtype())

        guess = ops.floor(
            ops.log1p(step / first * (t_mul - 1.0)) / math.log(t_mul)
        )
        cycle = guess - (1.0 - reached(guess)) + reached(guess + 1.0)
        within = ops.maximum(step - start(cycle), 0.0)
        return cycle, within, first * ops.power(t_mul, cycle)

    def compute(self, step):
        cycle, within, length = (ops.cast(x, DTYPE) for x in self._cycle(step))
        floor = self.alpha * self.initial_learning_rate
        peak = floor + (self.initial_learning_rate - floor) * ops.power(
            self.m_mul, cycle
        )
        warmup = self.warmup_steps
        warm = ramp(floor, peak, within / max(warmup, 1))
        decay = ramp(
            peak, floor, (within - warmup) / (length - warmup), "cosine"
        )
        return ops.where(within < warmup, warm, decay)
