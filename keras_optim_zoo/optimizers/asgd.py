"""Averaged SGD (Polyak-Ruppert averaging), `"zoo_asgd"`."""

from keras import ops

from keras_optim_zoo.core import Hyper, Slot, ZooOptimizer, register
from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.hyper import PARAM


@register("zoo_asgd")
class ASGD(ZooOptimizer):
    r"""Averaged stochastic gradient descent, as `torch.optim.ASGD`.

    At step $t$ (1-based), with the step size and averaging rate

    $$ \eta_t = \frac{\eta}{(1 + \lambda \eta (t-1))^{\alpha}}, \qquad
       \mu_t = \frac{1}{\max(1,\, t - 1 - t_0)}, $$

    and $g_t$ the gradient plus `l2_penalty` $\times\, \theta_{t-1}$:

    $$ \theta_t = \theta_{t-1} (1 - \lambda \eta_t) - \eta_t g_t, \qquad
       \bar\theta_t = \bar\theta_{t-1} + \mu_t (\theta_t - \bar\theta_{t-1}) $$

    with $\bar\theta_t = \theta_t$ exactly while $\mu_t = 1$: the
    average `ax` follows $\theta_t$ up to step $t_0 + 2$ and is then (for
    an integer $t_0$) the plain mean of the iterates from that step on.
    It is the evaluation point
    (`evaluation_rule`; `swap_evaluation_weights()` puts it into the model).
    The model's variables keep the SGD iterate $\theta_t$.

    Matches `torch.optim.ASGD` (2.13) step for step, with its defaults;
    torch's `weight_decay` is our `l2_penalty`. Differences: torch starts
    `ax` at zeros and overwrites it with $\theta_1$ at the first step; we
    start it at the variable's value, so the evaluation point before any
    step is the initial point (identical from the first step on). Torch
    computes $\eta_t$ and $\mu_t$ from its base `lr` at the end of the
    previous step; we compute them from the current learning rate, so a
    schedule enters $\eta_t$ one step earlier than a torch scheduler. The
    common `weight_decay` is Keras's decoupled
    $\theta \leftarrow \theta - \text{wd}\, \eta\, \theta$ before the step.

    Args:
        learning_rate: Float, schedule or callable ($\eta$). Defaults to
            `0.01`.
        lambd: $\lambda \ge 0$: decay term, and the decay rate of the step
            size. Defaults to `1e-4`.
        alpha: $\alpha \ge 0$: power of the step-size decay. Defaults to
            `0.75`.
        t0: $t_0 \ge 0$: the step after which averaging starts. Defaults
            to `1e6`.
        l2_penalty: Float >= 0. Adds `l2_penalty * theta` to the gradient
            (torch's `weight_decay`). Defaults to `0.0`.

    References:
        - Polyak & Juditsky, 1992. Acceleration of stochastic approximation
          by averaging. SIAM J. Control and Optimization.
        - Bottou, 2012. Stochastic gradient descent tricks. Neural
          Networks: Tricks of the Trade (the eta and mu schedules).
    """

    elementwise = True
    default_learning_rate = 0.01
    batch_size_scaling = "linear"
    hyperparameters = {
        "lambd": Hyper(1e-4, low=0.0),
        "alpha": Hyper(0.75, low=0.0),
        "t0": Hyper(1e6, low=0.0),
        "l2_penalty": Hyper(0.0, low=0.0),
    }
    slots = (Slot("ax", init=PARAM),)
    reference = "torch.optim.ASGD 2.13.0"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        # torch keeps eta and mu as float32 values computed in double
        # precision from a double learning rate; so do we. The decay
        # factor 1 - lambd * eta is computed in float32 from the float32
        # eta (torch rounds it from double; the two agree but for ties):
        # a float32 -> float64 round trip would be removed by XLA.
        lr = ops.cast(hp.lr, xla.wide_dtype())
        step = ops.cast(hp.step, xla.wide_dtype())
        eta = hp.cast(lr / ops.power(1 + hp.lambd * lr * (step - 1), hp.alpha))
        mu = hp.cast(1 / ops.maximum(step - 1 - hp.t0, 1.0))
        grad = grad + hp.cast(hp.l2_penalty) * param
        param = param * (1 - hp.cast(hp.lambd) * eta) - eta * grad
        ax = slots["ax"]
        ax = ops.where(mu == 1, param, ax + (param - ax) * mu)
        return param, {"ax": ax}

    @staticmethod
    def evaluation_rule(param, slots, hp):
        return slots["ax"]
