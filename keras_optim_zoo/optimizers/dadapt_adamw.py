"""D-Adaptation AdamW: Adam whose step size is a running estimate of the
distance to the solution, `"zoo_dadapt_adamw"`.

Also holds `LearningRateFree`, the base of the learning-rate-free
optimizers (Prodigy's in `prodigy.py` too): the estimate `d` kept in
optimizer-level state, exposed as `optimizer.d` and
`optimizer.effective_learning_rate`, and the scalar helpers both share.
"""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla


def f64(x):
    """`x` (a Python number or a tensor) as a float64 tensor."""
    return ops.cast(x, xla.wide_dtype())


def estimate(stored, hp):
    """A stored estimate, or `d0` before the first step (stored as 0)."""
    return ops.where(stored > 0, stored, hp.cast(hp.d0))


def step_size(hp, d, steps):
    r"""$d\,\eta\,c_k$ in float64, with $c_k$ the optional bias correction.

    $c_k = \sqrt{1-\beta_2^k}/(1-\beta_1^k)$ for the `steps`-th step taken
    (`use_bias_correction`), else 1. The references compute these scalars
    in Python floats (double precision); so does this, in the widest
    float of the backend, with $1-\beta^k$ computed without cancellation
    (`StepContext.one_minus_power`: as `1 - power` in float32 it would be
    off by up to $6 \cdot 10^{-5}$ relative early on, where the backend has
    no float64).
    """
    size = f64(d) * f64(hp.lr)
    if hp.use_bias_correction:
        k = f64(steps)
        size = size * (
            ops.sqrt(f64(hp.one_minus_power("beta_2", k)))
            / f64(hp.one_minus_power("beta_1", k))
        )
    return size


def active(hp):
    """Whether this step moves anything (the references return early).

    Both skip the whole step, state included, when the learning rate is
    zero or the denominator sum $\\sum_i \\lVert s_i \\rVert_1$ is zero
    (all gradients so far zero), where `d` would be 0/0.
    """
    return ops.logical_and(hp.lr > 0, hp.s_l1 > 0)


def keep_unless(on, new, old):
    """`new` where the step is active, else `old` (in `old`'s dtype)."""
    return ops.where(on, ops.cast(new, old.dtype), old)


class LearningRateFree(ZooOptimizer):
    """Base of the optimizers that estimate their own step size `d`.

    A subclass keeps the estimate in the global state `"d"` (0 until the
    first step, read as `d0`) and declares `d0`. Its learning rate is a
    multiplier of `d` (default 1.0), and its weight decay is applied by
    the rule (scaled by $d\\eta$ as in the references, not by $\\eta$).
    """

    default_learning_rate = 1.0
    decoupled_weight_decay = False

    @property
    def d(self):
        """The current estimate $d$ (a float, read-only).

        The value the next step uses, as the references report it after a
        step (`optimizer.param_groups[0]["d"]`); `d0` before the first
        step. Logged by `callbacks.LearningRateLogger`.
        """
        stored = self._globals.get("d")
        value = 0.0 if stored is None else float(ops.convert_to_numpy(stored))
        return value if value > 0 else self._hyper_values["d0"]

    @property
    def effective_learning_rate(self):
        """`d * learning_rate` (a float, read-only): the next step's rate.

        With the current learning rate (a schedule's value at
        `iterations`), before the optional bias correction.
        """
        return self.d * float(ops.convert_to_numpy(self.learning_rate))


def growth_rate_hyper():
    """`growth_rate`: `None` (unbounded, the references' `inf`) or >= 1."""
    return Hyper(None, low=1.0, optional=True)


@register("zoo_dadapt_adamw")
class DAdaptAdamW(LearningRateFree):
    r"""D-Adaptation AdamW: Adam with the step size estimated on the fly.

    With $\lambda_k = d_k\,\eta_k\,c_k$ (the learning rate $\eta_k$ is a
    multiplier, default 1; $c_k = \sqrt{1-\beta_2^k}/(1-\beta_1^k)$ with
    `use_bias_correction`, else 1) and sums over every element of every
    variable:

    $$ r_k = \sqrt{\beta_2}\, r_{k-1} + (1-\sqrt{\beta_2})\, \lambda_k
       \Big\langle g_k, \frac{s_{k-1}}{\sqrt{v_{k-1}} + \epsilon}
       \Big\rangle $$
    $$ m_k = \beta_1 m_{k-1} + (1-\beta_1) \lambda_k g_k, \qquad
       v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2, \qquad
       s_k = \sqrt{\beta_2}\, s_{k-1} + (1-\sqrt{\beta_2}) \lambda_k g_k $$
    $$ \hat d_k = \frac{r_k}{(1-\sqrt{\beta_2})\lVert s_k\rVert_1},
       \qquad d_{k+1} = \max\big(d_k, \min(\hat d_k, \gamma d_k)\big) $$
    $$ \theta_k = \theta_{k-1} - \lambda_k \mu\, \theta_{k-1}
       - \frac{m_k}{\sqrt{v_k} + \epsilon} $$

    from $d_1 = d_0$, $r_0 = 0$, $s_0 = m_0 = v_0 = 0$, with $\gamma$ the
    `growth_rate` and $\mu$ the `weight_decay`. This is Defazio &
    Mishchenko's Adam form, as in their code:
    `dadaptation.DAdaptAdam` 3.2 with `decouple=True`, i.e. decoupled
    (AdamW) weight decay scaled by $\lambda_k$, not by $\eta_k$. The
    numerator uses the previous $s$ and $v$; the step uses $d_k$ (the
    new estimate $d_{k+1}$ is the next step's). A step whose learning rate
    is 0, or whose $\lVert s_k\rVert_1$ is 0 (all gradients so far zero),
    changes nothing and is not counted in $c_k$, as in the reference.

    The two sums are the base's reduction over all variables (`reduce`),
    $d$, $r$ and the step count are optimizer-level state, read by
    `optimizer.d` and `optimizer.effective_learning_rate` ($d\eta$) and
    logged by `callbacks.LearningRateLogger`. Precision: the reference
    takes each variable's sums in float32 (`torch.dot`, `abs().sum()`),
    adds them in Python floats and keeps $d$ and $r$ as doubles;
    `pytorch_optimizer.DAdaptAdam` (4.1.0) adds and keeps them in float32
    tensors. Here the per-variable sums are float32, added in float32,
    and the scalar recursions are computed in float64 and stored in the
    parameters' dtype. Measured on the test problem over 40 steps: within
    3.6e-7 of the weights' scale of `dadaptation`, and 1.6e-6 relative in
    $d$ (`dadaptation` in float32 is 1.2e-6 from itself in float64);
    `pytorch_optimizer.DAdaptAdam(weight_decouple=True)` is the same
    algorithm, 7.2e-7 from `dadaptation`.

    Not offered: `dadaptation`'s coupled L2 decay (`decouple=False`, its
    default: this is the AdamW form), `layer_scale`, `log_every` (use the
    logger callback) and `fsdp_in_use`.

    State: three full-size slots ($m$, $v$, $s$), 12 bytes per float32
    parameter, and four scalars.

    Args:
        learning_rate: Float, schedule or callable: a multiplier of the
            estimated step size ($\eta$). Defaults to `1.0`; leave it
            there unless training is unstable.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`; $\sqrt{\beta_2}$ also averages the
            estimate. Defaults to `0.999`.
        epsilon: $\epsilon > 0$, added to $\sqrt{v}$. Defaults to `1e-8`.
        d0: $d_0 > 0$, fixed: the initial estimate. Defaults to `1e-6`.
        growth_rate: $\gamma \ge 1$ or `None` (no bound): the largest
            factor by which $d$ may grow in one step (e.g. `1.02` acts as
            a warm-up). Defaults to `None`.
        use_bias_correction: Bool, fixed. Multiply the step by $c_k$.
            Defaults to `False`.
        weight_decay: $\mu \ge 0$ or `None`: decoupled decay
            $\theta \leftarrow \theta - \lambda_k \mu \theta$ before the
            step, for every variable not excluded by
            `exclude_from_weight_decay()`. Defaults to `None`.

    References:
        - Defazio & Mishchenko, 2023. Learning-rate-free learning by
          D-Adaptation. ICML. https://arxiv.org/abs/2301.07733
        - https://github.com/facebookresearch/dadaptation
    """

    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-8),
        "d0": Hyper(1e-6, low=0.0, low_open=True, changeable=False),
        "growth_rate": growth_rate_hyper(),
        "use_bias_correction": Hyper(False),
    }
    slots = ("momentum", "velocity", "s")
    global_state = {"d": 0.0, "d_used": 0.0, "numerator": 0.0, "k": 0.0}
    reference = "dadaptation.DAdaptAdam 3.2 (decouple=True)"

    @staticmethod
    def reduce(grad, param, slots, hp):
        d = estimate(hp.d, hp)
        size = step_size(hp, d, hp.k + 1)
        root = ops.sqrt(f64(hp.beta_2))
        denom = ops.sqrt(slots["velocity"]) + hp.cast(hp.epsilon)
        s = slots["s"] * hp.cast(root) + grad * hp.cast(
            size * f64(hp.one_minus_sqrt("beta_2"))
        )
        return {
            "s_dot": ops.sum(grad * (slots["s"] / denom)),
            "s_l1": ops.sum(ops.abs(s)),
        }

    @staticmethod
    def global_update(globals, hp):
        d = estimate(globals["d"], hp)
        k = globals["k"]
        size = step_size(hp, d, k + 1)
        root = ops.sqrt(f64(hp.beta_2))
        rest = f64(hp.one_minus_sqrt("beta_2"))
        numerator = root * f64(globals["numerator"]) + rest * (
            size * f64(hp.s_dot)
        )
        on = active(hp)
        d_hat = numerator / (rest * f64(ops.where(on, hp.s_l1, 1.0)))
        if hp.growth_rate is not None:
            d_hat = ops.minimum(d_hat, f64(d) * f64(hp.growth_rate))
        return {
            "d": keep_unless(on, ops.maximum(f64(d), d_hat), globals["d"]),
            "d_used": keep_unless(on, d, globals["d_used"]),
            "numerator": keep_unless(on, numerator, globals["numerator"]),
            "k": keep_unless(on, k + 1, k),
        }

    @staticmethod
    def update_rule(grad, param, slots, hp):
        size = step_size(hp, hp.d_used, hp.k)
        b1, b2 = f64(hp.beta_1), f64(hp.beta_2)
        root = ops.sqrt(b2)
        m = slots["momentum"] * hp.cast(b1) + grad * hp.cast(
            size * f64(hp.one_minus("beta_1"))
        )
        v = (
            slots["velocity"] * hp.cast(b2)
            + hp.cast(hp.one_minus("beta_2")) * grad * grad
        )
        s = slots["s"] * hp.cast(root) + grad * hp.cast(
            size * f64(hp.one_minus_sqrt("beta_2"))
        )
        new = param
        if hp.decays and hp.weight_decay is not None:
            new = new - new * hp.cast(f64(hp.weight_decay) * size)
        new = new - m / (ops.sqrt(v) + hp.cast(hp.epsilon))
        on = active(hp)
        return keep_unless(on, new, param), {
            "momentum": keep_unless(on, m, slots["momentum"]),
            "velocity": keep_unless(on, v, slots["velocity"]),
            "s": keep_unless(on, s, slots["s"]),
        }
