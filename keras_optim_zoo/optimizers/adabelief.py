"""AdaBelief: Adam with the belief in the gradient, `"zoo_adabelief"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.optimizers.radam import rectification, unrectified_factor


@register("zoo_adabelief")
class AdaBelief(ZooOptimizer):
    r"""AdaBelief: adapting step sizes by the belief in observed gradients.

    The second moment tracks the squared deviation of the gradient from its
    running mean (the "belief"), not the squared gradient:

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       s_t = \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2 + \epsilon $$

    with $\hat s_t = s_t$, or $\hat s_t = \max(\hat s_{t-1}, s_t)$ with
    `amsgrad`. Without rectification:

    $$ \theta_t = \theta_{t-1} - \frac{\eta_t}{1-\beta_1^t}\,
       \frac{m_t}{\sqrt{\hat s_t / (1-\beta_2^t)} + \epsilon} $$

    and with `rectify=True` (the default), RAdam's rule with $\hat s_t$ in
    place of $v_t$ (see `zoo_radam` for $\rho_t$ and $r_t$):

    $$ \theta_t = \theta_{t-1} - \eta_t \begin{cases}
       \dfrac{r_t \sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
       \dfrac{m_t}{\sqrt{\hat s_t} + \epsilon}
       & \rho_t \ge \rho_\mathrm{thr} \\[1ex]
       \dfrac{m_t}{1-\beta_1^t} & \text{otherwise, if
       \texttt{degenerated\_to\_sgd}} \\[1ex]
       0 & \text{otherwise} \end{cases} $$

    Matches the authors' `adabelief_pytorch.AdaBelief` 0.2.1 (checked on
    stored trajectories, rectified and not, with and without `amsgrad`),
    with its placement of $\epsilon$: inside $s_t$ (it is stored with the
    state, so it accumulates as $\epsilon/(1-\beta_2)$ in the long run), and
    again outside the square root. Differences:

    - `amsgrad` with `rectify=True`: the authors' rectified step divides by
      $\sqrt{s_t}$, not by the maximum $\sqrt{\hat s_t}$ (it keeps the
      maximum but does not use it), so there `amsgrad=True` changes
      nothing. Here the maximum is used, as in `pytorch_optimizer.AdaBelief`
      (`ams_bound=True`, the reference for this combination) and
      tf-addons' `AdaBelief`.
    - tf-addons' `AdaBelief` added $\epsilon$ to the bias-corrected
      $\sqrt{\hat s_t/(1-\beta_2^t)}$ in the rectified step too (the
      authors and pytorch-optimizer, as here, add it to $\sqrt{\hat s_t}$);
      the two agree when $\epsilon \ll \sqrt{\hat s_t}$, as with the
      default.
    - Weight decay is Keras's decoupled `weight_decay`,
      $\theta \leftarrow \theta(1-\eta_t\lambda)$, which is the authors'
      default (`weight_decouple=True`) and tf-addons' form.

    tf-addons' `total_steps`, `warmup_proportion` and `min_lr` are not
    arguments: pass a schedule as `learning_rate` (see `zoo_radam`).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-14` (tf-addons'; the
            authors' is `1e-16`).
        amsgrad: Bool, fixed. Use the maximum of the $s_t$. Defaults to
            `False`.
        rectify: Bool, fixed. Use RAdam's rectification. Defaults to
            `True`.
        sma_threshold: Float $\rho_\mathrm{thr} \ge 4$, fixed, for
            `rectify`. Defaults to `5.0`.
        degenerated_to_sgd: Bool, fixed. With `rectify`, take the
            SGD-momentum step before rectification starts (else no step).
            Defaults to `True`.

    References:
        - Zhuang et al., 2020. AdaBelief optimizer: adapting stepsizes by
          the belief in observed gradients. NeurIPS.
    """

    elementwise = True

    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-14),
        "amsgrad": Hyper(False),
        "rectify": Hyper(True),
        "sma_threshold": Hyper(5.0, low=4.0, changeable=False),
        "degenerated_to_sgd": Hyper(True),
    }
    slots = ("momentum", "variance", Slot("variance_hat", when="amsgrad"))
    reference = (
        "adabelief_pytorch.AdaBelief 0.2.1 "
        "(amsgrad with rectify: pytorch_optimizer.AdaBelief 4.1.0)"
    )

    @staticmethod
    def update_rule(grad, param, slots, hp):
        eps = hp.cast(hp.epsilon)
        m = slots["momentum"] * hp.cast(hp.beta_1) + grad * hp.cast(
            hp.one_minus("beta_1")
        )
        s = (
            slots["variance"] * hp.cast(hp.beta_2)
            + ops.square(grad - m) * hp.cast(hp.one_minus("beta_2"))
            + eps
        )
        new = {"momentum": m, "variance": s}
        if hp.amsgrad:
            s = new["variance_hat"] = ops.maximum(slots["variance_hat"], s)
        if not hp.rectify:
            step = ops.cast(hp.step, xla.wide_dtype())
            bc1 = 1.0 - ops.power(hp.beta_1, step)
            bc2 = 1.0 - ops.power(hp.beta_2, step)
            denom = ops.sqrt(s) / hp.cast(ops.sqrt(bc2)) + eps
            return param - (m * (hp.lr * hp.cast(1.0 / bc1))) / denom, new
        rectified, r, bc1, bc2 = rectification(hp)
        factor = hp.cast(
            ops.where(
                rectified, r * ops.sqrt(bc2) / bc1, unrectified_factor(hp, bc1)
            )
        )
        denom = ops.where(rectified, ops.sqrt(s) + eps, ops.ones_like(s))
        return param - (m * (hp.lr * factor)) / denom, new
