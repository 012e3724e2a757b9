"""Linear warm-up then inverse-square-root decay, the Transformer schedule.

Registered as `"zoo_inverse_sqrt"` (given its peak learning rate) and
`"zoo_noam"` (given the model width, as in the paper).
"""

from keras import ops

from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import ZooSchedule, number, rate, steps


def _inverse_sqrt(step, peak, warmup_steps):
    count = step + 1.0
    return peak * ops.minimum(
        count / warmup_steps, ops.sqrt(warmup_steps / count)
    )


@register("zoo_inverse_sqrt")
class InverseSqrt(ZooSchedule):
    r"""Linear warm-up to `peak_learning_rate`, then decay as $1/\sqrt{t}$.

    $$ \eta_t = \eta_\mathrm{peak} \min\!\left(\frac{t + 1}{W},
       \sqrt{\frac{W}{t + 1}}\right) $$

    The peak is reached at step $t = W - 1$ (the $W$-th update). This is
    the Transformer ("Noam") schedule written with its peak value; see
    `Noam` for the paper's form. Step 0 gives $\eta_\mathrm{peak} / W$, not
    0, as in the paper, which counts steps from 1.

    Args:
        peak_learning_rate: Float >= 0, $\eta_\mathrm{peak}$.
        warmup_steps: Int >= 1, $W$.

    References:
        - Vaswani et al., 2017. Attention is all you need. NeurIPS.
    """

    arguments = {"peak_learning_rate": rate(), "warmup_steps": steps(low=1)}

    def compute(self, step):
        return _inverse_sqrt(
            step, self.peak_learning_rate, float(self.warmup_steps)
        )


@register("zoo_noam")
class Noam(ZooSchedule):
    r"""The Transformer learning rate, as written in the paper.

    $$ \eta_t = s \cdot d_\mathrm{model}^{-0.5} \cdot
       \min\!\left((t + 1)^{-0.5},\; (t + 1)\, W^{-1.5}\right) $$

    The paper counts steps from 1; $t$ is the 0-based optimizer step. Equal
    to `InverseSqrt(peak_learning_rate=s / sqrt(d_model * W), W)`. With
    $s = 1$, $d_\mathrm{model} = 512$ and $W = 4000$ the peak is about
    $7.0 \times 10^{-4}$.

    Args:
        d_model: Int >= 1, the model width $d_\mathrm{model}$.
        warmup_steps: Int >= 1, $W$. Defaults to `4000` (the paper's).
        scale: Float > 0, the factor $s$ (tensor2tensor's
            `learning_rate_constant`). Defaults to `1.0`.

    References:
        - Vaswani et al., 2017. Attention is all you need. NeurIPS.
    """

    arguments = {
        "d_model": steps(low=1),
        "warmup_steps": steps(4000, low=1),
        "scale": number(1.0, low=0.0, low_open=True),
    }

    def compute(self, step):
        peak = self.scale / (self.d_model * self.warmup_steps) ** 0.5
        return _inverse_sqrt(step, peak, float(self.warmup_steps))
