"""Adan: adaptive Nesterov momentum, `"zoo_adan"`."""

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


@register("zoo_adan")
class Adan(ZooOptimizer):
    r"""Adan: adaptive Nesterov momentum without the extra gradient.

    Nesterov's look-ahead is estimated from the gradient difference
    $\Delta_t = g_t - g_{t-1}$ (with $\Delta_1 = 0$: the first step has no
    previous gradient), which gets its own moving average and enters the
    second moment. With the betas as the decay of the old value (the
    authors' code; the paper's $\beta_i$ are $1 - \beta_i$ here):

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) \Delta_t $$
    $$ n_t = \beta_3 n_{t-1} + (1-\beta_3)
       \left(g_t + \beta_2 \Delta_t\right)^2 $$
    $$ u_t = \eta_t\, \frac{m_t / (1-\beta_1^t)
       + \beta_2\, v_t / (1-\beta_2^t)}
       {\sqrt{n_t / (1-\beta_3^t)} + \epsilon} $$

    and, with weight decay $\lambda$, the proximal step (the default)
    or, with `no_prox=True`, decoupled decay before the step:

    $$ \theta_t = \frac{\theta_{t-1} - u_t}{1 + \eta_t\lambda}
       \qquad\text{or}\qquad
       \theta_t = \theta_{t-1}(1 - \eta_t\lambda) - u_t $$

    This is the authors' code (`sail-sg/Adan`, `adan.py`, commit
    2c65bea), checked on stored trajectories, including its bias
    corrections, $\epsilon$ outside the square root, $\Delta_1 = 0$, and
    its defaults (measured: at most 5.0e-7 relative to the weights' scale
    over 40 steps, 8.4e-8 but for XLA's fused decay).
    `pytorch_optimizer.Adan` 4.1.0 is the same algorithm
    (`weight_decouple=True` is `no_prox=True`; 9.1e-8 from the authors').
    Where peers differ:

    - `optax.adan` 0.2.8 weights the gradient difference by $1-\beta_2$
      where the authors (and the paper, Algorithm 1, whose weight is one
      minus its $\beta_2 = 0.08$) use $\beta_2$: with the default
      $\beta_2 = 0.92$ its Nesterov term is 0.08 instead of 0.92, both in
      $n_t$ and in $u_t$. Measured on the shared test problem over 40
      steps at learning rate 0.01 (defaults, optax with `eps_root=0`):
      3.3e-2 relative to the weights' scale (4.3e-2 with
      betas (0.9, 0.8, 0.95); equal after the first step, where
      $\Delta_1 = 0$). optax's `weight_decay` is the
      `no_prox=True` form, and its `eps_root` (1e-8 by default, inside
      the square root) is not an argument here.
    - The authors' `max_grad_norm` clips all gradients jointly by
      $\min(1, c/(\lVert g\rVert + \epsilon))$ before the step (the
      stored previous gradient is the clipped one): that is Keras's
      `global_clipnorm=c`, up to the $\epsilon$ (a relative
      $\epsilon/\lVert g\rVert$ in the factor). Checked on a stored
      trajectory (4.4e-8).
    - The authors' `restart_opt`, their fused CUDA kernels and `foreach`
      are not offered (the last two compute the same numbers).

    Weight decay is the rule's own (`decoupled_weight_decay = False`):
    `weight_decay` is $\lambda$ above, `exclude_from_weight_decay` works.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001` (the authors').
        beta_1: $\beta_1$ in `[0, 1)`, the gradient's average. Defaults to
            `0.98`.
        beta_2: $\beta_2$ in `[0, 1)`, the gradient difference's average
            and weight. Defaults to `0.92`.
        beta_3: $\beta_3$ in `[0, 1)`, the second moment's. Defaults to
            `0.99`.
        epsilon: $\epsilon > 0$. Defaults to `1e-8`.
        no_prox: Bool, fixed. Decay as $\theta(1-\eta_t\lambda)$ before
            the step instead of the proximal division after it. Defaults
            to `False` (the authors').

    References:
        - Xie, Zhou, Li, Lin & Yan, 2024. Adan: adaptive Nesterov momentum
          algorithm for faster optimizing deep models. IEEE TPAMI
          (arXiv:2208.06677, 2022).
    """

    elementwise = True
    hyperparameters = {
        "beta_1": fraction(0.98),
        "beta_2": fraction(0.92),
        "beta_3": fraction(0.99),
        "epsilon": positive(1e-8),
        "no_prox": Hyper(False),
    }
    slots = ("momentum", "diff_momentum", "velocity", "previous_gradient")
    reference = "sail-sg/Adan adan.py @2c65bea (pytorch_optimizer.Adan 4.1.0)"
    decoupled_weight_decay = False
    supports_cautious = True

    @staticmethod
    def update_rule(grad, param, slots, hp):
        b1, b2, b3 = (hp.cast(b) for b in (hp.beta_1, hp.beta_2, hp.beta_3))
        diff = ops.where(
            hp.step == 1,
            ops.zeros_like(grad),
            grad - slots["previous_gradient"],
        )
        m = slots["momentum"] * b1 + grad * hp.cast(hp.one_minus("beta_1"))
        v = slots["diff_momentum"] * b2 + diff * hp.cast(hp.one_minus("beta_2"))
        n = slots["velocity"] * b3 + ops.square(grad + b2 * diff) * hp.cast(
            hp.one_minus("beta_3")
        )
        # The step's scalars in float64 and the weights updated in the
        # authors' order (two additions, then the proximal division): the
        # same roundings as theirs.
        lr = ops.cast(hp.lr, xla.wide_dtype())
        step = ops.cast(hp.step, xla.wide_dtype())
        bc1 = 1.0 - ops.power(hp.beta_1, step)
        bc2 = 1.0 - ops.power(hp.beta_2, step)
        bc3 = 1.0 - ops.power(hp.beta_3, step)
        denom = ops.sqrt(n) / hp.cast(ops.sqrt(bc3)) + hp.cast(hp.epsilon)
        new = {
            "momentum": m,
            "diff_momentum": v,
            "velocity": n,
            "previous_gradient": grad,
        }
        decays = hp.decays and hp.weight_decay is not None
        if decays:
            wd = lr * hp.weight_decay
            if hp.no_prox:
                param = param * hp.cast(1.0 - wd)
        update = hp.cast(lr / bc1) * (m / denom) + hp.cast(
            lr * hp.beta_2 / bc2
        ) * (v / denom)
        if hp.cautious:
            update = cautious_update(update, grad)
        param = param - update
        if decays and not hp.no_prox:
            param = param / hp.cast(1.0 + wd)
        return param, new
