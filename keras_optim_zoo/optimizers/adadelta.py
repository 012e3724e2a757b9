"""Adadelta, `"zoo_adadelta"`."""

from keras import ops

from keras_optim_zoo.core import ZooOptimizer, fraction, positive, register


@register("zoo_adadelta")
class Adadelta(ZooOptimizer):
    r"""Adadelta: step sizes from running averages of gradients and updates.

    $$ G_t = \rho G_{t-1} + (1-\rho) g_t^2, \qquad
       \Delta_t = -\frac{\sqrt{D_{t-1} + \epsilon}}{\sqrt{G_t + \epsilon}}
       \, g_t $$
    $$ D_t = \rho D_{t-1} + (1-\rho) \Delta_t^2, \qquad
       \theta_t = \theta_{t-1} + \eta_t \Delta_t $$

    Matches `keras.optimizers.Adadelta` step for step, with the same
    arguments and defaults (Keras's learning rate `0.001` scales the
    paper's update, which corresponds to `learning_rate=1.0`, the default
    of `torch.optim.Adadelta`).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        rho: $\rho$ in `[0, 1)`. Defaults to `0.95`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`.

    References:
        - Zeiler, 2012. ADADELTA: An adaptive learning rate method.
    """

    elementwise = True

    hyperparameters = {
        "rho": fraction(0.95),
        "epsilon": positive(1e-7),
    }
    slots = ("accumulated_grad", "accumulated_delta_var")
    keras_equivalent = ("Adadelta", {})

    @staticmethod
    def update_rule(grad, param, slots, hp):
        rho, eps = hp.cast(hp.rho), hp.cast(hp.epsilon)
        one_minus_rho = hp.cast(hp.one_minus("rho"))
        acc_grad = rho * slots["accumulated_grad"] + one_minus_rho * (
            ops.square(grad)
        )
        delta = -(
            ops.sqrt(slots["accumulated_delta_var"] + eps)
            * grad
            / ops.sqrt(acc_grad + eps)
        )
        acc_delta = rho * slots["accumulated_delta_var"] + one_minus_rho * (
            ops.square(delta)
        )
        return param + hp.lr * delta, {
            "accumulated_grad": acc_grad,
            "accumulated_delta_var": acc_delta,
        }
