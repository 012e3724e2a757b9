"""SOAP: Adam in the eigenbasis of Shampoo's preconditioner, `"zoo_soap"`."""

import dataclasses
import typing

import numpy as np
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

# Slots exist for the preconditioned dimensions of (merged) shapes of rank
# up to this; Keras's variables have rank <= 5 (Conv3D kernels).
MAX_RANK = 8


class Layout(typing.NamedTuple):
    """How one variable is preconditioned (its static group).

    `shape`: the shape the algorithm sees (the variable's, or with
    `merge_dims` the merged one); `preconditioned[i]`: whether dimension
    `i` of it has a factor (`gg_i`, `q_i`), else the identity.
    """

    shape: tuple
    preconditioned: tuple


@dataclasses.dataclass(frozen=True)
class _FactorSlot(Slot):
    """`gg_i` or `q_i`: a `(d_i, d_i)` float32 factor of dimension `i`."""

    dim: int = 0

    def applies_to(self, group):
        return (
            isinstance(group, Layout)
            and self.dim < len(group.preconditioned)
            and group.preconditioned[self.dim]
        )


def merged_shape(shape, max_precond_dim):
    """The authors' `merge_dims`: adjacent dimensions multiplied together
    while the product stays <= `max_precond_dim` (a dimension larger than
    it stays on its own)."""
    new, current = [], 1
    for size in shape:
        product = current * size
        if product > max_precond_dim:
            if current > 1:
                new.append(current)
                current = size
            else:
                new.append(size)
                current = 1
        else:
            current = product
    if current > 1 or not new:
        new.append(current)
    return tuple(new)


def layout(shape, max_precond_dim, merge_dims, precondition_1d):
    """The `Layout` of a variable of `shape`, as the authors' code sets up
    its preconditioner (`init_preconditioner`)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 1:
        return Layout(shape, (precondition_1d and shape[0] <= max_precond_dim,))
    if merge_dims:
        shape = merged_shape(shape, max_precond_dim)
    return Layout(shape, tuple(d <= max_precond_dim for d in shape))


def state_bytes(
    shape, max_precond_dim=10000, merge_dims=False, precondition_1d=False
):
    """Bytes of SOAP state per float32 parameter of a variable of `shape`.

    `8` (the two moments) `+ 8 * sum(d_i^2) / n` (a float32 statistic and
    eigenbasis per preconditioned dimension `d_i`) `+ 4 / n` (the step
    count), for `n` parameters.
    """
    n = int(np.prod(shape))
    lay = layout(shape, max_precond_dim, merge_dims, precondition_1d)
    factors = sum(d * d for d, p in zip(lay.shape, lay.preconditioned) if p)
    return 8 + (8 * factors + 4) / n


def step_flops(
    shape, max_precond_dim=10000, merge_dims=False, precondition_1d=False
):
    """Floating-point operations of one ordinary SOAP step on a variable.

    Per preconditioned dimension $d_i$ of the layout, three contractions
    of the $n$-element tensor with a $(d_i, d_i)$ matrix (the statistic
    $G G^T$, the projection of the gradient, the projection back of the
    update), $2 n d_i$ each: $6 n \\sum_i d_i$. The refresh (every
    `precondition_frequency` steps) comes on top.
    """
    n = int(np.prod(shape))
    lay = layout(shape, max_precond_dim, merge_dims, precondition_1d)
    return 6 * n * sum(d for d, p in zip(lay.shape, lay.preconditioned) if p)


def _project(x, bases, back=False):
    """`x` (of the layout's shape) in the eigenbases (or back from them).

    Contracts dimension 0 with its basis (`Q^T x` forwards, `Q x` back) or,
    where there is none, moves it last, once per dimension: the authors'
    `project` and `project_back`.
    """
    for q in bases:
        if q is None:
            x = ops.moveaxis(x, 0, -1)
        else:
            x = ops.tensordot(x, q, axes=([0], [1 if back else 0]))
    return x


def _statistic(g, dim):
    """$G G^T$ contracted over every dimension but `dim`."""
    if len(g.shape) == 1:
        return ops.outer(g, g)
    others = [i for i in range(len(g.shape)) if i != dim]
    return ops.tensordot(g, g, axes=(others, others))


def _eigenbasis(gg):
    """Eigenvectors of `gg`, by decreasing eigenvalue (the first refresh)."""
    eye = ops.eye(gg.shape[0], dtype=gg.dtype)
    _, vectors = ops.linalg.eigh(gg + 1e-30 * eye)
    return ops.flip(vectors, axis=1)


def _refresh(ggs, bases, v):
    """One power iteration and QR per factor; `v` follows the new order.

    The authors' `get_orthogonal_matrix_QR`: the columns of the old basis
    are sorted by their estimated eigenvalue $\\mathrm{diag}(Q^T L Q)$
    (descending), the second moment is permuted the same way along that
    dimension, and the new basis is the $Q$ of $\\mathrm{QR}(L Q)$.
    """
    new = []
    for dim, (gg, q) in enumerate(zip(ggs, bases)):
        if q is None:
            new.append(None)
            continue
        power = ops.matmul(gg, q)
        estimate = ops.sum(q * power, axis=0)
        order = ops.argsort(-estimate)
        v = ops.take(v, order, axis=dim)
        basis, _ = ops.linalg.qr(ops.take(power, order, axis=1))
        new.append(basis)
    return new, v


@register("zoo_soap")
class SOAP(ZooOptimizer):
    r"""SOAP: Adam in the eigenbasis of Shampoo's preconditioner.

    For a variable with gradient $G_t$ seen as a tensor with dimensions
    $1..k$ (the variable's shape, or with `merge_dims` the merged one),
    each preconditioned dimension $i$ keeps Shampoo's statistic
    $L_i = \beta_s L_i + (1-\beta_s)\, G_{(i)} G_{(i)}^T$ (the gradient
    contracted with itself over every other dimension) and an orthonormal
    basis $Q_i$ of its eigenvectors; a dimension that is not
    preconditioned has $Q_i = I$. With
    $\tilde X = X \times_1 Q_1^T \cdots \times_k Q_k^T$ (the projection
    into the eigenbasis) and $s$ the number of steps taken:

    $$ M_s = \beta_1 M_{s-1} + (1-\beta_1)\tilde G_t, \qquad
       V_s = \beta_2 V_{s-1} + (1-\beta_2)\tilde G_t^{\,2} $$
    $$ U = \Big(\frac{M_s}{\sqrt{V_s} + \epsilon}\Big)
       \times_1 Q_1 \cdots \times_k Q_k, \qquad
       \theta \leftarrow \theta - \eta_t
       \frac{\sqrt{1-\beta_2^s}}{1-\beta_1^s}\, U, \qquad
       \theta \leftarrow \theta - \eta_t \lambda \theta $$

    then $L_i$ is updated with $G_t$, and every `precondition_frequency`
    steps ($s \bmod f = 0$) each $Q_i$ is refreshed by one power iteration:
    its columns are sorted by $\mathrm{diag}(Q_i^T L_i Q_i)$ (descending),
    $V$ is permuted the same way along dimension $i$, and
    $Q_i \leftarrow \mathrm{QR}(L_i Q_i)$; $M$, which lives in the
    eigenbasis, is rotated into the new one. $V$ is only permuted, not
    rotated (as the authors do).

    This is the authors' code (nikhilvyas/SOAP `soap.py`, commit a1e5535,
    December 2024: the first moment kept in the eigenbasis), step for step:

    - The first step only initialises the preconditioner: $L_i =
      (1-\beta_s) G_{(i)} G_{(i)}^T$ and $Q_i$ its eigenvectors by `eigh`
      (by decreasing eigenvalue). The weights do not move (no update, no
      weight decay), so that the current gradient is never used in its own
      projection; the moments stay zero and $s$ starts counting at the
      second step ($s = t - 1$ at Keras step $t$, in the bias correction
      and the refresh schedule). Refreshes happen at Keras steps
      $f + 1, 2f + 1, \dots$
    - Weight decay is the authors' decoupled form applied *after* the
      step, $\theta(1 - \eta_t\lambda)$ with the un-corrected $\eta_t$
      (`decoupled_weight_decay = False`: the rule applies it; it is not
      Keras's decay before the update). Defaults to the authors' `0.01`.
    - 1-D variables get a factor only with `precondition_1d` (and length
      <= `max_precond_dim`); otherwise they are Adam (with the step-1
      behaviour above). A dimension larger than `max_precond_dim` has no
      factor (identity). `merge_dims` merges adjacent dimensions while
      their product stays <= `max_precond_dim` (1-D variables are never
      merged).
    - `normalize_grads` divides $U$ by $10^{-30} + \mathrm{RMS}(U)$.

    Differences from the authors' code, none in the mathematics:

    - The authors rotate $M$ back and forth ($Q Q^T$) at every step;
      here only when the basis changes (measured: round-off only).
    - Layout: merging follows the variable's own dimension order. A Keras
      conv kernel is `(kh, kw, c_in, c_out)`, a torch one `(c_out, c_in,
      kh, kw)`, so with `merge_dims` the groups differ: `(3, 3, 64, 64)`
      merges into `(576, 64)` here, the torch layout `(64, 64, 3, 3)` into
      `(4096, 9)`. Without merging the order does not matter (one factor
      per dimension). The authors' `data_format` (which permutes 4-D
      tensors for merging) is therefore not an argument.
    - The authors fall back to float64 `eigh` when float32 `eigh` fails;
      the refresh has no such fallback (it never failed here).
    - `eigh` and QR fix each eigenvector only up to its sign, which the
      update does not depend on, but a repeated eigenvalue only up to a
      rotation of its eigenspace, which it does. At the first step a
      factor of size $d$ has rank at most the product $n$ of the other
      dimensions (1 for a preconditioned 1-D variable): for $d > n$, e.g.
      the larger side of a non-square Dense kernel, $d - n$ eigenvalues
      are (numerically) zero and the basis of that null space is whatever
      the eigensolver returns. Two correct implementations, or this one
      compiled and uncompiled, then differ at the scale of the learning
      rate. Measured on two 5 x 7 matrices (lr 0.01, refresh every 3
      steps, 30 steps, weights of size ~3): 1.6e-2 to 2.7e-2 from the
      authors' (torch's LAPACK `eigh`), compiled or not, where the conv
      kernel and the vectors of the same run agree to 5e-7. The stored
      reference cases use shapes where every factor has full rank at the
      first step.

    Checked against the authors' code on 4 cases of 40 steps (refreshes
    every 2 or 3 steps; merged dimensions, 1-D factors, dimensions over
    `max_precond_dim`, normalisation, no bias correction, weight decay,
    24 x 24 and 16 x 32 matrices): at most 2.2e-7 of the weights' scale,
    compiled and not. The second public implementation,
    `pytorch_optimizer.SOAP` 4.1.0, keeps the first moment in the
    original space (the authors' code before December 2024; the same
    mathematics) and divides by $\mathrm{RMS}(U) + \epsilon$ with
    `normalize_gradient`: 1.0e-6 from the authors' on the same cases; its
    `merge_dims` raises on 1-D variables (`merge_small_dims` returns `[1]`
    for a shape that merges into one dimension).

    The eigenbases are computed outside the update's XLA kernel
    (`refresh_rule`, after steps 1, $f + 1$, $2f + 1$, ...), as
    TensorFlow's own `eigh` and QR: XLA's CPU `eigh` is 40-80 times
    slower. Inside `model.fit(jit_compile=True)` the whole step is one XLA
    program and the refresh is compiled with it: on a CPU, train SOAP
    with `jit_compile=False` (the default `"auto"` compiles).

    State per variable: the two moments (the variable's shape, in its
    dtype), a step count (int32), and per preconditioned dimension $d_i$
    two float32 $(d_i, d_i)$ matrices (`gg_i`, `q_i`). Per float32
    parameter: $8 + (8 \sum_i d_i^2 + 4)/n$ bytes (`state_bytes`): 24.0
    for a 1024 x 1024 Dense kernel, 9.78 for a 3 x 3 x 64 x 64 conv kernel
    (80.9 with `merge_dims`), 8 for an unpreconditioned bias; 29.9 on the
    MNIST-1D MLP of `make demo` (40-100-100-10).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.003` (the authors').
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.95`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.95`.
        shampoo_beta: $\beta_s$ in `[0, 1)`, or `None` for $\beta_2$ (the
            authors' `-1`). Changeable when given. Defaults to `None`.
        epsilon: $\epsilon > 0$. Defaults to `1e-8`.
        weight_decay: $\lambda \ge 0$ or `None`: the authors' decay after
            the step (see above). Defaults to `0.01`.
        precondition_frequency: Int $f \ge 1$, fixed: steps between
            refreshes of the eigenbases. Defaults to `10`.
        max_precond_dim: Int >= 1, fixed: the largest dimension that gets
            a factor (and the bound of `merge_dims`). Defaults to `10000`.
        merge_dims: Bool, fixed. Merge adjacent dimensions (see above).
            Defaults to `False`.
        precondition_1d: Bool, fixed. Give 1-D variables a factor.
            Defaults to `False`.
        normalize_grads: Bool, fixed. Normalise each variable's update to
            unit RMS. Defaults to `False`.
        correct_bias: Bool, fixed. Adam's bias correction. Defaults to
            `True`.

    References:
        - Vyas et al., 2024. SOAP: improving and stabilizing Shampoo using
          Adam. ICLR 2025 (arXiv:2409.11321).
    """

    default_learning_rate = 0.003
    hyperparameters = {
        "beta_1": fraction(0.95),
        "beta_2": fraction(0.95),
        "shampoo_beta": Hyper(
            None, low=0.0, high=1.0, high_open=True, optional=True
        ),
        "epsilon": positive(1e-8),
        "weight_decay": Hyper(0.01, low=0.0, optional=True),
        "precondition_frequency": Hyper(10, low=1),
        "max_precond_dim": Hyper(10000, low=1),
        "merge_dims": Hyper(False),
        "precondition_1d": Hyper(False),
        "normalize_grads": Hyper(False),
        "correct_bias": Hyper(True),
    }
    slots = (
        "momentum",
        "velocity",
        Slot("step", dtype="int32", shape=lambda shape: ()),
        *(
            _FactorSlot(f"{kind}_{i}", dtype="float32", dim=i)
            for i in range(MAX_RANK)
            for kind in ("gg", "q")
        ),
    )
    reference = "nikhilvyas/SOAP soap.py a1e5535 (pytorch_optimizer.SOAP 4.1.0)"
    decoupled_weight_decay = False
    state_bytes_per_parameter = None

    def variable_group(self, variable):
        lay = layout(
            variable.shape,
            self.max_precond_dim,
            self.merge_dims,
            self.precondition_1d,
        )
        if len(lay.shape) > MAX_RANK and any(lay.preconditioned):
            raise ValueError(
                f"SOAP preconditions variables of rank <= {MAX_RANK}; "
                f"{getattr(variable, 'path', variable.name)} has shape "
                f"{tuple(variable.shape)}."
            )
        return lay

    def matrix_flops(self, variable):
        return step_flops(
            variable.shape,
            self.max_precond_dim,
            self.merge_dims,
            self.precondition_1d,
        )

    def _add_slot(self, variable, slot):
        if isinstance(slot, _FactorSlot):
            size = self.variable_group(variable).shape[slot.dim]
            slot = dataclasses.replace(slot, shape=lambda _: (size, size))
        return super()._add_slot(variable, slot)

    @staticmethod
    def update_rule(grad, param, slots, hp):
        lay = hp.group
        f32 = "float32"
        g = ops.reshape(ops.cast(grad, f32), lay.shape)
        dims = range(len(lay.shape))
        pre = [lay.preconditioned[i] for i in dims]
        ggs = [slots[f"gg_{i}"] if pre[i] else None for i in dims]
        bases = [slots[f"q_{i}"] if pre[i] else None for i in dims]
        count = slots["step"]
        shampoo_beta = hp.beta_2 if hp.shampoo_beta is None else hp.shampoo_beta
        weight = ops.cast(1 - shampoo_beta, f32)
        # The statistics are updated with this step's gradient in both
        # branches (after the step, in the authors' order).
        ggs = [
            None if gg is None else gg + weight * (_statistic(g, i) - gg)
            for i, gg in enumerate(ggs)
        ]

        def first():
            # The authors' step 1 builds the preconditioner only (its
            # eigenbases: `refresh_rule`); the weights do not move.
            return (
                ops.cast(param, f32),
                ops.cast(slots["momentum"], f32),
                ops.cast(slots["velocity"], f32),
            )

        def step():
            s = ops.cast(
                count, xla.wide_dtype()
            )  # steps taken, this one included
            b1, b2 = hp.beta_1, hp.beta_2
            m = ops.reshape(ops.cast(slots["momentum"], f32), lay.shape)
            v = ops.reshape(ops.cast(slots["velocity"], f32), lay.shape)
            projected = _project(g, bases)
            m = m * ops.cast(b1, f32) + projected * ops.cast(1 - b1, f32)
            v = v * ops.cast(b2, f32) + ops.square(projected) * ops.cast(
                1 - b2, f32
            )
            denom = ops.sqrt(v) + ops.cast(hp.epsilon, f32)
            size = ops.cast(hp.lr, xla.wide_dtype())
            if hp.correct_bias:
                size = (
                    size
                    * ops.sqrt(1 - ops.power(b2, s))
                    / (1 - ops.power(b1, s))
                )
            update = _project(m / denom, bases, back=True)
            if hp.normalize_grads:
                update = update / (
                    1e-30 + ops.sqrt(ops.mean(ops.square(update)))
                )
            new = ops.cast(param, f32) - ops.cast(size, f32) * ops.reshape(
                update, param.shape
            )
            if hp.decays and hp.weight_decay is not None:
                rate = ops.cast(hp.lr, xla.wide_dtype()) * hp.weight_decay
                new = new - ops.cast(rate, f32) * new
            return new, ops.reshape(m, param.shape), ops.reshape(v, param.shape)

        new, m, v = xla.cond(ops.equal(count, 0), first, step)
        new_slots = {"momentum": m, "velocity": v, "step": count + 1}
        for i in dims:
            if pre[i]:
                new_slots[f"gg_{i}"] = ggs[i]
        return new, new_slots

    @staticmethod
    def refresh_due(slots, hp):
        # After Keras step t (the `step` slot is t): the first eigenbases
        # at t = 1, a refresh at t = f + 1, 2f + 1, ... (s mod f = 0).
        if not any(hp.group.preconditioned):
            return False
        count = slots["step"]
        later = ops.equal(ops.mod(count - 1, hp.precondition_frequency), 0)
        return ops.logical_or(
            ops.equal(count, 1), ops.logical_and(count > 1, later)
        )

    @staticmethod
    def refresh_rule(slots, hp):
        """The eigenbases: by `eigh` after step 1, then one power
        iteration and QR (`_refresh`), with the moments moved along.
        Outside the update's XLA kernel (see `ZooOptimizer.refresh_rule`).
        """
        lay = hp.group
        f32 = "float32"
        dims = range(len(lay.shape))
        pre = [lay.preconditioned[i] for i in dims]
        ggs = [slots[f"gg_{i}"] if pre[i] else None for i in dims]
        bases = [slots[f"q_{i}"] if pre[i] else None for i in dims]
        shape = slots["momentum"].shape
        m = ops.reshape(ops.cast(slots["momentum"], f32), lay.shape)
        v = ops.reshape(ops.cast(slots["velocity"], f32), lay.shape)

        def present(qs):
            return [q for q in qs if q is not None]

        def first():
            qs = [None if gg is None else _eigenbasis(gg) for gg in ggs]
            return m, v, present(qs)

        def rotate():
            qs, v_sorted = _refresh(ggs, bases, v)
            m_new = _project(_project(m, bases, back=True), qs)
            return m_new, v_sorted, present(qs)

        m, v, found = xla.cond(ops.equal(slots["step"], 1), first, rotate)
        found = iter(found)
        new = {
            "momentum": ops.reshape(m, shape),
            "velocity": ops.reshape(v, shape),
        }
        for i in dims:
            if pre[i]:
                new[f"q_{i}"] = next(found)
        return new
