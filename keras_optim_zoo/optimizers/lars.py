"""LARS: layer-wise adaptive rate scaling, `"zoo_lars"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    register,
)


@register("zoo_lars")
class LARS(ZooOptimizer):
    r"""LARS: momentum SGD with a learning rate scaled per variable.

    For each variable $w$ (a layer's kernel) with gradient $g$, the paper's
    Algorithm 1, with $\beta$ = `weight_decay_rate`:

    $$ \lambda = \frac{\eta\, \lVert w\rVert}
       {\lVert g\rVert + \beta \lVert w\rVert + \epsilon}, \qquad
       u = \gamma_t\, \lambda\, (g + \beta w) $$
    $$ v_t = \mu v_{t-1} + u, \qquad
       w_t = w - v_t \quad (\text{Nesterov: } w_t = w - \mu v_t - u) $$

    with $\lambda = 1$ where $\lVert w\rVert = 0$ or the denominator is 0
    (a zero-initialised kernel takes one plain SGD step). With
    `exclude_1d=True`, variables of rank 0 or 1 (biases, normalisation
    scales and offsets) take plain momentum SGD with neither the trust
    ratio nor the decay ($u = \gamma_t g$), the paper's practice. With
    `momentum=0` there is no momentum slot, $w_t = w - u$. State: the
    momentum, 4 bytes per parameter.

    The learning rate $\gamma_t$ sits inside the momentum as in the paper,
    `optax.lars` and `keras.optimizers.SGD` (`pytorch_optimizer.LARS` and
    `torch.optim.SGD` multiply the buffer by it instead: the same numbers
    while it is constant). The decay $\beta$ is part of the algorithm:
    inside the step, scaled by the trust ratio. The common `weight_decay`
    argument is something else (Keras's decoupled $w \leftarrow w -
    \gamma_t \lambda_{wd} w$ before the step, not scaled by the trust
    ratio) and is best left `None`; `exclude_from_weight_decay()` applies
    only to it.

    Checked against `pytorch_optimizer.LARS` 4.1.0 (the paper's form, with
    rank <= 1 variables always excluded and no $\epsilon$) and
    `optax.lars` 0.2.8 (stored trajectories). Where the public
    implementations differ:

    - `optax.lars` adds the decay before the trust ratio, so its ratio is
      $\eta\lVert w\rVert / (\lVert g + \beta w\rVert + \epsilon)$ (norm of
      the sum, not sum of norms), and excludes nothing unless given
      `weight_decay_mask`/`trust_ratio_mask`; with $\beta = 0$ it is this
      algorithm with `exclude_1d=False`. With $\beta \ne 0$ the ratio is
      larger; measured on the test problem ($\beta = 0.01$, $\eta = 0.02$,
      30 steps) the weights differ by 3e-4 of their scale (see
      `tests/reference/generators/lars.py`).
    - NVIDIA apex's `LARC` uses the paper's ratio with $\epsilon = 10^{-8}$
      on every variable (no exclusion), optionally clipped to
      $\min(\lambda/\gamma_t, 1)$ (`clip=True`), then `torch.optim.SGD`.

    Args:
        learning_rate: Float, schedule or callable ($\gamma_t$). The
            scaled variables move by about $\gamma_t \eta \lVert w\rVert$
            per step, so LARS learning rates are far larger than SGD's;
            excluded variables take it unscaled. Defaults to `1.0`.
        momentum: $\mu$ in `[0, 1)`. `0` at construction removes the
            momentum slot. Defaults to `0.9`.
        nesterov: Bool, fixed. Nesterov momentum. Defaults to `False`.
        trust_coefficient: $\eta > 0$. Defaults to `0.001`.
        weight_decay_rate: $\beta \ge 0$, the decay inside the trust ratio
            and the step. Defaults to `0.0`.
        epsilon: $\epsilon \ge 0$ in the ratio's denominator. Defaults to
            `0.0`.
        exclude_1d: Bool, fixed. Exempt rank <= 1 variables from the trust
            ratio and the decay. Defaults to `True`.

    References:
        - You, Gitman & Ginsburg, 2017. Large batch training of
          convolutional networks. https://arxiv.org/abs/1708.03888
    """

    default_learning_rate = 1.0
    batch_size_scaling = "linear"
    hyperparameters = {
        "momentum": fraction(0.9),
        "nesterov": Hyper(False),
        "trust_coefficient": Hyper(0.001, low=0.0, low_open=True),
        "weight_decay_rate": Hyper(0.0, low=0.0),
        "epsilon": Hyper(0.0, low=0.0),
        "exclude_1d": Hyper(True),
    }
    slots = (Slot("momentum", when="momentum"),)
    reference = "pytorch_optimizer.LARS 4.1.0, optax.lars 0.2.8"

    def variable_group(self, variable):
        """`"adapt"` (trust ratio and decay) or `"plain"` (momentum SGD)."""
        if self.exclude_1d and len(variable.shape) <= 1:
            return "plain"
        return "adapt"

    @staticmethod
    def update_rule(grad, param, slots, hp):
        if hp.group == "adapt":
            wd = hp.cast(hp.weight_decay_rate)
            w_norm = ops.sqrt(ops.sum(ops.square(param)))
            denominator = (
                ops.sqrt(ops.sum(ops.square(grad)))
                + wd * w_norm
                + hp.cast(hp.epsilon)
            )
            ratio = ops.where(
                ops.logical_and(w_norm > 0, denominator > 0),
                hp.cast(hp.trust_coefficient) * w_norm / denominator,
                1.0,
            )
            step = (hp.lr * ratio) * (grad + wd * param)
        else:
            step = hp.lr * grad
        if "momentum" not in slots:
            return param - step, {}
        mu = hp.cast(hp.momentum)
        v = mu * slots["momentum"] + step
        update = mu * v + step if hp.nesterov else v
        return param - update, {"momentum": v}
