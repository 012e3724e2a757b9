"""Lion: evolved sign momentum, `"zoo_lion"`."""

from keras import ops

from keras_optim_zoo.core import Hyper, ZooOptimizer, fraction, register


@register("zoo_lion")
class Lion(ZooOptimizer):
    r"""Lion (EvoLved Sign Momentum), found by program search.

    $$ u_t = \operatorname{sign}\big(\beta_1 m_{t-1} + (1-\beta_1) g_t\big),
       \qquad \theta_t = \theta_{t-1} - \eta_t\, u_t $$
    $$ m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t $$

    The update interpolates with $\beta_1$ but the momentum is tracked with
    $\beta_2$, so the current gradient weighs more in the step than in the
    state. Every coordinate moves by exactly $\pm\eta_t$ (or 0), so the
    update has a larger norm than Adam's: the authors recommend a learning
    rate 3-10x smaller than AdamW's and a weight decay 3-10x larger. One
    slot (the momentum): 4 bytes of state per parameter.

    Matches `keras.optimizers.Lion` step for step, with the same arguments
    and defaults. Weight decay is decoupled and scaled by the learning rate
    ($\theta \leftarrow \theta - \eta_t \lambda \theta$ before the step), as
    in the authors' code, `optax.lion` and `pytorch_optimizer.Lion`; since
    the sign does not depend on $\theta$, decaying before or after the
    sign step gives the same numbers.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `(0, 1]`, the interpolation of the update (as
            in Keras, `0` is rejected: that is signSGD, see `zoo_signum`).
            Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`, the decay of the momentum. Defaults
            to `0.99`.

    References:
        - Chen et al., 2023. Symbolic discovery of optimization algorithms.
          NeurIPS. https://arxiv.org/abs/2302.06675
    """

    elementwise = True
    hyperparameters = {
        "beta_1": Hyper(0.9, low=0.0, high=1.0, low_open=True),
        "beta_2": fraction(0.99),
    }
    slots = ("momentum",)
    keras_equivalent = ("Lion", {})
    supports_cautious = True

    @staticmethod
    def update_rule(grad, param, slots, hp):
        m = slots["momentum"]
        b1, b2 = hp.cast(hp.beta_1), hp.cast(hp.beta_2)
        # Keras computes 1 - beta in the parameter's dtype here.
        direction = ops.sign(m * b1 + grad * (1.0 - b1))
        new_m = m * b2 + grad * (1.0 - b2)
        return param - hp.lr * direction, {"momentum": new_m}
