"""Warm-up, stable, decay: registered as `"zoo_wsd"`."""

from keras import ops

from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    RAMPS,
    Choice,
    ZooSchedule,
    ramp,
    rate,
    steps,
)


@register("zoo_wsd")
class WSD(ZooSchedule):
    r"""Warm-up, then a constant peak, then a short decay ("cool-down").

    With $W$, $S$, $D$ = `warmup_steps`, `stable_steps`, `decay_steps` and
    $f = \min((t - W - S) / D,\, 1)$:

    $$ \eta_t = \begin{cases}
       \eta_\mathrm{init} + (\eta_\mathrm{peak} - \eta_\mathrm{init})\,t/W
       & t < W \\
       \eta_\mathrm{peak} & W \le t < W + S \\
       \eta_\mathrm{end} + (\eta_\mathrm{peak} - \eta_\mathrm{end})\,
       g(f) & t \ge W + S
       \end{cases} $$

    with $g(f) = 1 - f$ (`"linear"`), $\tfrac{1}{2}(1 + \cos \pi f)$
    (`"cosine"`) or $1 - \sqrt{f}$ (`"1-sqrt"`). The decay ends at step
    $W + S + D$, from which $\eta_\mathrm{end}$ holds. Unlike a cosine
    schedule the length of training need not be fixed in advance: the
    stable phase can be cut anywhere by starting the decay there.

    Args:
        peak_learning_rate: Float >= 0, $\eta_\mathrm{peak}$.
        warmup_steps: Int >= 0, $W$.
        stable_steps: Int >= 0, $S$.
        decay_steps: Int >= 1, $D$.
        decay: `"linear"`, `"cosine"` or `"1-sqrt"`, the shape $g$ of
            the decay. Defaults to `"linear"`.
        init_value: Float >= 0, $\eta_\mathrm{init}$. Defaults to `0.0`.
        end_value: Float >= 0, $\eta_\mathrm{end}$. Defaults to `0.0`.

    References:
        - Hu et al., 2024. MiniCPM: Unveiling the potential of small
          language models with scalable training strategies.
        - Hägele et al., 2024. Scaling laws and compute-optimal training
          beyond fixed training durations. NeurIPS. (The `"1-sqrt"`
          decay.)
    """

    arguments = {
        "peak_learning_rate": rate(),
        "warmup_steps": steps(),
        "stable_steps": steps(),
        "decay_steps": steps(low=1),
        "decay": Choice("linear", RAMPS),
        "init_value": rate(0.0),
        "end_value": rate(0.0),
    }

    def compute(self, step):
        warmup, stable = self.warmup_steps, self.stable_steps
        peak = self.peak_learning_rate
        warm = ramp(self.init_value, peak, step / max(warmup, 1))
        decay = ramp(
            peak,
            self.end_value,
            (step - warmup - stable) / self.decay_steps,
            self.decay,
        )
        return ops.where(
            step < warmup,
            warm,
            ops.where(step < warmup + stable, peak, decay),
        )
