"""Adamax: Adam with the infinity norm, `"zoo_adamax"`."""

from keras import ops

from keras_optim_zoo.core import ZooOptimizer, fraction, positive, register


@register("zoo_adamax")
class Adamax(ZooOptimizer):
    r"""Adamax, the infinity-norm variant of Adam.

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       u_t = \max(\beta_2 u_{t-1}, |g_t|) $$
    $$ \theta_t = \theta_{t-1} - \frac{\eta_t\, m_t}
       {(1-\beta_1^t)(u_t + \epsilon)} $$

    Matches `keras.optimizers.Adamax` step for step, with the same arguments
    and defaults. `torch.optim.Adamax` puts $\epsilon$ inside the max,
    $u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)$.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`, decay of the infinity norm. Defaults
            to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`.

    References:
        - Kingma & Ba, 2015. Adam: A method for stochastic optimization.
          ICLR, section 7.1.
    """

    elementwise = True
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-7),
    }
    slots = ("momentum", "norm")
    keras_equivalent = ("Adamax", {})

    @staticmethod
    def update_rule(grad, param, slots, hp):
        beta_1_power = ops.power(hp.cast(hp.beta_1), hp.step)
        m = slots["momentum"] + (grad - slots["momentum"]) * hp.cast(
            hp.one_minus("beta_1")
        )
        u = ops.maximum(hp.cast(hp.beta_2) * slots["norm"], ops.abs(grad))
        update = (hp.lr * m) / ((1 - beta_1_power) * (u + hp.cast(hp.epsilon)))
        return param - update, {"momentum": m, "norm": u}
