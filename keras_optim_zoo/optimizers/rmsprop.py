"""RMSprop, plain or centered, with optional momentum: `"zoo_rmsprop"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)


@register("zoo_rmsprop")
class RMSprop(ZooOptimizer):
    r"""RMSprop (Hinton's lecture 6e), optionally centered, with momentum.

    $$ v_t = \rho v_{t-1} + (1-\rho) g_t^2, \qquad
       \bar g_t = \rho \bar g_{t-1} + (1-\rho) g_t \;\text{(centered)} $$
    $$ \Delta_t = \frac{\eta_t g_t}{\sqrt{v_t - \bar g_t^2 + \epsilon}}
       \;\text{(centered) or}\; \frac{\eta_t g_t}{\sqrt{v_t + \epsilon}} $$
    $$ b_t = \mu b_{t-1} + \Delta_t, \quad \theta_t = \theta_{t-1} - b_t
       \quad\text{(or } \theta_t = \theta_{t-1} - \Delta_t
       \text{ without momentum).} $$

    Matches `keras.optimizers.RMSprop` step for step, with the same
    arguments and defaults. Note $\epsilon$ is inside the square root, as
    in Keras and TensorFlow; `torch.optim.RMSprop` and `optax.rmsprop` add
    it outside, and torch's default `alpha` ($\rho$) is 0.99.

    Args:
        learning_rate: Float, schedule or callable. Defaults to `0.001`.
        rho: $\rho$, discount of the squared-gradient average, in `[0, 1)`.
            Defaults to `0.9`.
        momentum: $\mu$ in `[0, 1)`. If `0` at construction no momentum
            state is created and it cannot be changed later. Defaults to
            `0.0`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`.
        centered: Bool, fixed. Normalize by the estimated variance instead
            of the second moment. Defaults to `False`.

    References:
        - Hinton, Srivastava & Swersky, 2012. Neural networks for machine
          learning, lecture 6e.
        - Graves, 2013. Generating sequences with recurrent neural networks
          (the centered form).
    """

    elementwise = True
    hyperparameters = {
        "rho": fraction(0.9),
        "momentum": fraction(0.0),
        "epsilon": positive(1e-7),
        "centered": Hyper(False),
    }
    slots = (
        Slot("velocity"),
        Slot("momentum", when="momentum"),
        Slot("average_gradient", when="centered"),
    )
    keras_equivalent = ("RMSprop", {})

    @staticmethod
    def update_rule(grad, param, slots, hp):
        rho, eps = hp.cast(hp.rho), hp.cast(hp.epsilon)
        one_minus_rho = hp.cast(hp.one_minus("rho"))
        new = {
            "velocity": rho * slots["velocity"]
            + one_minus_rho * ops.square(grad)
        }
        if hp.centered:
            new["average_gradient"] = (
                rho * slots["average_gradient"] + one_minus_rho * grad
            )
            denominator = (
                new["velocity"] - ops.square(new["average_gradient"]) + eps
            )
        else:
            denominator = new["velocity"] + eps
        increment = (hp.lr * grad) / ops.sqrt(denominator)
        if "momentum" in slots:
            new["momentum"] = (
                hp.cast(hp.momentum) * slots["momentum"] + increment
            )
            return param - new["momentum"], new
        return param - increment, new
