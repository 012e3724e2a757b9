"""ADOPT: Adam with the previous second moment, `"zoo_adopt"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    ZooOptimizer,
    cautious_update,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla


@register("zoo_adopt")
class Adopt(ZooOptimizer):
    r"""ADOPT: Adam that converges with any $\beta_2$.

    The gradient is normalized by the second moment of the *previous*
    steps (so that it is independent of the current gradient), clipped,
    and only then averaged into the momentum. The first step only
    initializes the second moment, $v_1 = g_1^2$, and leaves the weights
    alone; from step $t = 2$ on:

    $$ \hat g_t = \mathrm{clip}\!\left(
       \frac{g_t}{\max(\sqrt{v_{t-1}}, \epsilon)},\ c_{t-1}\right),
       \qquad c_s = s^{p} $$
    $$ m_t = m_{t-1} + (1-\beta_1)(\hat g_t - m_{t-1}), \qquad
       \theta_t = \theta_{t-1} - \eta_t m_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 $$

    with $\mathrm{clip}(x, c) = \min(\max(x, -c), c)$ elementwise and
    $p$ = `clip_exponent` (the authors' `clip_lambda = step**0.25`; `None`
    turns clipping off). There is no bias correction. Weight decay is the
    rule's own (`decoupled_weight_decay = False`), the authors' two forms:
    by default L2, $g_t \leftarrow g_t + \lambda\theta_{t-1}$ (also in
    $v_1$); with `decouple=True`, $\theta \leftarrow
    \theta(1 - \eta_t\lambda)$ before each step from $t = 2$ on (not on the
    first, which does not move the weights).

    This is the authors' code (`iShohei220/adopt`, `src/adopt/adopt.py`,
    commit 6468572, the `torch-adopt` 0.1.0 package), checked on stored
    trajectories; the authors evaluate `clip_lambda` at their step
    counter before incrementing it, which at step $t$ (1-based, counting
    the first, moment-only step) is $t - 1$: the first update is clipped
    at $c_1 = 1$, as in the paper's Algorithm 2, whose updates start at
    $t = 1$ after $v_0 = g_0^2$ (measured: at most 8.7e-8 relative to the
    weights' scale over 40 steps). `optax.contrib.adopt` 0.2.8 is the same
    algorithm without weight decay (measured: at most 4.0e-7 from the
    authors'; 2.4e-6 without clipping, where its momentum form
    $\beta_1 m + (1-\beta_1)\hat g$ rounds differently from the authors'
    `lerp` and unclipped ratios $g_t/|g_1|$ magnify it). Where peers
    differ:

    - `pytorch_optimizer.ADOPT` 4.1.0 evaluates `clip_lambda` at its
      step counter after incrementing it, so each update is clipped at the
      bound the authors use for the next one, $c_t$ instead of $c_{t-1}$
      (the first update at $2^{1/4} \approx 1.19$ instead of 1): its
      clipping schedule is one step off. Measured on the shared test
      problem, 40 steps at learning rate 0.01, defaults: 2.0e-3 relative
      to the weights' scale (3.5e-3 with betas (0.8, 0.99) and
      $\epsilon = 0.5$); with its `clip_lambda` moved back one step it is
      bit-equal to the authors'. With `weight_decouple=True` it also
      decays on the first step (the authors do not): 1.0e-2 at
      $\eta = 0.02$, $\lambda = 0.5$.
    - torch 2.13 has no ADOPT.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001` (the authors').
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.9999`.
        epsilon: $\epsilon > 0$, the smallest denominator. Defaults to
            `1e-6`.
        clip_exponent: $p \ge 0$ of the clipping bound $c_s = s^p$, or
            `None` for no clipping (fixed then). Defaults to `0.25`.
        decouple: Bool, fixed. Decoupled weight decay instead of L2.
            Defaults to `False` (the authors').

    References:
        - Taniguchi, Harada, Minegishi, Oshima, Jeong, Nagahara, Iiyama,
          Suzuki, Iwasawa & Matsuo, 2024. ADOPT: modified Adam can converge
          with any beta_2 with the optimal rate. NeurIPS.
    """

    elementwise = True
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.9999),
        "epsilon": positive(1e-6),
        "clip_exponent": Hyper(0.25, low=0.0, optional=True),
        "decouple": Hyper(False),
    }
    slots = ("momentum", "velocity")
    reference = (
        "iShohei220/adopt adopt.ADOPT @6468572 (optax.contrib.adopt 0.2.8)"
    )
    decoupled_weight_decay = False
    supports_cautious = True

    @staticmethod
    def update_rule(grad, param, slots, hp):
        first = hp.step == 1
        decays = hp.decays and hp.weight_decay is not None
        if decays and not hp.decouple:
            grad = grad + param * hp.cast(hp.weight_decay)
        v, m = slots["velocity"], slots["momentum"]
        square = grad * grad
        new_v = ops.where(
            first,
            v + square,
            v * hp.cast(hp.beta_2) + square * hp.cast(hp.one_minus("beta_2")),
        )
        normed = grad / ops.maximum(ops.sqrt(v), hp.cast(hp.epsilon))
        if hp.clip_exponent is not None:
            count = ops.cast(hp.step, xla.wide_dtype()) - 1.0
            clip = hp.cast(ops.power(count, hp.clip_exponent))
            normed = ops.clip(normed, -clip, clip)
        new_m = m + hp.cast(hp.one_minus("beta_1")) * (normed - m)
        new_param = param
        if decays and hp.decouple:
            new_param = param - param * (hp.lr * hp.cast(hp.weight_decay))
        update = hp.lr * new_m
        if hp.cautious:
            update = cautious_update(update, grad)
        new_param = new_param - update
        return ops.where(first, param, new_param), {
            "momentum": ops.where(first, m, new_m),
            "velocity": new_v,
        }
