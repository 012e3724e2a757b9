"""Schedule-free AdamW and SGD (Defazio et al., 2024).

Registered as `"zoo_schedule_free_adamw"` and `"zoo_schedule_free_sgd"`,
checked against the authors' `schedulefree.AdamWScheduleFree` and
`SGDScheduleFree` (Keras's `ScheduleFreeAdamW` computes another algorithm
on TensorFlow: see `ScheduleFreeAdamW`). Both train at the interpolated
point $y$ (what the model's variables hold), keep the base sequence $z$ as
a slot, and evaluate at the average $x$, recovered from $y$ and $z$ by
`evaluation_rule`: use `swap_evaluation_weights()` /
`restore_training_weights()` or the `zoo_swap_evaluation_weights`
callback around evaluation and checkpointing.

The averaging weights are global state: `lr_max`, the largest (warmed-up)
learning rate so far, and `average_count`, the weight sum divided by the
current weight, $S_t / w_t$. Keeping this ratio instead of $S_t$ itself
(as the authors' code does, in double precision) makes the float32 state
exact in the default case: it is then the step count, and $c_t = 1/t$.
"""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core.hyper import PARAM

_AVERAGE_STATE = {"lr_max": 0.0, "average_count": 0.0}


def _open_fraction(default):
    # beta_1 / momentum divide in the evaluation point: 0 is not allowed.
    return Hyper(default, low=0.0, high=1.0, low_open=True, high_open=True)


def _warmed_up(hp):
    """The learning rate after the linear warmup, as Keras computes it."""
    lr = hp.lr
    if hp.warmup_steps > 0:
        warmup = ops.cast(hp.warmup_steps, hp.dtype)
        lr = lr * ops.minimum(hp.step / warmup, 1.0)
    return lr


def _average_update(globals, hp):
    r"""The averaging weight's state after step $t$.

    The weight of step $t$ is $w_t = t^r\, \bar\eta_t^{p}$ with $\bar\eta_t$
    the largest warmed-up learning rate so far; $c_t = w_t / S_t$ with
    $S_t = \sum_{i \le t} w_i$. We keep $q_t = S_t / w_t$, updated as
    $q_t = 1 + q_{t-1}\, w_{t-1} / w_t$, and $q_t = 0$ while every weight so
    far is zero (a zero learning rate with $p > 0$: then $c_t = 0$, as the
    authors' code does when the sum is zero).
    """
    lr_old = globals["lr_max"]
    lr_max = ops.maximum(lr_old, _warmed_up(hp))
    r, p = hp.cast(hp.r), hp.cast(hp.weight_lr_power)
    positive_lr = lr_max > 0
    ratio = ops.power((hp.step - 1) / hp.step, r) * ops.power(
        lr_old / ops.where(positive_lr, lr_max, 1.0), p
    )
    count = 1 + globals["average_count"] * ratio
    zero = ops.logical_and(ops.logical_not(positive_lr), p > 0)
    return {
        "lr_max": lr_max,
        "average_count": ops.where(zero, ops.zeros_like(count), count),
    }


def _average_weight(hp):
    """$c_t = w_t / S_t$ of this step (0 while every weight is zero)."""
    q = hp.average_count
    return ops.where(q > 0, 1 / ops.where(q > 0, q, 1.0), ops.zeros_like(q))


_WEIGHTING_HYPERPARAMETERS = {
    "warmup_steps": Hyper(0, low=0),
    "r": Hyper(0.0, low=0.0),
}


def _adamw_rule(grad, param, slots, hp, keras_tf_order=False):
    # Keras casts beta_1 and beta_2 to the variable's dtype first and
    # computes 1 - beta there; so do we. `keras_tf_order` reproduces what
    # Keras's ScheduleFreeAdamW computes on the TensorFlow backend (x_old
    # from the new z; see the class docstring), for the tests only.
    lr = _warmed_up(hp)
    b1, b2 = hp.cast(hp.beta_1), hp.cast(hp.beta_2)
    z_old, v = slots["momentum"], slots["velocity"]
    correction = 1 - ops.power(b2, hp.step)
    v = v + (ops.square(grad) - v) * (1 - b2)
    denom = ops.sqrt(v / correction) + hp.cast(hp.epsilon)
    z = z_old - (lr * grad) / denom
    c = _average_weight(hp)
    x_old = (param - (1 - b1) * (z if keras_tf_order else z_old)) / b1
    x = (1 - c) * x_old + c * z
    y = (1 - b1) * z + b1 * x
    return y, {"momentum": z, "velocity": v}


@register("zoo_schedule_free_adamw")
class ScheduleFreeAdamW(ZooOptimizer):
    r"""Schedule-free AdamW: Adam steps on $z$, averaged into $x$.

    With $\eta_t$ the learning rate after the linear warmup
    ($\eta_t = \eta \min(t / T_w, 1)$ when `warmup_steps` $= T_w > 0$),
    $y_{t-1}$ the model's variables and $z_{t-1}$ the `momentum` slot:

    $$ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
       z_t = z_{t-1} - \frac{\eta_t\, g_t}
       {\sqrt{v_t / (1-\beta_2^t)} + \epsilon} $$
    $$ x_{t-1} = \frac{y_{t-1} - (1-\beta_1) z_{t-1}}{\beta_1}, \qquad
       x_t = (1-c_t)\, x_{t-1} + c_t z_t, \qquad
       y_t = (1-\beta_1) z_t + \beta_1 x_t $$

    where $g_t$ is the gradient at $y_{t-1}$, $c_t = w_t / \sum_{i \le t}
    w_i$ with $w_t = t^r\, \bar\eta_t^{\,p}$, $\bar\eta_t$ the largest
    warmed-up learning rate so far and $p$ = `weight_lr_power` (with a
    constant learning rate and $r = 0$, $c_t = 1/t$). $z_0 = y_0$, and the
    evaluation point is $x_t$ (`evaluation_rule`). `weight_decay` is
    Keras's: $y \leftarrow y - \lambda \eta y$ before the step (on $y$
    only; $z$ is not decayed), without the warmup factor.

    Matches the authors' `schedulefree.AdamWScheduleFree` (1.4.1) step for
    step with its defaults (the same second moment with bias correction,
    $\epsilon$ outside the root, warmup and $w_t$; the authors update $y$
    in place without forming $x$), except weight decay: the authors add
    $\lambda y_{t-1}$ to the normalized step, so that it also reaches $z$
    and $x$; we apply Keras's decay of $y$ described above.

    Arguments, defaults and slot names (`momentum` = $z$, `velocity`) are
    those of `keras.optimizers.ScheduleFreeAdamW`, plus the authors' `r`
    and `weight_lr_power`. Keras (3.15) differs in two ways, measured in
    `tests/test_schedule_free.py`:

    - It uses $c_t = 1/t$ (our `weight_lr_power=0`): the same numbers as
      the authors' $p = 2$ while the learning rate is constant; 2.8e-2
      relative apart after 30 steps with `warmup_steps=10`, lr 0.05.
    - On the TensorFlow and torch backends it does not compute this
      algorithm: it reads the `momentum` variable for $x_{t-1}$ after
      having assigned $z_t$ to it (`Variable.value` is the live variable
      there; a snapshot only on JAX). So its $x_{t-1}$ uses $z_t$, and its
      weights become $y_t = (1-c_t) y_{t-1} + c_t z_t$, the running
      average of the $z$'s: gradients are taken at the average, without
      the interpolation. That is 3.2e-3 relative from the authors' after
      30 steps at lr 0.01 (3.9e-2 at lr 0.05 with warmup); the test checks
      that this reading reproduces Keras bit for bit.

    This class is therefore not a twin of Keras's.

    Args:
        learning_rate: Float, schedule or callable ($\eta$). Defaults to
            `0.0025`.
        beta_1: $\beta_1$ in `(0, 1)`: the interpolation between $z$ and
            $x$. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-8`.
        warmup_steps: Int >= 0, fixed. Linear warmup of the learning rate
            over this many steps. Defaults to `0`.
        r: Float >= 0. Polynomial weighting $t^r$ of the average.
            Defaults to `0.0`.
        weight_lr_power: Float >= 0. Weigh each step by the largest
            learning rate so far to this power. Defaults to `2.0` (the
            authors'; `0.0` is Keras's uniform $1/t$).

    References:
        - Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, 2024. The
          road less scheduled. NeurIPS. https://arxiv.org/abs/2405.15682
        - https://github.com/facebookresearch/schedule_free
    """

    elementwise = True
    default_learning_rate = 0.0025
    hyperparameters = {
        "beta_1": _open_fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-8),
        **_WEIGHTING_HYPERPARAMETERS,
        "weight_lr_power": Hyper(2.0, low=0.0),
    }
    slots = (Slot("momentum", init=PARAM), "velocity")
    global_state = dict(_AVERAGE_STATE)
    reference = "schedulefree.AdamWScheduleFree 1.4.1"
    global_update = staticmethod(_average_update)
    update_rule = staticmethod(_adamw_rule)

    @staticmethod
    def evaluation_rule(param, slots, hp):
        b1 = hp.cast(hp.beta_1)
        return (param - (1 - b1) * slots["momentum"]) / b1


def _lerp(start, end, weight):
    """`start + weight * (end - start)`, in torch's two-sided form."""
    diff = end - start
    return ops.where(
        ops.abs(weight) < 0.5,
        start + weight * diff,
        end - diff * (1 - weight),
    )


@register("zoo_schedule_free_sgd")
class ScheduleFreeSGD(ZooOptimizer):
    r"""Schedule-free SGD: SGD steps on $z$, averaged into $x$.

    With $\eta_t$ the learning rate after the linear warmup
    ($\eta_t = \eta \min(t / T_w, 1)$ when `warmup_steps` $= T_w > 0$),
    $y_{t-1}$ the model's variables, $z_{t-1}$ the `z` slot, $g_t$ the
    gradient at $y_{t-1}$ plus `l2_penalty` $\times\, y_{t-1}$:

    $$ z_t = z_{t-1} - \eta_t g_t, \qquad
       x_t = (1-c_t)\, x_{t-1} + c_t z_t, \qquad
       y_t = (1-\beta) z_t + \beta x_t $$

    computed, as the authors do, without forming $x$:
    $y_t = (1-c_t) y_{t-1} + c_t z_{t-1} - \eta_t (1 - \beta(1-c_t)) g_t$.
    The averaging weight is $c_t = w_t / \sum_{i \le t} w_i$ with
    $w_t = t^r\, \bar\eta_t^{\,p}$, $\bar\eta_t$ the largest warmed-up
    learning rate so far and $p$ = `weight_lr_power` (so with a constant
    learning rate and $r = 0$, $c_t = 1/t$: $x$ is the plain average of the
    $z$'s). $z_0 = y_0$, and the evaluation point is
    $x_t = y_t + (1 - 1/\beta)(z_t - y_t)$ (`evaluation_rule`), what the
    authors' `optimizer.eval()` writes into the parameters.

    Matches the authors' `schedulefree.SGDScheduleFree` (1.4.1) step for
    step, with its defaults; their `weight_decay` is our `l2_penalty`.
    The common `weight_decay` is Keras's decoupled decay of $y$ before the
    step ($y \leftarrow y - \lambda\eta y$, as in Keras's
    `ScheduleFreeAdamW`), which the authors' code does not have.
    Differences: the authors compute $c_t$ and the warmup factor in double
    precision (we keep the weight sum relative to the current weight in
    float32, exact for the defaults); a learning-rate schedule given to
    this optimizer enters $\bar\eta_t$ like the authors' `group["lr"]`
    changes do. The authors' `train()` after `eval()` recomputes $y$ from
    $x$ (round-off); `restore_training_weights()` puts back the exact $y$.

    Args:
        learning_rate: Float, schedule or callable ($\eta$). Defaults to
            `1.0`, the authors' default (schedule-free SGD takes steps
            10-50 times larger than SGD with momentum).
        momentum: $\beta$ in `(0, 1)`: the interpolation between $z$ and
            $x$. Defaults to `0.9`.
        warmup_steps: Int >= 0, fixed. Linear warmup of the learning rate
            over this many steps. Defaults to `0`.
        r: Float >= 0. Polynomial weighting $t^r$ of the average.
            Defaults to `0.0`.
        weight_lr_power: Float >= 0. Weigh each step by the largest
            learning rate so far to this power. Defaults to `2.0`.
        l2_penalty: Float >= 0. Adds `l2_penalty * y` to the gradient (the
            authors' `weight_decay`: it reaches $z$, $x$ and $y$).
            Defaults to `0.0`.

    References:
        - Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, 2024. The
          road less scheduled. NeurIPS. https://arxiv.org/abs/2405.15682
        - https://github.com/facebookresearch/schedule_free
    """

    elementwise = True
    default_learning_rate = 1.0
    batch_size_scaling = "linear"
    hyperparameters = {
        "momentum": _open_fraction(0.9),
        **_WEIGHTING_HYPERPARAMETERS,
        "weight_lr_power": Hyper(2.0, low=0.0),
        "l2_penalty": Hyper(0.0, low=0.0),
    }
    slots = (Slot("z", init=PARAM),)
    global_state = dict(_AVERAGE_STATE)
    reference = "schedulefree.SGDScheduleFree 1.4.1"
    global_update = staticmethod(_average_update)

    @staticmethod
    def update_rule(grad, param, slots, hp):
        lr = _warmed_up(hp)
        beta = hp.cast(hp.momentum)
        z = slots["z"]
        grad = grad + hp.cast(hp.l2_penalty) * param
        c = _average_weight(hp)
        y = _lerp(param, z, c) + (lr * (beta * (1 - c) - 1)) * grad
        return y, {"z": z - lr * grad}

    @staticmethod
    def evaluation_rule(param, slots, hp):
        return _lerp(param, slots["z"], hp.cast(1 - 1 / hp.momentum))
