"""Yogi: Adam with an additive second-moment update, `"zoo_yogi"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)


@register("zoo_yogi")
class Yogi(ZooOptimizer):
    r"""Yogi: adaptive methods for nonconvex optimization.

    Adam's multiplicative second-moment average is replaced by an additive
    update whose size is controlled by the sign of $v_{t-1} - g_t^2$, so
    that $v$ grows and shrinks by at most $(1-\beta_2) g_t^2$ per step:

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_t = v_{t-1} - (1-\beta_2)\,\mathrm{sign}(v_{t-1} - g_t^2)\, g_t^2 $$
    $$ \theta_t = \theta_{t-1} - \eta_t\,
       \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon} $$

    with $m_0 = v_0 =$ `initial_accumulator_value`.

    Matches `optax.yogi` 0.2.8 (checked on stored trajectories; `optax`'s
    `scale_by_yogi` for a non-default `initial_accumulator_value`), and
    `pytorch_optimizer.Yogi`, which computes the same. tf-addons'
    `Yogi` differed in three ways: $m_0 = 0$ (the accumulator value
    started $v$ only); $\epsilon$ added to $\sqrt{v_t}$ before bias
    correction, i.e. $\eta_t \sqrt{1-\beta_2^t}/(1-\beta_1^t) \cdot m_t /
    (\sqrt{v_t} + \epsilon)$, which with its large default $\epsilon =
    10^{-3}$ damps the first steps noticeably (at $t = 1$ the effective
    $\epsilon$ is $\epsilon/\sqrt{1-\beta_2} \approx 0.03$); and the extra
    options `l1_regularization_strength`, `l2_regularization_strength` (a
    proximal step after the update) and `activation="tanh"` (a smooth
    sign), which are not offered here: use a Keras regularizer for L1/L2,
    or `weight_decay` for decoupled decay.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.01`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-3`.
        initial_accumulator_value: Float > 0, fixed: the starting value of
            both moments. Defaults to `1e-6`.

    References:
        - Zaheer, Reddi, Sachan, Kale & Kumar, 2018. Adaptive methods for
          nonconvex optimization. NeurIPS.
    """

    elementwise = True
    default_learning_rate = 0.01
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-3),
        "initial_accumulator_value": Hyper(
            1e-6, low=0.0, low_open=True, changeable=False
        ),
    }
    slots = (
        Slot("momentum", init="initial_accumulator_value"),
        Slot("velocity", init="initial_accumulator_value"),
    )
    reference = "optax.yogi 0.2.8"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        b1, b2 = hp.cast(hp.beta_1), hp.cast(hp.beta_2)
        m = grad * hp.cast(hp.one_minus("beta_1")) + slots["momentum"] * b1
        g2 = ops.square(grad)
        v = slots["velocity"]
        v = v - hp.cast(hp.one_minus("beta_2")) * ops.sign(v - g2) * g2
        m_hat = m / (1 - ops.power(b1, hp.step))
        v_hat = v / (1 - ops.power(b2, hp.step))
        update = m_hat / (ops.sqrt(v_hat) + hp.cast(hp.epsilon))
        return param - hp.lr * update, {"momentum": m, "velocity": v}
