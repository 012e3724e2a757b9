"""Adafactor, `"zoo_adafactor"`: Keras's form of Shazeer & Stern (2018)."""

from keras import ops

from keras_optim_zoo.core import Hyper, Slot, ZooOptimizer, positive, register

_FACTORED = "factored"
_UNFACTORED = "unfactored"


def _row_shape(shape):
    # The row statistic averages over the last axis.
    return shape[:-1]


def _column_shape(shape):
    # The column statistic averages over the second-to-last axis.
    return shape[:-2] + shape[-1:]


def _rms(x):
    return ops.sqrt(ops.mean(ops.square(x)))


@register("zoo_adafactor")
class Adafactor(ZooOptimizer):
    r"""Adafactor: factored second moments, relative steps, update clipping.

    With $\hat\beta_{2,t} = 1 - t^{c}$ ($c$ = `beta_2_decay`), the step
    size $\rho_t = \min(\eta_t, 1/\sqrt t)$ and the relative scale
    $\alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t$.
    For a variable of rank $\ge 2$ (shape $[\dots, m, n]$, the last two
    axes factored, any leading axes kept as a batch of matrices):

    $$ G_t = g_t^2 + \epsilon_1, \quad
       r_t = \hat\beta_{2,t} r_{t-1} + (1-\hat\beta_{2,t})
       \,\mathrm{mean}_{n}(G_t), \quad
       c_t = \hat\beta_{2,t} c_{t-1} + (1-\hat\beta_{2,t})
       \,\mathrm{mean}_{m}(G_t) $$
    $$ v_t = \frac{r_t}{\mathrm{mean}_m(r_t)} \otimes c_t $$

    (the paper's $R_t C_t / 1^\top R_t$ written with means instead of
    sums, the same quantity). For rank $< 2$ the second moment is not
    factored: $v_t = \hat\beta_{2,t} v_{t-1} + (1-\hat\beta_{2,t}) G_t$.
    Then, with update clipping at threshold $d$ (`clip_threshold`):

    $$ u_t = \frac{g_t}{\sqrt{v_t}}, \qquad
       \theta_t = \theta_{t-1} - \alpha_t
       \frac{u_t}{\max(1, \mathrm{RMS}(u_t)/d)} $$

    The first step has $\hat\beta_{2,1} = 0$, so no bias correction is
    needed. There is no first moment (the paper's $\beta_1 = 0$).

    Matches `keras.optimizers.Adafactor` step for step, with the same
    arguments, defaults and state: a `velocity` of the variable's shape for
    every variable (Keras keeps $v_t$ in full even where it is factored), and
    for rank $\ge 2$ the row and column statistics `r` (shape
    `shape[:-1]`) and `c` (shape `shape[:-2] + shape[-1:]`), whose Keras
    variable names are the model variable's `name` (both of them, as in
    Keras). Keras also creates two int32 scalar placeholders for every
    variable of rank $< 2$, never read or written; they are not reproduced
    here (the state itself is identical). State per float32 parameter,
    $4 + 4/n + 4/m$ bytes for a variable of shape $[\dots, m, n]$ and 4
    bytes for rank $< 2$ (`state_bytes_per_parameter` is `None`).

    `relative_step`, as in Keras 3, does not change the numbers: Keras
    clamps the learning rate to $1/\sqrt t$ when it is set and the learning
    rate is not a schedule, and then clamps $\rho_t$ to $1/\sqrt t$ again
    unconditionally. The argument is accepted and serialized for
    compatibility.

    How others differ: the paper (Algorithms 4 and 5) uses
    $\rho_t = \min(10^{-2}, 1/\sqrt t)$ as the relative step, independent
    of any learning rate, and factors matrices only. `optax.adafactor`
    factors the two *largest* axes, and only when the second largest has
    at least `min_dim_size_to_factor=128` entries; it stores no full-size
    $v_t$ for factored variables (its memory is sublinear); it has no
    $1/\sqrt t$ step: the learning rate (or 1 when `learning_rate=None`)
    times $\max(10^{-3}, \mathrm{RMS}(\theta))$ is the step; and it adds
    optional momentum and weight decay.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$, capped at
            $1/\sqrt t$). Defaults to `0.001`.
        beta_2_decay: $c \le 0$, the exponent of the second-moment decay
            $\hat\beta_{2,t} = 1 - t^c$. Defaults to `-0.8`.
        epsilon_1: $\epsilon_1 > 0$, added to the squared gradient.
            Defaults to `1e-30`.
        epsilon_2: $\epsilon_2 \ge 0$, the smallest parameter scale in
            $\alpha_t$. Defaults to `1e-3`.
        clip_threshold: $d > 0$, fixed, the update-clipping threshold
            (independent of `clipnorm`, `clipvalue` and `global_clipnorm`).
            Defaults to `1.0`. It is fixed at construction because Keras
            reads it as a Python constant: under XLA a division by a
            constant becomes a multiplication by its reciprocal, which a
            changeable value (a variable) would not get, so zoo and Keras
            would differ by an ulp per step when compiled. Fixed, both
            agree bit for bit compiled or not.
        relative_step: Bool, fixed. Accepted for compatibility with Keras,
            where it has no effect (see above). Defaults to `True`.

    `beta_2_decay`, `epsilon_1` and `epsilon_2` are changeable during
    training.

    References:
        - Shazeer & Stern, 2018. Adafactor: Adaptive learning rates with
          sublinear memory cost. ICML.
    """

    hyperparameters = {
        "beta_2_decay": Hyper(-0.8, high=0.0),
        "epsilon_1": positive(1e-30),
        "epsilon_2": Hyper(1e-3, low=0.0),
        # Fixed, not changeable: see the docstring.
        "clip_threshold": Hyper(1.0, low=0.0, low_open=True, changeable=False),
        "relative_step": Hyper(True),
    }
    slots = (
        Slot("r", shape=_row_shape, groups=(_FACTORED,)),
        Slot("c", shape=_column_shape, groups=(_FACTORED,)),
        Slot("velocity"),
    )
    keras_equivalent = ("Adafactor", {})
    state_bytes_per_parameter = None

    def variable_group(self, variable):
        return _FACTORED if len(variable.shape) >= 2 else _UNFACTORED

    def _add_slot(self, variable, slot):
        # Keras names the row and column statistics after the model
        # variable's `name` (not `<path>_<slot>` as every other slot is);
        # the same names keep `optimizer.variables` comparable with Keras.
        if slot.name not in ("r", "c"):
            return super()._add_slot(variable, slot)
        return self.add_variable(
            slot.shape_for(variable.shape),
            initializer="zeros",
            dtype=slot.dtype or variable.dtype,
            name=variable.name,
        )

    @staticmethod
    def update_rule(grad, param, slots, hp):
        step = hp.step
        rho = ops.minimum(hp.lr, 1 / ops.sqrt(step))
        alpha = ops.maximum(hp.cast(hp.epsilon_2), _rms(param)) * rho
        grad_square = ops.add(ops.square(grad), hp.cast(hp.epsilon_1))
        beta = ops.subtract(1, ops.power(step, hp.cast(hp.beta_2_decay)))
        if hp.group == _FACTORED:
            r = ops.add(
                ops.multiply(beta, slots["r"]),
                ops.multiply(
                    ops.subtract(1, beta), ops.mean(grad_square, axis=-1)
                ),
            )
            c = ops.add(
                ops.multiply(beta, slots["c"]),
                ops.multiply(
                    ops.subtract(1, beta), ops.mean(grad_square, axis=-2)
                ),
            )
            v = ops.multiply(
                ops.expand_dims(
                    ops.divide(r, ops.mean(r, axis=-1, keepdims=True)), -1
                ),
                ops.expand_dims(c, -2),
            )
            new = {"r": r, "c": c, "velocity": v}
        else:
            v = ops.add(
                ops.multiply(beta, slots["velocity"]),
                ops.multiply(ops.subtract(1, beta), grad_square),
            )
            new = {"velocity": v}
        u = ops.divide(grad, ops.sqrt(v))
        u = ops.divide(
            u,
            ops.maximum(
                ops.cast(1.0, hp.dtype),
                ops.divide(_rms(u), hp.clip_threshold),
            ),
        )
        return ops.subtract(param, ops.multiply(alpha, u)), new
