"""AdEMAMix and its simplified form: `"zoo_ademamix"`,
`"zoo_simplified_ademamix"`.

Both mix a slow, long-memory momentum into an Adam step. AdEMAMix keeps it
next to Adam's fast momentum; the simplified form (Morwani et al.) keeps a
single momentum summed without the $1-\beta_1$ factor, plus a multiple of
the current gradient. Their warm-up schedules (of $\alpha$ and $\beta_3$,
or of $\beta_1$) interpolate the half-life of the momentum linearly:
`half_life_warmup`.
"""

import math

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla

# The authors' `f(beta, eps=1e-8)`: the epsilon inside the logarithm keeps
# beta = 0 finite; it is part of the published scheduler (see the class
# docstring for what it changes).
_HALF_LIFE_EPS = 1e-8


def half_life_warmup(step, start, end, warmup):
    r"""The authors' linear warm-up of a decay rate in half-life space.

    With $f(\beta) = \ln\tfrac12 / \ln(\beta + 10^{-8}) - 1$ (the half-life
    of an EMA with decay $\beta$, minus one) and $a = t / T$:

    $$ \beta(t) = \begin{cases}
       f^{-1}\big((1-a) f(\beta_\mathrm{start}) + a f(\beta_\mathrm{end})\big)
       & t < T \\ \beta_\mathrm{end} & t \ge T \end{cases}, \qquad
       f^{-1}(x) = \left(\tfrac12\right)^{1/(x+1)} $$

    `step` is the 1-based step number, `start` and `end` float64 scalars
    (tensors or Python floats), `warmup` the Python int $T$. Computed in
    float64, as the authors do in Python.
    """
    step = ops.cast(step, xla.wide_dtype())
    a = step / float(warmup)
    start = ops.cast(start, xla.wide_dtype())
    end = ops.cast(end, xla.wide_dtype())

    def f(beta):
        return math.log(0.5) / ops.log(beta + _HALF_LIFE_EPS) - 1.0

    ramp = ops.power(0.5, 1.0 / ((1.0 - a) * f(start) + a * f(end) + 1.0))
    return ops.where(step < float(warmup), ramp, end)


def _bias_corrections(hp):
    step = ops.cast(hp.step, xla.wide_dtype())
    return 1.0 - ops.power(hp.beta_1, step), 1.0 - ops.power(hp.beta_2, step)


@register("zoo_ademamix")
class AdEMAMix(ZooOptimizer):
    r"""AdEMAMix: Adam with a mixture of a fast and a slow momentum.

    $$ m^{(1)}_t = \beta_1 m^{(1)}_{t-1} + (1-\beta_1) g_t, \qquad
       m^{(2)}_t = \beta_3(t)\, m^{(2)}_{t-1} + (1-\beta_3(t))\, g_t $$
    $$ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
       \theta_t = \theta_{t-1} - \eta_t \left(
       \frac{m^{(1)}_t / (1-\beta_1^t) + \alpha(t)\, m^{(2)}_t}
       {\sqrt{v_t / (1-\beta_2^t)} + \epsilon} + \lambda \theta_{t-1}
       \right) $$

    The slow momentum $m^{(2)}$ (not bias-corrected) remembers gradients
    for about $1/(1-\beta_3)$ steps (10,000 by default) and is added with
    weight $\alpha$. Large $\alpha$ and $\beta_3$ destabilise the first
    steps; the paper warms both up over $T_{\alpha,\beta_3}$ steps, with
    `alpha_warmup` and `beta3_warmup` (the paper sets both to the length
    of training):

    $$ \alpha(t) = \min(t/T_\alpha, 1)\, \alpha, \qquad
       \beta_3(t) = \texttt{half\_life\_warmup}(t, \beta_1, \beta_3,
       T_{\beta_3}) $$

    ($\beta_3$ grows from $\beta_1$ so that the half-life
    $\ln\frac12/\ln\beta_3$ grows linearly; see `half_life_warmup`). $t$ is
    the 1-based step, and without a warm-up $\alpha(t) = \alpha$,
    $\beta_3(t) = \beta_3$.

    Matches the authors' PyTorch code (apple/ml-ademamix,
    `pytorch/ademamix.py`, commit c3d73c0) step for step, checked on stored
    trajectories, with and without the warm-ups, with $\beta_1 = 0$ and
    with weight decay. Its weight decay, $\lambda\theta_{t-1}$ added to the
    normalised step and scaled by $\eta_t$, is Keras's decoupled
    `weight_decay` ($\theta \leftarrow \theta - \eta_t \lambda \theta$
    before the step): the same numbers. With $\beta_1 = 0$ there is no fast
    momentum slot ($m^{(1)}_t = g_t$, as the authors' code saves that
    memory), and `beta_1` is then fixed at 0. Where other implementations
    differ (measured on the stored problem, 40 steps, relative to the
    weights' scale):

    - The authors' own optax version (`optax/ademamix.py`, same commit)
      evaluates the schedulers at the 0-based count ($\alpha(t-1)$,
      $\beta_3(t-1)$: its first step has $\alpha = 0$ and $\beta_3 =
      \beta_1$) and has no $10^{-8}$ in $f$; its default $\alpha$ is 5.
      With warm-ups (over 10 to 30 steps) it is 1.2e-1 to 1.5e-1 from the
      PyTorch code (8.5e-1 with $\beta_1 = 0$, where its first $\beta_3$
      is 0, so the slow momentum starts as the whole gradient); without
      warm-ups 5.0e-7 (float32 round-off).
    - `pytorch_optimizer.AdEMAMix` 4.1.0 writes the same schedule in closed
      form, $\beta_3(t) = \exp\big(\ln\beta_1 \ln\beta_3 / ((1-a)\ln\beta_3
      + a \ln\beta_1)\big)$, without the $10^{-8}$, and has one warm-up
      length for both: 9.2e-7 from the authors' code with warm-ups over 20
      steps ($\beta_3 = 0.999$; 4.1e-7 with 0.9999), 4.3e-8 without. Its
      default weight decay is an L2 term in the gradient
      (`weight_decouple=False`); compared with `weight_decouple=True`, the
      authors' form. Its `cautious` masks the fast momentum only; here
      (the base's `cautious`) the whole step is masked, the paper's form:
      2.1e-4 apart after 30 steps at lr 0.01.

    State: three full-size slots (two with $\beta_1 = 0$), 12 bytes per
    float32 parameter.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`, the fast momentum (0: none). Defaults
            to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        beta_3: $\beta_3$ in `[0, 1)`, the slow momentum (its value after
            `beta3_warmup`). Defaults to `0.9999`.
        alpha: $\alpha \ge 0$, the weight of the slow momentum (its value
            after `alpha_warmup`). Defaults to `2.0` (the authors' PyTorch
            default; their optax code and the paper's experiments use 5 to
            8, with warm-ups).
        epsilon: $\epsilon > 0$. Defaults to `1e-8`.
        alpha_warmup: Int >= 1 or `None`, fixed: $T_\alpha$, the steps over
            which $\alpha$ grows linearly from 0. Defaults to `None` (no
            warm-up).
        beta3_warmup: Int >= 1 or `None`, fixed: $T_{\beta_3}$, the steps
            over which $\beta_3$ grows from $\beta_1$. Defaults to `None`.

    References:
        - Pagliardini, Ablin & Grangier, 2024. The AdEMAMix optimizer:
          better, faster, older. https://arxiv.org/abs/2409.03137
        - https://github.com/apple/ml-ademamix
    """

    elementwise = True
    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "beta_3": fraction(0.9999),
        "alpha": Hyper(2.0, low=0.0),
        "epsilon": positive(1e-8),
        "alpha_warmup": Hyper(None, low=1, kind="int", optional=True),
        "beta3_warmup": Hyper(None, low=1, kind="int", optional=True),
    }
    slots = (
        Slot("momentum_fast", when="beta_1"),
        "momentum_slow",
        "velocity",
    )
    reference = (
        "apple/ml-ademamix pytorch/ademamix.py c3d73c0 "
        "(pytorch_optimizer.AdEMAMix 4.1.0; the authors' optax version)"
    )
    supports_cautious = True

    @staticmethod
    def update_rule(grad, param, slots, hp):
        step = ops.cast(hp.step, xla.wide_dtype())
        alpha = hp.alpha
        if hp.alpha_warmup is not None:
            warmup = float(hp.alpha_warmup)
            alpha = ops.where(step < warmup, step / warmup * alpha, alpha)
        beta_3 = hp.beta_3
        if hp.beta3_warmup is not None:
            beta_3 = half_life_warmup(step, hp.beta_1, beta_3, hp.beta3_warmup)
        bc1, bc2 = _bias_corrections(hp)
        new = {}
        if "momentum_fast" in slots:
            fast = slots["momentum_fast"] * hp.cast(hp.beta_1) + grad * hp.cast(
                hp.one_minus("beta_1")
            )
            new["momentum_fast"] = fast
        else:
            fast = grad
        slow = slots["momentum_slow"] * hp.cast(beta_3) + grad * hp.cast(
            1 - beta_3
        )
        v = slots["velocity"] * hp.cast(hp.beta_2) + hp.cast(
            hp.one_minus("beta_2")
        ) * ops.square(grad)
        denom = ops.sqrt(v) / hp.cast(ops.sqrt(bc2)) + hp.cast(hp.epsilon)
        update = (fast / hp.cast(bc1) + hp.cast(alpha) * slow) / denom
        new.update({"momentum_slow": slow, "velocity": v})
        return param - hp.lr * update, new


def _scalar():
    # One float64 number per variable, as the authors' per-parameter Python
    # floats.
    return lambda shape: ()


@register("zoo_simplified_ademamix")
class SimplifiedAdEMAMix(ZooOptimizer):
    r"""Simplified AdEMAMix: one un-normalised momentum plus the gradient.

    $$ m_t = \beta_1(t)\, m_{t-1} + g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 $$
    $$ n_t = \beta_1(t)\, n_{t-1} + 1, \qquad
       d_t = \beta_2 d_{t-1} + (1-\beta_2) $$
    $$ \theta_t = \theta_{t-1} - \eta_t \left(
       \frac{\alpha g_t + m_t}{\sqrt{v_t} + \epsilon \sqrt{d_t}}
       \cdot \frac{\sqrt{d_t}^{\,[b_2]}}{n_t^{\,[b_1]}}
       + \lambda\theta_{t-1} \right) $$

    The momentum is kept "theory style", a sum of past gradients without
    the $1-\beta_1$ factor, so it is about $1/(1-\beta_1)$ times Adam's (100
    times with the default $\beta_1 = 0.99$): the learning rate is smaller
    to match (the authors suggest $\eta_\mathrm{Adam}\sqrt{(1-\beta_{1,\min})
    (1-\beta_1)}$). $[b_1]$ and $[b_2]$: the factors apply with
    `bias_correction1` (off by default: no division by $n_t$) and
    `bias_correction2` (on: $\sqrt{d_t} = \sqrt{1-\beta_2^t}$ while
    $\beta_2$ is constant, Adam's correction, with $\epsilon$ after it).
    With `beta1_warmup` $= T$, $\beta_1(t) = \texttt{half\_life\_warmup}(t,
    \beta_{1,\min}, \beta_1, T)$ (see `zoo_ademamix`), else $\beta_1$. With
    $\beta_1 = 0$ and $\alpha = 0$ this is RMSprop with Adam's correction.
    Morwani et al. derive it from AdEMAMix's link to accelerated SGD (the
    weight of the current gradient decoupled from the momentum's): one
    momentum instead of two, which they report matches AdEMAMix at small
    and large batch sizes.

    Matches the authors' code (DepenM/Simplified-AdEMAMix,
    `simplified_AdEMAMix.py`, commit dba14d0) step for step, checked on
    stored trajectories with and without the warm-up, both corrections and
    weight decay. $n_t$ and $d_t$ are, as there, running sums updated with
    the current $\beta$s (so a changed $\beta_2$ changes them from that step
    on), kept in float64: one scalar slot each per variable. The authors'
    weight decay ($\lambda\theta_{t-1}$ added to the step, scaled by
    $\eta_t$) is Keras's decoupled `weight_decay`. Where another
    implementation differs:

    - `pytorch_optimizer.SimplifiedAdEMAMix` 4.1.0 keeps the momentum EMA
      style ($(1-\beta_1) g_t$ added, so that part of its step is
      $1-\beta_1$ times this one), and divides the step by $\sqrt{d_t}$
      where the authors multiply: 1.3e-1 from the authors' code with the
      defaults after 40 steps at lr 1e-3, 4.3e-2 with the warm-up and
      $\alpha = 2$ at lr 5e-4 (relative to the weights' scale). It has no
      `bias_correction1` / `bias_correction2` switches.

    State: two full-size slots and two float64 scalars per variable,
    $8 + 16/n$ bytes per float32 parameter of a variable of $n$ elements
    (`state_bytes_per_parameter` is `None`: it depends on the shapes).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `1e-4` (the authors').
        beta_1: $\beta_1$ in `[0, 1)`, the momentum's decay (its value
            after `beta1_warmup`). Defaults to `0.99`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.95`.
        alpha: $\alpha \ge 0$, the weight of the current gradient. Defaults
            to `0.0` (the authors' default; their notes: near 0 at large
            batch sizes, up to about 100 at small ones).
        epsilon: $\epsilon > 0$. Defaults to `1e-8`.
        beta1_warmup: Int >= 1 or `None`, fixed: the steps over which
            $\beta_1$ grows from `min_beta1`. Defaults to `None`.
        min_beta1: Float in `[0, 1)`, fixed: $\beta_{1,\min}$, where the
            warm-up starts (unused without `beta1_warmup`). Defaults to
            `0.9`.
        bias_correction1: Bool, fixed. Divide the step by $n_t$. Defaults
            to `False`.
        bias_correction2: Bool, fixed. Multiply the step by $\sqrt{d_t}$.
            Defaults to `True`.

    References:
        - Morwani, Vyas, Zhang & Kakade, 2025. Connections between
          schedule-free optimizers, AdEMAMix, and accelerated SGD variants.
          https://arxiv.org/abs/2502.02431
        - Pagliardini, Ablin & Grangier, 2024. The AdEMAMix optimizer:
          better, faster, older. https://arxiv.org/abs/2409.03137
        - https://github.com/DepenM/Simplified-AdEMAMix
    """

    default_learning_rate = 1e-4
    hyperparameters = {
        "beta_1": fraction(0.99),
        "beta_2": fraction(0.95),
        "alpha": Hyper(0.0, low=0.0),
        "epsilon": positive(1e-8),
        "beta1_warmup": Hyper(None, low=1, kind="int", optional=True),
        # Fixed: it acts only with a warm-up (a changeable value must
        # change the next step).
        "min_beta1": Hyper(
            0.9, low=0.0, high=1.0, high_open=True, changeable=False
        ),
        "bias_correction1": Hyper(False),
        "bias_correction2": Hyper(True),
    }
    slots = (
        "momentum",
        "velocity",
        Slot("momentum_sum", shape=_scalar(), dtype="wide"),
        Slot("velocity_sum", shape=_scalar(), dtype="wide"),
    )
    reference = (
        "DepenM/Simplified-AdEMAMix simplified_AdEMAMix.py dba14d0 "
        "(pytorch_optimizer.SimplifiedAdEMAMix 4.1.0 differs)"
    )
    state_bytes_per_parameter = None
    supports_cautious = True

    @staticmethod
    def update_rule(grad, param, slots, hp):
        beta_1 = hp.beta_1
        if hp.beta1_warmup is not None:
            beta_1 = half_life_warmup(
                hp.step, hp.min_beta1, beta_1, hp.beta1_warmup
            )
        beta_1 = ops.cast(beta_1, xla.wide_dtype())
        m = slots["momentum"] * hp.cast(beta_1) + grad
        n = beta_1 * slots["momentum_sum"] + 1.0
        v = slots["velocity"] * hp.cast(hp.beta_2) + hp.cast(
            hp.one_minus("beta_2")
        ) * ops.square(grad)
        d = hp.beta_2 * slots["velocity_sum"] + hp.one_minus("beta_2")
        root_d = ops.sqrt(d)
        denom = ops.sqrt(v) + hp.cast(hp.epsilon * root_d)
        update = (hp.cast(hp.alpha) * grad + m) / denom
        if hp.bias_correction1:
            update = update / hp.cast(n)
        if hp.bias_correction2:
            update = update * hp.cast(root_d)
        return param - hp.lr * update, {
            "momentum": m,
            "velocity": v,
            "momentum_sum": n,
            "velocity_sum": d,
        }
