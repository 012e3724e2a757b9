"""Ranger: RAdam, Lookahead and gradient centralization in one rule,
`"zoo_ranger"`."""

from keras import ops

from keras_optim_zoo.core import (
    PARAM,
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core.transforms import centralize, lookahead
from keras_optim_zoo.optimizers.radam import rectification


@register("zoo_ranger")
class Ranger(ZooOptimizer):
    r"""Ranger (Wright, 2019; the 2020.9.4 version with GC).

    RAdam's step on the centralized gradient $\hat g$ (`use_gc`; see
    `keras_optim_zoo.wrappers.GradientCentralization`), then Lookahead
    every $k$ steps:

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1)\hat g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2)\hat g_t^2 $$
    $$ G_t = \begin{cases} m_t / (\sqrt{v_t} + \epsilon) & \rho_t \ge
       \rho_\mathrm{thr} \\ m_t & \text{otherwise} \end{cases}
       \;+\; \lambda\theta_{t-1}, \qquad
       \theta_t = \theta_{t-1} - \eta_t s_t G_t $$
    $$ \phi \leftarrow \phi + \alpha(\theta_t - \phi), \quad
       \theta_t \leftarrow \phi \qquad (t \bmod k = 0) $$

    with RAdam's $\rho_t$ and step size $s_t = r_t\sqrt{1-\beta_2^t} /
    (1-\beta_1^t)$ once rectified, $1/(1-\beta_1^t)$ before
    (`keras_optim_zoo.optimizers.radam.rectification`). With
    `gc_loc=False` the centralization is applied to $G_t$ instead of the
    gradient.

    Matches the authors' `ranger2020.py`
    (lessw2020/Ranger-Deep-Learning-Optimizer, commit c82a304; stored
    trajectories) with one exception: with `weight_decay > 0`, the
    authors' code adds $\lambda\theta$ to $G_t$ in place, and before
    rectification $G_t$ *is* the momentum buffer, so the decay leaks into
    $m_t$ on the first 5 steps (and `gc_loc=False` centralizes $m_t$ the
    same way). That aliasing is not reproduced; the references with decay
    were made with `G_grad = exp_avg.clone()`, the only change. The decay
    is the authors' (scaled by $\eta_t s_t$), not Keras's decoupled form.
    The authors compare $\rho_t > 5$, this `>=` (as `zoo_radam`): the two
    differ only when $\rho_t$ is exactly the threshold.
    `pytorch_optimizer.Ranger` 4.1.0 differs from the authors (decoupled
    decay applied as $\theta(1-\eta\lambda)$).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.95` (the authors').
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-5` (the authors').
        sma_threshold: Float $\rho_\mathrm{thr} \ge 4$, fixed. Defaults to
            `5.0`.
        sync_period: Int $k \ge 1$, fixed: Lookahead's period (the
            authors' `k`). Defaults to `6`.
        slow_step_size: $\alpha$ in `[0, 1]`: Lookahead's step (the
            authors' `alpha`). Defaults to `0.5`.
        use_gc: Bool, fixed. Centralize the gradients. Defaults to `True`.
        gc_conv_only: Bool, fixed. Centralize convolution kernels (rank
            >= 4) only. Defaults to `False`.
        gc_loc: Bool, fixed. Centralize the gradient (`True`) or the step
            $G_t$ (`False`). Defaults to `True`.

    The common `weight_decay` is the authors' $\lambda$ above (excluded
    variables get none).

    References:
        - Wright, 2019. New deep learning optimizer, Ranger: synergistic
          combination of RAdam + LookAhead for the best of both.
        - Liu et al., 2020. On the variance of the adaptive learning rate
          and beyond. ICLR.
        - Zhang et al., 2019. Lookahead optimizer: k steps forward, 1 step
          back. NeurIPS.
        - Yong et al., 2020. Gradient centralization: a new optimization
          technique for deep neural networks. ECCV.
    """

    hyperparameters = {
        "beta_1": fraction(0.95),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-5),
        "sma_threshold": Hyper(5.0, low=4.0, changeable=False),
        "sync_period": Hyper(6, low=1),
        "slow_step_size": Hyper(0.5, low=0.0, high=1.0),
        "use_gc": Hyper(True),
        "gc_conv_only": Hyper(False),
        "gc_loc": Hyper(True),
    }
    slots = ("momentum", "velocity", Slot("slow", init=PARAM))
    decoupled_weight_decay = False
    reference = "lessw2020/Ranger-Deep-Learning-Optimizer ranger2020.py"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        if hp.use_gc and hp.gc_loc:
            grad = centralize(grad, hp.gc_conv_only)
        m = slots["momentum"] + (grad - slots["momentum"]) * hp.cast(
            hp.one_minus("beta_1")
        )
        v = slots["velocity"] * hp.cast(hp.beta_2) + ops.square(grad) * hp.cast(
            hp.one_minus("beta_2")
        )
        rectified, r, bc1, bc2 = rectification(hp)
        step_size = hp.cast(ops.where(rectified, r * ops.sqrt(bc2), 1.0) / bc1)
        step = ops.where(rectified, m / (ops.sqrt(v) + hp.cast(hp.epsilon)), m)
        if hp.weight_decay is not None and hp.decays:
            step = step + param * hp.cast(hp.weight_decay)
        if hp.use_gc and not hp.gc_loc:
            step = centralize(step, hp.gc_conv_only)
        fast = param - step * (hp.lr * step_size)
        point = lookahead(fast, slots["slow"], hp.cast(hp.slow_step_size))
        sync = ops.equal(ops.mod(hp.count, hp.sync_period), 0)
        return ops.where(sync, point, fast), {
            "momentum": m,
            "velocity": v,
            "slow": ops.where(sync, point, slots["slow"]),
        }
