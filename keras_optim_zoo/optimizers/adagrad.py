"""Adagrad, `"zoo_adagrad"`."""

from keras import ops

from keras_optim_zoo.core import Hyper, Slot, ZooOptimizer, positive, register


@register("zoo_adagrad")
class Adagrad(ZooOptimizer):
    r"""Adagrad: per-coordinate learning rates from summed squared gradients.

    $$ a_t = a_{t-1} + g_t^2, \quad a_0 = a_{\text{init}}, \qquad
       \theta_t = \theta_{t-1} - \frac{\eta_t g_t}{\sqrt{a_t + \epsilon}} $$

    Matches `keras.optimizers.Adagrad` step for step, with the same
    arguments and defaults. `torch.optim.Adagrad` starts from
    $a_0 = 0$ and adds $\epsilon$ outside the square root.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        initial_accumulator_value: $a_{\text{init}} \ge 0$, fixed (it only
            sets the initial state). Defaults to `0.1`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`.

    References:
        - Duchi, Hazan & Singer, 2011. Adaptive subgradient methods for
          online learning and stochastic optimization. JMLR.
    """

    elementwise = True

    hyperparameters = {
        "initial_accumulator_value": Hyper(0.1, low=0.0, changeable=False),
        "epsilon": positive(1e-7),
    }
    slots = (Slot("accumulator", init="initial_accumulator_value"),)
    keras_equivalent = ("Adagrad", {})

    @staticmethod
    def update_rule(grad, param, slots, hp):
        acc = slots["accumulator"] + ops.square(grad)
        update = (hp.lr * grad) / ops.sqrt(acc + hp.cast(hp.epsilon))
        return param - update, {"accumulator": acc}
