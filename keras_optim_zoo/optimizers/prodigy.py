"""Prodigy: Adam with a learning-rate-free step size, `"zoo_prodigy"`.

Its base, `LearningRateFree` (the estimate `d` as optimizer-level state,
`optimizer.d`, `optimizer.effective_learning_rate`), and the scalar
helpers are shared with D-Adaptation (`dadapt_adamw.py`).
"""

from keras import ops

from keras_optim_zoo.core import (
    PARAM,
    Hyper,
    Slot,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.optimizers.dadapt_adamw import (
    LearningRateFree,
    active,
    estimate,
    f64,
    growth_rate_hyper,
    keep_unless,
    step_size,
)

# The variable group of the variables that `weight_decay` decays under
# `decouple=False` (the L2 term enters the gradient, hence the estimate's
# sums too, so the reduction must know it per variable).
L2 = "l2"


def _beta_3(hp):
    """$\\beta_3$ in float64: `beta_3`, or $\\sqrt{\\beta_2}$ (`None`)."""
    if hp.beta_3 is None:
        return ops.sqrt(f64(hp.beta_2))
    return f64(hp.beta_3)


def _gradient(grad, param, hp):
    """The gradient, with the L2 term under `decouple=False`."""
    if hp.group != L2:
        return grad
    return grad + param * hp.cast(hp.weight_decay)


def _s_scale(hp, d, size):
    """The factor of $g$ in $s$: $(d/d_0)\\,\\lambda$ (or $(d/d_0)\\,d$)."""
    d0 = f64(hp.cast(hp.d0))
    d = f64(d)
    return (d / d0) * (d if hp.safeguard_warmup else size)


@register("zoo_prodigy")
class Prodigy(LearningRateFree):
    r"""Prodigy: Adam whose step size estimates the distance to the solution.

    With $\lambda_k = d_k\,\eta_k\,c_k$ (the learning rate $\eta_k$ is a
    multiplier, default 1; $c_k = \sqrt{1-\beta_2^k}/(1-\beta_1^k)$ with
    `use_bias_correction`, else 1), $\theta_0$ the initial weights and
    sums over every element of every variable:

    $$ r_k = \beta_3 r_{k-1} + \frac{d_k}{d_0} \lambda_k
       \langle g_k, \theta_0 - \theta_{k-1} \rangle, \qquad
       s_k = \beta_3 s_{k-1} + \frac{d_k}{d_0} \lambda_k g_k $$
    $$ m_k = \beta_1 m_{k-1} + (1-\beta_1) d_k g_k, \qquad
       v_k = \beta_2 v_{k-1} + (1-\beta_2) d_k^2 g_k^2 $$
    $$ \hat d_k = \kappa \frac{r_k}{\lVert s_k\rVert_1}, \qquad
       D_k = \max(D_{k-1}, \hat d_k), \qquad
       d_{k+1} = \min\big(D_k,\ \gamma\, d_k'\big) $$
    $$ \theta_k = \theta_{k-1} - \lambda_k \mu\, \theta_{k-1}
       - \lambda_k \frac{m_k}{\sqrt{v_k} + d_{k+1}\,\epsilon} $$

    from $d_1 = D_0 = d_0$, $r_0 = 0$, $s_0 = m_0 = v_0 = 0$, where
    $d_k' = \max(d_k, \hat d_k)$ while $d_k = d_0$ and $d_k$ after,
    $\kappa$ is `d_coef`, $\gamma$ the `growth_rate` and $\mu$ the
    `weight_decay`. With `safeguard_warmup`, $s_k$ uses $d_k$ in place of
    $\lambda_k$ (so a warm-up of $\eta$ does not shrink the denominator);
    with $\beta_1 = 0$ the step is $\lambda_k d_{k+1} g_k / (\sqrt{v_k} +
    d_{k+1}\epsilon)$. With `decouple=False` the decay is an L2 term
    $g_k \leftarrow g_k + \mu\theta_{k-1}$, which then enters the
    estimate too.

    This is the authors' code, `prodigyopt.Prodigy` 1.1.2 (the paper's Adam
    form), followed where it details the paper: the decoupled decay is
    scaled by $\lambda_k$ (not by $\eta_k$), the step uses $d_k$ and the
    $\epsilon$ term $d_{k+1}$, and a step whose learning rate is 0 or whose
    $\lVert s_k\rVert_1$ is 0 (all gradients so far zero) changes nothing
    and is not counted in $c_k$. How `pytorch_optimizer.Prodigy` (4.1.0)
    differs, measured against `prodigyopt` on the test problem over 40
    steps: it adds the L2 term after the moments and the estimate are
    computed, so `weight_decouple=False` has no effect at all (9.0 of the
    weights' scale apart with $\mu = 0.1$, `d_coef=3`); with $\beta_1 = 0$
    it steps with $d_k$ in place of $d_{k+1}$ (6.1e-3 apart); otherwise it
    is the same algorithm (7.6e-7).

    The two sums are the base's reduction over all variables (`reduce`);
    $d$, $D$, $r$ and the step count are optimizer-level state, read by
    `optimizer.d` and `optimizer.effective_learning_rate` ($d\eta$) and
    logged by `callbacks.LearningRateLogger`. Precision: `prodigyopt`
    takes each variable's sums in float32 (`torch.dot`, `abs().sum()`),
    adds them in Python floats and keeps $d$ and $r$ as doubles;
    `pytorch_optimizer` adds and keeps them in float32 tensors. Here the
    per-variable sums are float32, added in float32, and the scalar
    recursions are computed in float64 and stored in the parameters'
    dtype. Measured on the test problem over 40 steps: within 9.7e-7 of
    the weights' scale of `prodigyopt`, and 3.3e-5 relative in $d$. The
    estimate is sensitive to round-off: the terms of $r_k$ have both
    signs and add up to as much as 880 times $|r_k|$ there, so the
    summation order alone moves $d$ by that much (`prodigyopt` in float32
    is 6.9e-5 from itself in float64).

    Not offered: `slice_p` (statistics on every p-th element, an
    approximation) and `fsdp_in_use`. $\theta_0$ is kept in full also for
    a variable that starts at zero (`prodigyopt` then stores a scalar).

    State: four full-size slots ($m$, $v$, $s$, $\theta_0$), 16 bytes per
    float32 parameter (12 with $\beta_1 = 0$), and five scalars.

    Args:
        learning_rate: Float, schedule or callable: a multiplier of the
            estimated step size ($\eta$). Defaults to `1.0`; leave it
            there unless training is unstable.
        beta_1: $\beta_1$ in `[0, 1)`. `0` at construction removes the
            momentum slot (then fixed). Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        beta_3: $\beta_3$ in `[0, 1)` or `None` for $\sqrt{\beta_2}$
            (computed from the current $\beta_2$). Defaults to `None`.
        epsilon: $\epsilon > 0$, added as $d\epsilon$ to $\sqrt{v}$.
            Defaults to `1e-8`.
        d0: $d_0 > 0$, fixed: the initial estimate. Defaults to `1e-6`.
        d_coef: $\kappa > 0$, the factor of the estimate; the preferred
            knob (0.5 and 2 typically work too). Defaults to `1.0`.
        growth_rate: $\gamma \ge 1$ or `None` (no bound): the largest
            factor by which $d$ may grow in one step (e.g. `1.02` acts as
            a warm-up). Defaults to `None`.
        decouple: Bool, fixed. Decoupled (AdamW) weight decay; `False`
            adds $\mu\theta$ to the gradient. Defaults to `True`.
        use_bias_correction: Bool, fixed. Multiply the step by $c_k$.
            Defaults to `False`.
        safeguard_warmup: Bool, fixed. Leave $\eta$ out of $s$ (for a
            warm-up schedule). Defaults to `False`.
        weight_decay: $\mu \ge 0$ or `None`, in the form `decouple`
            chooses, for every variable not excluded by
            `exclude_from_weight_decay()`. Defaults to `None`.

    References:
        - Mishchenko & Defazio, 2024. Prodigy: an expeditiously adaptive
          parameter-free learner. ICML. https://arxiv.org/abs/2306.06101
        - https://github.com/konstmish/prodigy
    """

    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "beta_3": Hyper(None, low=0.0, high=1.0, high_open=True, optional=True),
        "epsilon": positive(1e-8),
        "d0": Hyper(1e-6, low=0.0, low_open=True, changeable=False),
        "d_coef": positive(1.0),
        "growth_rate": growth_rate_hyper(),
        "decouple": Hyper(True),
        "use_bias_correction": Hyper(False),
        "safeguard_warmup": Hyper(False),
    }
    slots = (
        Slot("momentum", when="beta_1"),
        "velocity",
        "s",
        Slot("p0", init=PARAM),
    )
    global_state = {
        "d": 0.0,
        "d_used": 0.0,
        "d_max": 0.0,
        "d_numerator": 0.0,
        "k": 0.0,
    }
    reference = "prodigyopt.Prodigy 1.1.2"

    def variable_group(self, variable):
        # The L2 term of `decouple=False` enters `reduce`, which sees the
        # group (static: `exclude_from_weight_decay` is set before build).
        values = self._hyper_values
        if values["decouple"] or values["weight_decay"] is None:
            return None
        return L2 if self._decays(variable) else None

    @staticmethod
    def reduce(grad, param, slots, hp):
        grad = _gradient(grad, param, hp)
        d = estimate(hp.d, hp)
        scale = _s_scale(hp, d, step_size(hp, d, hp.k + 1))
        s = slots["s"] * hp.cast(_beta_3(hp)) + grad * hp.cast(scale)
        return {
            "shift_dot": ops.sum(grad * (slots["p0"] - param)),
            "s_l1": ops.sum(ops.abs(s)),
        }

    @staticmethod
    def global_update(globals, hp):
        d = estimate(globals["d"], hp)
        d_max = estimate(globals["d_max"], hp)
        k = globals["k"]
        size = step_size(hp, d, k + 1)
        d0 = f64(hp.cast(hp.d0))
        numerator = _beta_3(hp) * f64(globals["d_numerator"]) + (
            (f64(d) / d0) * size * f64(hp.shift_dot)
        )
        on = active(hp)
        d_hat = f64(hp.d_coef) * numerator / f64(ops.where(on, hp.s_l1, 1.0))
        first = d == hp.cast(hp.d0)
        grown = ops.where(first, ops.maximum(f64(d), d_hat), f64(d))
        d_max_new = ops.maximum(f64(d_max), d_hat)
        if hp.growth_rate is None:
            d_new = d_max_new
        else:
            d_new = ops.minimum(d_max_new, grown * f64(hp.growth_rate))
        return {
            "d": keep_unless(on, d_new, globals["d"]),
            "d_used": keep_unless(on, d, globals["d_used"]),
            "d_max": keep_unless(on, d_max_new, globals["d_max"]),
            "d_numerator": keep_unless(on, numerator, globals["d_numerator"]),
            "k": keep_unless(on, k + 1, k),
        }

    @staticmethod
    def update_rule(grad, param, slots, hp):
        grad = _gradient(grad, param, hp)
        d, d_new = f64(hp.d_used), f64(hp.d)
        size = step_size(hp, hp.d_used, hp.k)
        b2 = f64(hp.beta_2)
        v = slots["velocity"] * hp.cast(b2) + (
            hp.cast(d * d * f64(hp.one_minus("beta_2"))) * grad * grad
        )
        s = slots["s"] * hp.cast(_beta_3(hp)) + grad * hp.cast(
            _s_scale(hp, hp.d_used, size)
        )
        denom = ops.sqrt(v) + hp.cast(d_new * f64(hp.epsilon))
        new = param
        if hp.decouple and hp.decays and hp.weight_decay is not None:
            new = new - new * hp.cast(f64(hp.weight_decay) * size)
        on = active(hp)
        out = {
            "velocity": keep_unless(on, v, slots["velocity"]),
            "s": keep_unless(on, s, slots["s"]),
        }
        if "momentum" in slots:
            b1 = f64(hp.beta_1)
            m = slots["momentum"] * hp.cast(b1) + grad * hp.cast(
                d * f64(hp.one_minus("beta_1"))
            )
            new = new - hp.cast(size) * m / denom
            out["momentum"] = keep_unless(on, m, slots["momentum"])
        else:
            new = new - hp.cast(size * d_new) * grad / denom
        return keep_unless(on, new, param), out
