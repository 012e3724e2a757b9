"""Adam and its AMSGrad and decoupled-weight-decay variants.

Registered as `"zoo_adam"`, `"zoo_amsgrad"` and `"zoo_adamw"`; one rule
serves all three.
"""

import functools

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)

_ADAM_HYPERPARAMETERS = {
    "beta_1": fraction(0.9),
    "beta_2": fraction(0.999),
    "epsilon": positive(1e-7),
    "amsgrad": Hyper(False),
}


def _adam_rule(grad, param, slots, hp, amsgrad=None):
    b1, b2 = hp.cast(hp.beta_1), hp.cast(hp.beta_2)
    alpha = (
        hp.lr
        * ops.sqrt(1 - ops.power(b2, hp.step))
        / (1 - ops.power(b1, hp.step))
    )
    m = slots["momentum"] + (grad - slots["momentum"]) * hp.cast(
        hp.one_minus("beta_1")
    )
    v = slots["velocity"] + (ops.square(grad) - slots["velocity"]) * hp.cast(
        hp.one_minus("beta_2")
    )
    new = {"momentum": m, "velocity": v}
    if hp.amsgrad if amsgrad is None else amsgrad:
        v = new["velocity_hat"] = ops.maximum(slots["velocity_hat"], v)
    return param - (m * alpha) / (ops.sqrt(v) + hp.cast(hp.epsilon)), new


_ADAM_DOC_MATH = r"""
    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 $$
    $$ \alpha_t = \eta_t \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}, \qquad
       \theta_t = \theta_{t-1} - \frac{\alpha_t\, m_t}{\sqrt{\hat v_t}
       + \epsilon} $$

    with $\hat v_t = v_t$, or $\hat v_t = \max(\hat v_{t-1}, v_t)$ for
    AMSGrad. This is the "epsilon hat" form of the paper's section 2
    (Keras, TensorFlow): $\epsilon$ is added to $\sqrt{v_t}$ before bias
    correction of $v$, so it weighs $\sqrt{1-\beta_2^t}$ times less than in
    `torch.optim.Adam` and `optax.adam`, which divide by
    $\sqrt{v_t/(1-\beta_2^t)} + \epsilon$. The two agree when
    $\epsilon \ll \sqrt{v_t}$."""

_ADAM_ARGS = r"""
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`."""
_LR_ARG = r"""
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`."""
_AMSGRAD_ARG = r"""
        amsgrad: Bool, fixed. Use the AMSGrad maximum. Defaults to `False`."""


@register("zoo_adam")
class Adam(ZooOptimizer):
    __doc__ = (
        r"""Adam: adaptive moment estimation.
"""
        + _ADAM_DOC_MATH
        + r"""

    Matches `keras.optimizers.Adam` step for step, with the same arguments
    and defaults.

    Args:"""
        + _LR_ARG
        + _ADAM_ARGS
        + _AMSGRAD_ARG
        + r"""

    References:
        - Kingma & Ba, 2015. Adam: A method for stochastic optimization.
          ICLR.
        - Reddi, Kale & Kumar, 2018. On the convergence of Adam and beyond.
          ICLR (AMSGrad).
    """
    )

    elementwise = True
    hyperparameters = _ADAM_HYPERPARAMETERS
    slots = ("momentum", "velocity", Slot("velocity_hat", when="amsgrad"))
    keras_equivalent = ("Adam", {})
    supports_cautious = True
    update_rule = staticmethod(_adam_rule)


@register("zoo_amsgrad")
class AMSGrad(ZooOptimizer):
    __doc__ = (
        r"""AMSGrad: Adam with a non-decreasing second-moment estimate.
"""
        + _ADAM_DOC_MATH
        + r"""

    Matches `keras.optimizers.Adam(amsgrad=True)` step for step.

    Args:"""
        + _LR_ARG
        + _ADAM_ARGS
        + r"""

    References:
        - Reddi, Kale & Kumar, 2018. On the convergence of Adam and beyond.
          ICLR.
    """
    )

    elementwise = True
    hyperparameters = {
        k: v for k, v in _ADAM_HYPERPARAMETERS.items() if k != "amsgrad"
    }
    slots = ("momentum", "velocity", "velocity_hat")
    keras_equivalent = ("Adam", {"amsgrad": True})
    supports_cautious = True
    update_rule = staticmethod(functools.partial(_adam_rule, amsgrad=True))


@register("zoo_adamw")
class AdamW(ZooOptimizer):
    __doc__ = (
        r"""AdamW: Adam with decoupled weight decay.

    Before each Adam step, $\theta \leftarrow \theta - \lambda\,\eta_t\,
    \theta$ (Keras's form: the decay is scaled by the learning rate
    $\eta_t$, not by a separate schedule multiplier), then:
"""
        + _ADAM_DOC_MATH
        + r"""

    Matches `keras.optimizers.AdamW` step for step, with the same arguments
    and defaults; `exclude_from_weight_decay()` works as in Keras.
    `torch.optim.AdamW` applies the same $\eta_t \lambda$ decay.

    Args:"""
        + _LR_ARG
        + r"""
        weight_decay: $\lambda \ge 0$, changeable during training.
            Defaults to `0.004`."""
        + _ADAM_ARGS
        + _AMSGRAD_ARG
        + r"""

    References:
        - Loshchilov & Hutter, 2019. Decoupled weight decay
          regularization. ICLR.
    """
    )

    elementwise = True
    hyperparameters = {
        "weight_decay": Hyper(0.004, low=0.0),
        **_ADAM_HYPERPARAMETERS,
    }
    slots = ("momentum", "velocity", Slot("velocity_hat", when="amsgrad"))
    keras_equivalent = ("AdamW", {})
    supports_cautious = True
    update_rule = staticmethod(_adam_rule)
