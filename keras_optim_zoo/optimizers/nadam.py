"""Nadam: Adam with Nesterov momentum, `"zoo_nadam"`."""

from keras import ops

from keras_optim_zoo.core import ZooOptimizer, fraction, positive, register


@register("zoo_nadam")
class Nadam(ZooOptimizer):
    r"""Nadam, with Dozat's momentum-decay schedule.

    With $\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t})$ and
    $\Pi_t = \prod_{i \le t} \mu_i$ (kept as global state):

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 $$
    $$ \hat m_t = \frac{\mu_{t+1} m_t}{1 - \Pi_t \mu_{t+1}}
       + \frac{(1-\mu_t) g_t}{1-\Pi_t}, \qquad
       \theta_t = \theta_{t-1} - \frac{\eta_t\, \hat m_t}
       {\sqrt{v_t/(1-\beta_2^t)} + \epsilon} $$

    Matches `keras.optimizers.Nadam` step for step, with the same arguments
    and defaults (`torch.optim.NAdam` uses the same schedule with
    `momentum_decay=0.004`, i.e. $0.96^t$ becomes $0.96^{0.004\,t \cdot
    250}$, the same numbers).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`.

    References:
        - Dozat, 2016. Incorporating Nesterov momentum into Adam. ICLR
          workshop.
    """

    elementwise = True
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-7),
    }
    slots = ("momentum", "velocity")
    global_state = {"u_product": 1.0}
    keras_equivalent = ("Nadam", {})
    supports_cautious = True

    @staticmethod
    def global_update(globals, hp):
        decay = ops.power(hp.cast(0.96), hp.step)
        return {
            "u_product": globals["u_product"]
            * hp.cast(hp.beta_1)
            * (1.0 - 0.5 * decay)
        }

    @staticmethod
    def update_rule(grad, param, slots, hp):
        decay = hp.cast(0.96)
        b1, b2 = hp.cast(hp.beta_1), hp.cast(hp.beta_2)
        u_t = b1 * (1.0 - 0.5 * ops.power(decay, hp.step))
        u_t_1 = b1 * (1.0 - 0.5 * ops.power(decay, hp.step + 1))
        u_product_t_1 = hp.u_product * u_t_1
        m = slots["momentum"] + (grad - slots["momentum"]) * (1 - b1)
        v = slots["velocity"] + (ops.square(grad) - slots["velocity"]) * (
            1 - b2
        )
        m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * grad) / (
            1 - hp.u_product
        )
        v_hat = v / (1 - ops.power(b2, hp.step))
        update = (m_hat * hp.lr) / (ops.sqrt(v_hat) + hp.cast(hp.epsilon))
        return param - update, {"momentum": m, "velocity": v}
