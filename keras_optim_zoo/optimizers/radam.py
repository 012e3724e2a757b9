"""RAdam: Adam with a rectified adaptive learning rate, `"zoo_radam"`.

The rectification term is shared with AdaBelief (`adabelief.py`), which
imports `rectification` from here.
"""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla


def rectification(hp):
    r"""The step's scalars of the variance rectification, in float64.

    Returns `(rectified, r, bc1, bc2)`: whether $\rho_t \ge$
    `sma_threshold`, the rectification factor $r_t$ (clamped at zero
    below the threshold, where it is not used), and the bias corrections
    $1-\beta_1^t$ and $1-\beta_2^t$. They are computed in double
    precision: $\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)$ subtracts
    two numbers near $\rho_\infty \approx 2/(1-\beta_2)$ (1999 for
    $\beta_2 = 0.999$), which in float32 would leave $\rho_t$ with an
    error of about $10^{-4}$ and $r_t$ with a relative error of about
    $3 \cdot 10^{-5}$ early on. The references compute these scalars in
    Python floats too.
    """
    step = ops.cast(hp.step, xla.wide_dtype())
    b1, b2 = hp.beta_1, hp.beta_2
    bc1 = 1.0 - ops.power(b1, step)
    b2_t = ops.power(b2, step)
    bc2 = 1.0 - b2_t
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    rho = rho_inf - 2.0 * step * b2_t / bc2
    rectified = rho >= hp.sma_threshold
    r = ops.sqrt(
        ops.maximum(
            (rho - 4.0)
            * (rho - 2.0)
            * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho),
            0.0,
        )
    )
    return rectified, r, bc1, bc2


def unrectified_factor(hp, bc1):
    """The step size (over the learning rate) before rectification starts."""
    return 1.0 / bc1 if hp.degenerated_to_sgd else ops.zeros_like(bc1)


@register("zoo_radam")
class RAdam(ZooOptimizer):
    r"""RAdam: rectified Adam.

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 $$
    $$ \rho_\infty = \frac{2}{1-\beta_2} - 1, \qquad
       \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t}, \qquad
       r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}
       {(\rho_\infty-4)(\rho_\infty-2)\rho_t}} $$
    $$ \theta_t = \theta_{t-1} - \eta_t \begin{cases}
       \dfrac{r_t \sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
       \dfrac{m_t}{\sqrt{v_t} + \epsilon}
       & \rho_t \ge \rho_\mathrm{thr} \\[1ex]
       \dfrac{m_t}{1-\beta_1^t} & \text{otherwise, if
       \texttt{degenerated\_to\_sgd}} \\[1ex]
       0 & \text{otherwise} \end{cases} $$

    $\rho_t$ is the length of the simple moving average that the
    exponential average $v_t$ approximates; while it is short (the first 5
    steps for $\beta_2 = 0.999$), the variance of the adaptive learning
    rate is intractable, and the step is SGD with (bias-corrected)
    momentum, or nothing. $\epsilon$ is added to $\sqrt{v_t}$ before bias
    correction (the "epsilon hat" form, as in `keras.optimizers.Adam`).

    Matches `torch.optim.RAdam(decoupled_weight_decay=True)` (checked on
    stored trajectories), and the authors' code (LiyuanLucasLiu/RAdam,
    `radam.py`) with `degenerated_to_sgd=True`. Where implementations
    differ:

    - Threshold: the paper's condition is $\rho_t > 4$; the authors' code,
      torch, optax, pytorch-optimizer and tf-addons all use 5 (the authors
      call it "more conservative since it's an approximated value"), and so
      does `sma_threshold` by default. The authors compare with `>=`, torch
      with `>`; they differ only when $\rho_t$ is exactly the threshold.
    - Before rectification: torch and tf-addons take the SGD-momentum step
      (`degenerated_to_sgd=True` here); the authors' current code and
      pytorch-optimizer default to no step (`degenerated_to_sgd=False`,
      checked against `pytorch_optimizer.RAdam`). The authors also skip the
      weight decay on steps that take no step; here the decay, Keras's
      decoupled `weight_decay`, is applied at every step.
    - Epsilon: torch, the authors and pytorch-optimizer add it to
      $\sqrt{v_t}$ as here; tf-addons' `RectifiedAdam` added it to the
      bias-corrected $\sqrt{v_t/(1-\beta_2^t)}$ (the same when
      $\epsilon \ll \sqrt{v_t}$).
    - Weight decay: torch's default `weight_decay` is an L2 term added to
      the gradient (`decoupled_weight_decay=False`); here it is Keras's
      decoupled decay, $\theta \leftarrow \theta(1 - \eta_t\lambda)$, which
      is torch's `decoupled_weight_decay=True`, the authors' and
      tf-addons' form.

    tf-addons' `total_steps`, `warmup_proportion` and `min_lr` (a built-in
    warm-up and linear decay of the learning rate) are not arguments: pass
    a schedule as `learning_rate`, e.g.
    `zoo_warmup(zoo_linear(lr, min_lr, total_steps - W), warmup_steps=W)`
    with `W = int(total_steps * warmup_proportion)`. tf-addons' `amsgrad`
    is not offered either (neither the authors nor torch have it).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7` (tf-addons' and
            Keras's; torch's is `1e-8`).
        sma_threshold: Float $\rho_\mathrm{thr} \ge 4$, fixed: the length
            of the moving average from which the rectified step is taken
            (below 4, $r_t$ is not real). Defaults to `5.0`.
        degenerated_to_sgd: Bool, fixed. Take the SGD-momentum step before
            rectification starts (else no step). Defaults to `True`.

    References:
        - Liu et al., 2020. On the variance of the adaptive learning rate
          and beyond. ICLR.
    """

    elementwise = True
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-7),
        "sma_threshold": Hyper(5.0, low=4.0, changeable=False),
        "degenerated_to_sgd": Hyper(True),
    }
    slots = ("momentum", "velocity")
    reference = "torch.optim.RAdam 2.13.0 (pytorch_optimizer.RAdam 4.1.0)"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        rectified, r, bc1, bc2 = rectification(hp)
        m = slots["momentum"] + (grad - slots["momentum"]) * hp.cast(
            hp.one_minus("beta_1")
        )
        v = slots["velocity"] * hp.cast(hp.beta_2) + ops.square(grad) * hp.cast(
            hp.one_minus("beta_2")
        )
        factor = hp.cast(
            ops.where(
                rectified, r * ops.sqrt(bc2) / bc1, unrectified_factor(hp, bc1)
            )
        )
        denom = ops.where(
            rectified, ops.sqrt(v) + hp.cast(hp.epsilon), ops.ones_like(v)
        )
        new_param = param - (m * (hp.lr * factor)) / denom
        return new_param, {"momentum": m, "velocity": v}
