"""MADGRAD: momentumized, adaptive, dual averaged gradient, `"zoo_madgrad"`."""

from keras import ops

from keras_optim_zoo.core import PARAM, Hyper, Slot, ZooOptimizer, register
from keras_optim_zoo.core import compile as xla


@register("zoo_madgrad")
class MADGRAD(ZooOptimizer):
    r"""MADGRAD: dual averaging with a cube-root adaptive scale and momentum.

    With $k = t - 1$ the number of steps taken, $\eta' = \eta_t + \epsilon$
    (or 0 when $\eta_t = 0$) and $\lambda_k = \eta' \sqrt{k + 1}$:

    $$ \nu_t = \nu_{t-1} + \lambda_k g_t^2, \qquad
       s_t = s_{t-1} + \lambda_k g_t $$
    $$ z_t = x_0 - \frac{s_t}{\sqrt[3]{\nu_t} + \epsilon}, \qquad
       \theta_t = \beta\, \theta_{t-1} + (1-\beta)\, z_t $$

    with $\beta$ the `momentum`: the iterate is a moving average of the
    dual-averaging point $z_t$ (momentum by averaging, $c_k = 1-\beta$ in
    the paper). The weights $\lambda_k$ grow as $\sqrt{k+1}$; the cube root
    (not Adam's square root) keeps the step size stable under them. With
    $\beta = 0$ there is no $x_0$ slot: $x_0 = \theta_{t-1} +
    s_{t-1}/(\sqrt[3]{\nu_{t-1}} + \epsilon)$ is recovered from the other
    state (and `momentum` is then fixed at 0). With $\epsilon = 0$, where
    $\nu_t = 0$ the step divides by infinity (no move), as the authors do.

    Weight decay is MADGRAD's own, not Keras's (`decoupled_weight_decay =
    False`): by default `weight_decay` $= w$ is an L2 penalty added to the
    gradient, $g_t \leftarrow g_t + w\,\theta_{t-1}$, and with
    `decouple_decay=True` (the authors call it experimental) it is applied
    after the step, $\theta_t \leftarrow \theta_t - \eta' w\,
    \theta_{t-1}$. Both spare what `exclude_from_weight_decay` names. (A
    decay applied before the step, Keras's form, would shift $x_0$ with
    $\beta = 0$ and be damped by $\beta$ otherwise: another algorithm.)
    The authors recommend little or no weight decay with MADGRAD.

    Matches the authors' `madgrad.MADGRAD` 1.3 (facebookresearch/madgrad)
    step for step, checked on stored trajectories with its defaults,
    another momentum and $\epsilon$, no momentum, $\epsilon = 0$, and both
    decays. One deliberate difference: with `momentum=0` and
    `epsilon=0` the authors' code returns NaN from the first step (its
    recovered $x_0 = \theta + s/(\sqrt[3]{\nu} + \epsilon)$ divides
    $0/0$); here $s/\sqrt[3]{\nu}$ is 0 where $\nu = 0$ there too (the
    division by infinity above), and the steps are finite.
    `pytorch_optimizer.MADGRAD` 4.1.0 computes the same as the authors'
    (at most 3.8e-7 on the stored cases, float32 round-off: it
    interpolates with `lerp`; its default learning rate is 1e-3). The
    gradient of an `Embedding` is densified; the authors' sparse path
    (only without momentum and decay) gives the same numbers there.

    State: $\nu$, $s$ and $x_0$, 12 bytes per float32 parameter (8 with
    `momentum=0`).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.01` (the authors'; not comparable to Adam's or SGD's: sweep
            it).
        momentum: $\beta$ in `[0, 1)`. Defaults to `0.9`.
        epsilon: $\epsilon \ge 0$, added to the cube root and to the
            learning rate. Defaults to `1e-6`.
        weight_decay: Float >= 0 or `None`: MADGRAD's decay (above), not
            Keras's. Defaults to `None` (the authors' 0).
        decouple_decay: Bool, fixed. Apply `weight_decay` after the step,
            decoupled from the gradient. Defaults to `False`.

    References:
        - Defazio & Jelassi, 2021. Adaptivity without compromise: a
          momentumized, adaptive, dual averaged gradient method for
          stochastic optimization. https://arxiv.org/abs/2101.11075
        - https://github.com/facebookresearch/madgrad
    """

    elementwise = True
    default_learning_rate = 0.01
    hyperparameters = {
        "momentum": Hyper(0.9, low=0.0, high=1.0, high_open=True),
        "epsilon": Hyper(1e-6, low=0.0),
        "decouple_decay": Hyper(False),
    }
    slots = (
        "grad_sum_sq",
        "grad_sum",
        Slot("initial_value", init=PARAM, when="momentum"),
    )
    reference = "madgrad.MADGRAD 1.3 (pytorch_optimizer.MADGRAD 4.1.0)"
    decoupled_weight_decay = False

    @staticmethod
    def update_rule(grad, param, slots, hp):
        eps = hp.cast(hp.epsilon)
        decay = hp.decays and hp.weight_decay is not None
        if decay and not hp.decouple_decay:
            grad = grad + param * hp.cast(hp.weight_decay)
        lr = ops.cast(hp.lr, xla.wide_dtype())
        lr = ops.where(lr != 0.0, lr + hp.epsilon, lr)
        lamb = hp.cast(lr * ops.sqrt(ops.cast(hp.step, xla.wide_dtype())))
        nu, s = slots["grad_sum_sq"], slots["grad_sum"]

        def rms_of(nu):
            rms = ops.power(nu, 1.0 / 3.0) + eps
            # epsilon = 0: no step where nothing has been accumulated.
            return ops.where(rms == 0.0, ops.full_like(rms, float("inf")), rms)

        recovered = param + s / rms_of(nu)
        if "initial_value" in slots:
            x0 = ops.where(
                hp.cast(hp.momentum) == 0.0, recovered, slots["initial_value"]
            )
        else:
            x0 = recovered
        nu = nu + lamb * ops.square(grad)
        s = s + lamb * grad
        z = x0 - s / rms_of(nu)
        if "initial_value" in slots:
            beta = hp.cast(hp.momentum)
            new_param = param * beta + z * hp.cast(hp.one_minus("momentum"))
        else:
            new_param = z
        if decay and hp.decouple_decay:
            new_param = new_param - param * (hp.cast(lr * hp.weight_decay))
        return new_param, {"grad_sum_sq": nu, "grad_sum": s}
