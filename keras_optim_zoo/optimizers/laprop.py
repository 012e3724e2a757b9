"""LaProp: momentum of the RMSprop-normalized gradient, `"zoo_laprop"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    cautious_update,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla


@register("zoo_laprop")
class LaProp(ZooOptimizer):
    r"""LaProp: Adam with momentum and adaptivity separated.

    The gradient is normalized first, as in RMSprop, and the momentum
    averages the normalized gradients (Adam averages the gradients and
    normalizes the average), so $\beta_1$ and $\beta_2$ no longer
    constrain each other:

    $$ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
       b_t = \beta_2 b_{t-1} + (1-\beta_2) $$
    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1)\,\eta_t\,
       \frac{g_t}{\sqrt{s_t / b_t} + \epsilon}, \qquad
       a_t = \beta_1 a_{t-1} + (1-\beta_1)\,\eta_t $$
    $$ \theta_t = \theta_{t-1} - \frac{\eta_t}{a_t}\, m_t,
       \qquad\text{then}\qquad \theta_t \leftarrow \theta_t (1 - \lambda) $$

    with $s_t = v_t$; with `centered`, after the first
    `steps_before_using_centered` steps, $s_t = v_t - \mu_t^2$ where
    $\mu_t = \beta_2 \mu_{t-1} + (1-\beta_2) g_t$; with `amsgrad`, $s_t$
    is replaced by its running maximum (from when it is centered, if
    `centered`). The learning rate is inside the momentum and the
    momentum's bias correction $a_t/\eta_t$ is the running average of the
    learning rate (both are $1-\beta^t$ for a constant rate and betas), so
    that a momentum built with a large learning rate keeps its weight when
    the rate drops; $a_t$ and $b_t$ are shared scalars (global state).

    This is the authors' code (`Z-T-WANG/LaProp-Optimizer`, `laprop.py`,
    commit a419916), checked on stored trajectories, including
    `centered` (10 non-centered steps first, as theirs), `amsgrad`, their
    defaults (learning rate 4e-4, $\epsilon = 10^{-15}$), and their
    weight decay: $\theta \leftarrow \theta(1-\lambda)$ after the step,
    not scaled by the learning rate ("the learning rate and the weight
    decay are decoupled", their README: a schedule must decay both).
    `fixed_decay=False` scales it, $\theta \leftarrow
    \theta(1-\eta_t\lambda)$ after the step, which is
    `pytorch_optimizer.LaProp` 4.1.0's default (checked on a stored
    trajectory). So `weight_decay` here is not Keras's
    `param -= param * weight_decay * lr` before the step
    (`decoupled_weight_decay = False`; `exclude_from_weight_decay` works).
    Measured: at most 1.2e-7 relative to the weights' scale over 40
    steps, also with the learning rate and $\beta_1$ changed mid-run.
    Where `pytorch_optimizer.LaProp` 4.1.0 differs from the authors (it
    equals them to 4.3e-8 otherwise):

    - it adds $\epsilon$ to $\sqrt{s_t}$ before dividing by
      $\sqrt{b_t}$ (the authors after): the same with the default
      $\epsilon$, 5.2e-3 apart with $\epsilon = 10^{-3}$, $\beta_2 =
      0.95$;
    - with `centered` and `ams_bound` it takes the maximum during the
      non-centered first steps too (the authors start it with the
      centered moment): 1.1e-2 apart.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `4e-4` (the authors').
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-15`.
        centered: Bool, fixed. Use the centered second moment. Defaults to
            `False`.
        steps_before_using_centered: Int >= 0, fixed. With `centered`, the
            number of first steps normalized by the plain second moment.
            Defaults to `10`.
        amsgrad: Bool, fixed. Use the running maximum of $s_t$. Defaults
            to `False`.
        fixed_decay: Bool, fixed. Weight decay not scaled by the learning
            rate. Defaults to `True` (the authors').

    References:
        - Ziyin, Wang & Ueda, 2020. LaProp: separating momentum and
          adaptivity in Adam. arXiv:2002.04839.
    """

    elementwise = True
    default_learning_rate = 4e-4
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-15),
        "centered": Hyper(False),
        "steps_before_using_centered": Hyper(10, low=0),
        "amsgrad": Hyper(False),
        "fixed_decay": Hyper(True),
    }
    slots = (
        "momentum",
        "velocity",
        Slot("average_gradient", when="centered"),
        Slot("velocity_hat", when="amsgrad"),
    )
    # a_t, the running average of the learning rate, and b_t.
    global_state = {"average_lr": 0.0, "second_moment_weight": 0.0}
    reference = (
        "Z-T-WANG/LaProp-Optimizer laprop.LaProp @a419916 "
        "(fixed_decay=False: pytorch_optimizer.LaProp 4.1.0)"
    )
    decoupled_weight_decay = False
    supports_cautious = True

    @staticmethod
    def global_update(globals, hp):
        # In float64, as the authors' Python floats, stored in the
        # variables' dtype.
        lr = ops.cast(hp.lr, xla.wide_dtype())
        average = ops.cast(globals["average_lr"], xla.wide_dtype())
        weight = ops.cast(globals["second_moment_weight"], xla.wide_dtype())
        dtype = globals["average_lr"].dtype
        return {
            "average_lr": ops.cast(
                average * hp.beta_1 + hp.one_minus("beta_1") * lr, dtype
            ),
            "second_moment_weight": ops.cast(
                weight * hp.beta_2 + hp.one_minus("beta_2"), dtype
            ),
        }

    @staticmethod
    def update_rule(grad, param, slots, hp):
        b2 = hp.cast(hp.beta_2)
        v = slots["velocity"] * b2 + grad * grad * hp.cast(
            hp.one_minus("beta_2")
        )
        new = {"velocity": v}
        s = v
        late = None
        if hp.centered:
            mean = slots["average_gradient"] * b2 + grad * hp.cast(
                hp.one_minus("beta_2")
            )
            new["average_gradient"] = mean
            late = hp.step > hp.steps_before_using_centered
            s = ops.where(late, v - ops.square(mean), v)
        if hp.amsgrad:
            hat = ops.maximum(slots["velocity_hat"], s)
            if late is not None:
                hat = ops.where(late, hat, slots["velocity_hat"])
                s = ops.where(late, hat, s)
            else:
                s = hat
            new["velocity_hat"] = hat
        denom = ops.sqrt(s / hp.second_moment_weight) + hp.cast(hp.epsilon)
        rate = hp.cast(
            ops.cast(hp.lr, xla.wide_dtype()) * hp.one_minus("beta_1")
        )
        m = slots["momentum"] * hp.cast(hp.beta_1) + rate * (grad / denom)
        new["momentum"] = m
        # The authors' step size lr / a_t, and 1 at a zero learning rate.
        zero = hp.lr == 0
        average = ops.where(zero, ops.ones_like(hp.lr), hp.average_lr)
        step_size = ops.where(zero, ops.ones_like(hp.lr), hp.lr / average)
        update = step_size * m
        if hp.cautious:
            update = cautious_update(update, grad)
        param = param - update
        if hp.decays and hp.weight_decay is not None:
            # Each reference's arithmetic: the authors' `p - wd * p`,
            # pytorch-optimizer's `p * (1 - lr * wd)`.
            if hp.fixed_decay:
                param = param - hp.cast(hp.weight_decay) * param
            else:
                lr = ops.cast(hp.lr, xla.wide_dtype())
                param = param * hp.cast(1.0 - lr * hp.weight_decay)
        return param, new
