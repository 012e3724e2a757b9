"""Cyclical learning rates (triangular waves): registered as
`"zoo_cyclical"`."""

from keras import ops

from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    Choice,
    ZooSchedule,
    number,
    rate,
)

# Smith's policies and the quantity each one scales by default.
_DEFAULT_SCALE_MODE = {
    "triangular": "cycle",
    "triangular2": "cycle",
    "exp_range": "iterations",
}


@register("zoo_cyclical")
class Cyclical(ZooSchedule):
    r"""Triangular cycles between two learning rates, optionally shrinking.

    With $N$ = `step_size` (half a cycle):

    $$ c = \left\lfloor 1 + \frac{t}{2N} \right\rfloor, \qquad
       x = \left|\frac{t}{N} - 2c + 1\right|, $$
    $$ \eta_t = \eta_\mathrm{low} + (\eta_\mathrm{high} - \eta_\mathrm{low})
       \max(0,\, 1 - x)\; s(m), $$

    where $m = c$ (`scale_mode="cycle"`) or $m = t$
    (`scale_mode="iterations"`), and $s(m) = 1$ (`"triangular"`),
    $2^{-(m - 1)}$ (`"triangular2"`: the amplitude halves every cycle) or
    $\gamma^m$ (`"exp_range"`). Step 0 gives `initial_learning_rate`,
    step $N$ the peak, step $2N$ the low again. $x$ is computed from the
    step within the cycle, $t \bmod 2N$, which float32 holds exactly.

    Matches tensorflow-addons' `TriangularCyclicalLearningRate`,
    `Triangular2CyclicalLearningRate` and
    `ExponentialCyclicalLearningRate` (same argument names, same default
    `scale_mode` for each mode) and `torch.optim.lr_scheduler.CyclicLR`
    with `step_size_up=step_size_down=step_size`.

    Args:
        initial_learning_rate: Float >= 0, $\eta_\mathrm{low}$.
        maximal_learning_rate: Float >= 0, $\eta_\mathrm{high}$.
        step_size: Float > 0, $N$, the steps from low to high.
        mode: `"triangular"`, `"triangular2"` or `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: Float in `(0, 1]`, $\gamma$ for `"exp_range"`. Defaults to
            `1.0`.
        scale_mode: `"cycle"`, `"iterations"` or `None` for the mode's
            own: `"cycle"` for the triangular modes, `"iterations"` for
            `"exp_range"`. Defaults to `None`; the config stores the
            resolved value.

    References:
        - Smith, 2017. Cyclical learning rates for training neural
          networks. WACV.
    """

    arguments = {
        "initial_learning_rate": rate(),
        "maximal_learning_rate": rate(),
        "step_size": number(low=0.0, low_open=True),
        "mode": Choice("triangular", tuple(_DEFAULT_SCALE_MODE)),
        "gamma": number(1.0, low=0.0, high=1.0, low_open=True),
        "scale_mode": Choice(None, ("cycle", "iterations", None)),
    }

    def _check_arguments(self):
        if self.scale_mode is None:
            self.scale_mode = _DEFAULT_SCALE_MODE[self.mode]

    def compute(self, step):
        half = self.step_size
        cycle = ops.floor(1.0 + step / (2.0 * half))
        # tfa's x = |t / N - 2c + 1|, from the (exact) step within the
        # cycle: t / N loses the fraction in float32 once t is large.
        x = ops.abs(ops.mod(step, 2.0 * half) / half - 1.0)
        m = cycle if self.scale_mode == "cycle" else step
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1.0 / ops.power(2.0, m - 1.0)
        else:
            scale = ops.power(self.gamma, m)
        low, high = self.initial_learning_rate, self.maximal_learning_rate
        return low + (high - low) * ops.maximum(0.0, 1.0 - x) * scale
