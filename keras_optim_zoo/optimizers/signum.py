"""Signum and signSGD: steps of fixed size along a sign, `"zoo_signum"`."""

from keras import ops

from keras_optim_zoo.core import Slot, ZooOptimizer, fraction, register


@register("zoo_signum")
class Signum(ZooOptimizer):
    r"""Signum: the sign of an exponential moving average of gradients.

    $$ m_t = \beta m_{t-1} + (1-\beta) g_t, \qquad
       \theta_t = \theta_{t-1} - \eta_t \operatorname{sign}(m_t) $$

    and, with `momentum=0`, signSGD: $\theta_t = \theta_{t-1} - \eta_t
    \operatorname{sign}(g_t)$ (then no momentum slot exists, and
    `momentum` is fixed at 0). Every coordinate moves by exactly
    $\pm\eta_t$, or not at all where the average is exactly 0. State: one
    slot, 4 bytes per parameter (none for signSGD).

    The momentum is the paper's moving average, $(1-\beta)$ times the new
    gradient, as in `pytorch_optimizer.SignSGD` and MXNet's `Signum`. With
    a constant $\beta$ the heavy-ball sum $m_t = \beta m_{t-1} + g_t$
    (`torch.optim.SGD` style) is this average times $1/(1-\beta)$, so its
    sign is the same (up to round-off where $m_t$ is near 0); the two
    differ once $\beta$ is changed during training, since the old state
    then weighs differently against the new gradients. Lion (`zoo_lion`)
    mixes differently again: the sign of an interpolation with $\beta_1$
    of a momentum kept with $\beta_2$.

    Weight decay is the common decoupled one, $\theta \leftarrow \theta -
    \eta_t\lambda\theta$ before the step, as
    `pytorch_optimizer.SignSGD` with its default `weight_decouple=True`
    (MXNet's `Signum` instead adds $\lambda\theta$ to the gradient inside
    the average, and has a separate decoupled `wd_lh`).

    Checked against `pytorch_optimizer.SignSGD` 4.1.0 (stored
    trajectories).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$), the size of
            every coordinate's step. Defaults to `0.001`.
        momentum: $\beta$ in `[0, 1)`; `0` gives signSGD. Defaults to
            `0.9`.

    References:
        - Bernstein, Wang, Azizzadenesheli & Anandkumar, 2018. signSGD:
          compressed optimisation for non-convex problems. ICML.
          https://arxiv.org/abs/1802.04434
    """

    elementwise = True
    hyperparameters = {"momentum": fraction(0.9)}
    slots = (Slot("momentum", when="momentum"),)
    reference = "pytorch_optimizer.SignSGD 4.1.0"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        if "momentum" not in slots:
            return param - hp.lr * ops.sign(grad), {}
        m = slots["momentum"]
        m = m + (grad - m) * hp.cast(hp.one_minus("momentum"))
        return param - hp.lr * ops.sign(m), {"momentum": m}
