"""Stochastic gradient descent: plain, heavy-ball momentum and Nesterov.

Registered as `"zoo_sgd"`, `"zoo_momentum"` and `"zoo_nesterov"`; one rule
serves all three.
"""

import functools

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    register,
)


def _sgd_rule(grad, param, slots, hp, nesterov=None):
    if "momentum" not in slots:
        return param - grad * hp.lr, {}
    mu = hp.cast(hp.momentum)
    m = slots["momentum"] * mu - grad * hp.lr
    if hp.nesterov if nesterov is None else nesterov:
        return param + (m * mu - grad * hp.lr), {"momentum": m}
    return param + m, {"momentum": m}


@register("zoo_sgd")
class SGD(ZooOptimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    Without momentum, $\theta_t = \theta_{t-1} - \eta_t g_t$. With momentum
    $\mu > 0$, in the form Keras uses (the learning rate inside the
    velocity):

    $$ m_t = \mu m_{t-1} - \eta_t g_t, \qquad
       \theta_t = \theta_{t-1} + m_t \;\; \text{or, with Nesterov,} \;\;
       \theta_t = \theta_{t-1} + \mu m_t - \eta_t g_t. $$

    Matches `keras.optimizers.SGD` step for step, with the same arguments
    and defaults. `torch.optim.SGD` keeps $\eta$ out of the velocity, so
    the two agree only while $\eta_t$ is constant.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.01`.
        momentum: $\mu$, in `[0, 1)`. If `0` at construction no momentum
            state is created and `momentum` cannot be changed later.
            Changeable during training otherwise. Defaults to `0.0`.
        nesterov: Bool, fixed. Use Nesterov momentum. Defaults to `False`.

    References:
        - Robbins & Monro, 1951. A stochastic approximation method.
        - Sutskever et al., 2013. On the importance of initialization and
          momentum in deep learning. ICML.
    """

    elementwise = True
    default_learning_rate = 0.01
    batch_size_scaling = "linear"
    hyperparameters = {
        "momentum": fraction(0.0),
        "nesterov": Hyper(False),
    }
    slots = (Slot("momentum", when="momentum"),)
    keras_equivalent = ("SGD", {})
    update_rule = staticmethod(_sgd_rule)


@register("zoo_momentum")
class Momentum(ZooOptimizer):
    r"""SGD with heavy-ball (Polyak) momentum.

    $$ m_t = \mu m_{t-1} - \eta_t g_t, \qquad \theta_t = \theta_{t-1} + m_t $$

    Matches `keras.optimizers.SGD(momentum=mu)` step for step (a different
    default: `0.9`). `torch.optim.SGD(momentum=mu)` keeps $\eta$ out of
    $m$; the two agree while $\eta_t$ is constant.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.01`.
        momentum: $\mu$, in `[0, 1)`, changeable during training.
            Defaults to `0.9`.

    References:
        - Polyak, 1964. Some methods of speeding up the convergence of
          iteration methods.
    """

    elementwise = True
    default_learning_rate = 0.01
    batch_size_scaling = "linear"
    hyperparameters = {"momentum": fraction(0.9)}
    slots = (Slot("momentum", when="momentum"),)
    keras_equivalent = ("SGD", {"nesterov": False})
    update_rule = staticmethod(functools.partial(_sgd_rule, nesterov=False))


@register("zoo_nesterov")
class Nesterov(Momentum):
    r"""SGD with Nesterov momentum, in the form Keras's `SGD` uses.

    $$ m_t = \mu m_{t-1} - \eta_t g_t, \qquad
       \theta_t = \theta_{t-1} + \mu m_t - \eta_t g_t $$

    Matches `keras.optimizers.SGD(momentum=mu, nesterov=True)` step for
    step, schedules included (a different default: `0.9`).
    `torch.optim.SGD(nesterov=True)` keeps $\eta$ out of $m$, so the two
    differ once $\eta_t$ changes.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.01`.
        momentum: $\mu$, in `[0, 1)`, changeable during training.
            Defaults to `0.9`.

    References:
        - Nesterov, 1983. A method for unconstrained convex minimization
          problem with the rate of convergence O(1/k^2).
        - Sutskever et al., 2013. On the importance of initialization and
          momentum in deep learning. ICML.
    """

    keras_equivalent = ("SGD", {"nesterov": True})
    update_rule = staticmethod(functools.partial(_sgd_rule, nesterov=True))
