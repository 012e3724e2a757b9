"""Muon: orthogonalised momentum for matrices, `"zoo_muon"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core.hyper import path_matches, validate_patterns

FALLBACKS = ("adamw", "lion")


def newton_schulz(x, steps, a, b, c):
    """Keras's quintic Newton-Schulz iteration on a 2-D tensor.

    Approximately $U V^T$ of $x = U S V^T$: the singular values are mapped
    into a band around 1 (about 0.7 to 1.2 for the default coefficients),
    the singular vectors are kept. `a`, `b`, `c` are scalars in `x`'s dtype
    (or Python floats). The arithmetic, operation for operation, is
    `keras.optimizers.Muon.zeropower_via_newtonschulz5`'s.
    """
    tall = x.shape[0] > x.shape[1]
    if tall:  # iterate on the smaller Gram matrix
        x = ops.transpose(x)
    x = x / (ops.norm(x, axis=(-2, -1), keepdims=True) + 1e-7)
    for _ in range(steps):
        gram = ops.matmul(x, ops.transpose(x))
        poly = b * gram + ops.matmul(c * gram, gram)
        x = a * x + ops.matmul(poly, x)
    return ops.transpose(x) if tall else x


def _scale_to_rms(update, rows, cols, rms_rate):
    # Moonlight's `rms_rate * sqrt(max(rows, cols))`, Keras's op order.
    if rms_rate is None:
        return update
    return update * ops.sqrt(ops.maximum(rows, cols)) * rms_rate


def _muon_step(grad, param, slots, hp):
    m = slots["momentum"]
    m = m + (grad + m * hp.cast(-hp.one_minus("momentum")))
    direction = grad + hp.cast(hp.momentum) * m if hp.nesterov else m
    shape = tuple(param.shape)
    matrix = direction
    if len(shape) > 2:  # a convolution kernel (spatial..., c_in, c_out)
        rows = 1
        for dim in shape[:-1]:
            rows *= dim
        matrix = ops.reshape(direction, (rows, shape[-1]))
    rows, cols = matrix.shape
    # The coefficients are fixed Python floats, as in Keras.
    ortho = newton_schulz(matrix, hp.ns_steps, hp.muon_a, hp.muon_b, hp.muon_c)
    rms_rate = None if hp.rms_rate is None else hp.cast(hp.rms_rate)
    update = _scale_to_rms(hp.lr * ortho, rows, cols, rms_rate)
    if len(shape) > 2:
        update = ops.reshape(update, shape)
    return param - update, {"momentum": m}


def _adamw_step(grad, param, slots, hp, lr):
    b1, b2 = hp.cast(hp.adam_beta_1), hp.cast(hp.adam_beta_2)
    alpha = (
        lr * ops.sqrt(1 - ops.power(b2, hp.step)) / (1 - ops.power(b1, hp.step))
    )
    m = slots["momentum"]
    v = slots["velocity"]
    m = m + (grad - m) * hp.cast(hp.one_minus("adam_beta_1"))
    v = v + (ops.square(grad) - v) * hp.cast(hp.one_minus("adam_beta_2"))
    step = (m * alpha) / (ops.sqrt(v) + hp.cast(hp.epsilon))
    return param - step, {"momentum": m, "velocity": v}


def _lion_step(grad, param, slots, hp, lr):
    # keras.optimizers.Lion's arithmetic (1 - beta in the param dtype).
    m = slots["momentum"]
    b1, b2 = hp.cast(hp.lion_beta_1), hp.cast(hp.lion_beta_2)
    direction = ops.sign(m * b1 + grad * (1.0 - b1))
    new_m = m * b2 + grad * (1.0 - b2)
    return param - lr * direction, {"momentum": new_m}


@register("zoo_muon")
class Muon(ZooOptimizer):
    r"""Muon: momentum orthogonalised by Newton-Schulz, with a fallback.

    For a matrix $W$ (a Dense kernel) with gradient $G_t$:

    $$ B_t = \mu B_{t-1} + G_t, \qquad
       D_t = G_t + \mu B_t \ \text{(Nesterov) or } B_t $$
    $$ W_t = W_{t-1}(1 - \eta_t \lambda)
       - \eta_t\, r \sqrt{\max(A, B)}\; \mathrm{NS}_k(D_t) $$

    where $A \times B$ is the matrix's shape, $r$ is `rms_rate` (Moonlight's
    scaling, which makes the update's RMS about $r$, like AdamW's, so that
    AdamW's learning rate and weight decay carry over), and
    $\mathrm{NS}_k$ is $k$ steps of the quintic Newton-Schulz iteration
    $X \leftarrow aX + (b\,XX^T + c\,(XX^T)^2)X$ from
    $X_0 = D/(\lVert D\rVert_F + 10^{-7})$ (on $D^T$ when $A > B$),
    which maps every singular value of $D$ into a band around 1
    (about 0.7 to 1.2 for the default $a, b, c$): approximately $UV^T$
    for $D = USV^T$.

    Every other variable goes to the fallback optimizer, with learning
    rate $\eta_t \cdot$ `adam_lr_ratio` and its own decoupled decay
    $\theta \leftarrow \theta(1 - \eta_t \lambda_{adam})$ (with the full
    $\eta_t$, as Keras), applied before its step:

    - `"adamw"` (Keras's): Adam with `adam_beta_1`, `adam_beta_2` and
      `epsilon` ("epsilon hat" form, see `zoo_adam`), on the same
      `momentum` slot plus a `velocity` slot.
    - `"lion"`: Lion (see `zoo_lion`) with `lion_beta_1`, `lion_beta_2`,
      on the `momentum` slot only: half the fallback's state. Lion moves
      every coordinate by the full learning rate: the authors recommend
      3-10x smaller rates than AdamW, i.e. `adam_lr_ratio` of 0.1-0.3.

    Routing (fixed at build): a variable goes to Muon when it is 2-D (or,
    with `orthogonalize_convolutions`, 3-D to 5-D), unless
    `exclude_embeddings` and "embedding" is in its lower-cased path, or an
    `exclude_layers` pattern selects its path. Keras's advice holds: also
    exclude the output layer (`exclude_layers=["output_dense"]`).

    Matches `keras.optimizers.Muon` step for step with the same arguments
    and defaults (and the same slot variable names: `momentum` for every
    variable, `velocity` for the AdamW-routed ones; its helper methods
    `zeropower_via_newtonschulz5` and `lr_adjust` too), with two
    differences (a plain layer name routes the same in both; the second is
    off by default):

    - `exclude_layers` entries are literal substrings (Keras: regular
      expressions, `re.search`), or globs matched against the whole path
      when they contain `*`, `?` or `[`. A plain name such as `"last"`
      selects the same variables in both; an entry with regex syntax
      (`^ $ ( ) { } | \ +` or `.*`) is rejected with an error, so that a
      configuration never runs a regex and a Keras regex never silently
      matches nothing.
    - `orthogonalize_convolutions=True` (not in Keras, default `False`)
      orthogonalises convolution kernels `(spatial..., c_in, c_out)` as
      the `(prod(spatial) * c_in, c_out)` matrix; the `rms_rate` scaling
      uses that matrix's dimensions. Keras sends them to AdamW. Every
      rank 3 to 5 variable is treated so: a rank-3 `EinsumDense` or
      `MultiHeadAttention` kernel would be flattened the same way, which
      is not its natural matrix; exclude those by name.

    How the peers differ. The authors' code (KellerJordan/Muon) and
    `torch.optim.Muon` (2.13) keep the momentum as an average,
    $B_t = \mu B_{t-1} + (1-\mu)G_t$, $D_t = (1-\mu)G_t + \mu B_t$: that
    is Keras's $B_t, D_t$ times $(1-\mu)$, which the normalisation of
    $X_0$ removes (up to the $10^{-7}$). They scale by
    $\sqrt{\max(1, A/B)}$ by default instead of $r\sqrt{\max(A, B)}$
    (torch: `adjust_lr_fn="original"`; its `"match_rms_adamw"` is this
    one), run the iteration in bfloat16 (Keras and the zoo: in the
    parameter's dtype), normalise by $\max(\lVert D\rVert_F, 10^{-7})$,
    and flatten conv kernels `(c_out, c_in, kh, kw)` to `(c_out, -1)`: the
    transpose of the matrix used here up to a permutation of rows, which
    gives the same orthogonalised update. Measured on 2-D weights
    ((5, 7), (7, 5), (16, 3); 30 steps, lr 0.05, weight decay 0.1):
    `torch.optim.Muon(adjust_lr_fn="match_rms_adamw")` differs from this
    class by 3e-3 of the weights' scale as shipped (its bfloat16
    iteration), and by 3.9e-7 with its iteration done in float32, with or
    without Nesterov. Matrices only in torch; the authors' code and
    Moonlight send the rest to AdamW, as here.

    Both weight decays are folded into the compiled update (as every zoo
    optimizer's), so the per-variable `update_step` includes them, where
    Keras applies them beforehand in `_apply_weight_decay`; the numbers of
    a training step are the same.

    State per parameter: 4 bytes for a Muon-routed variable, 8 for an
    AdamW-routed one, 4 for a Lion-routed one (float32).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        adam_beta_1: Adam's $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        adam_beta_2: Adam's $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        adam_weight_decay: $\lambda_{adam} \ge 0$ or `None`: the decay of
            the fallback-routed variables (whatever the fallback).
            Defaults to `0.004`.
        epsilon: Adam's $\epsilon > 0$. Defaults to `1e-7`.
        weight_decay: $\lambda \ge 0$ or `None`: the decay of the
            Muon-routed variables only. Defaults to `0.004`.
        exclude_layers: List of strings or `None`: literal substrings or
            globs of variable paths sent to the fallback (see above).
            Defaults to `None` (none).
        exclude_embeddings: Bool, fixed. Send variables whose path contains
            "embedding" (any case) to the fallback. Defaults to `True`.
        muon_a: Newton-Schulz coefficient $a$, fixed. Defaults to
            `3.4445`.
        muon_b: Newton-Schulz coefficient $b$, fixed. Defaults to
            `-4.7750`.
        muon_c: Newton-Schulz coefficient $c$, fixed. Defaults to
            `2.0315`.
        adam_lr_ratio: Float >= 0: the fallback's learning rate relative
            to $\eta_t$. Defaults to `1.0`.
        momentum: $\mu$ in `[0, 1)`. Defaults to `0.95`.
        ns_steps: Int >= 0, fixed: Newton-Schulz steps $k$. Defaults to
            `5`.
        nesterov: Bool, fixed. Defaults to `True`.
        rms_rate: $r > 0$ or `None` (no scaling: the raw orthogonalised
            update, of RMS about $1/\sqrt{\max(A, B)}$). Defaults to `0.2`.
        fallback: `"adamw"` or `"lion"`, fixed: the optimizer of the
            variables not routed to Muon. Defaults to `"adamw"`.
        lion_beta_1: Lion's $\beta_1$ in `[0, 1)`, fixed. Only used with
            `fallback="lion"`. Defaults to `0.9`.
        lion_beta_2: Lion's $\beta_2$ in `[0, 1)`, fixed. Only used with
            `fallback="lion"`. Defaults to `0.99`.
        orthogonalize_convolutions: Bool, fixed. Route rank 3-5 kernels to
            Muon as matrices (see above). Defaults to `False`.

    References:
        - Jordan et al., 2024. Muon: An optimizer for hidden layers in
          neural networks. https://kellerjordan.github.io/posts/muon/
        - Liu et al., 2025. Muon is scalable for LLM training.
          https://arxiv.org/abs/2502.16982
        - Chen et al., 2023. Symbolic discovery of optimization algorithms.
          NeurIPS (Lion).
    """

    hyperparameters = {
        "adam_beta_1": fraction(0.9),
        "adam_beta_2": fraction(0.999),
        "adam_weight_decay": Hyper(0.004, low=0.0, optional=True),
        "epsilon": positive(1e-7),
        "weight_decay": Hyper(0.004, low=0.0, optional=True),
        "exclude_layers": Hyper(None, kind="strings", optional=True),
        "exclude_embeddings": Hyper(True),
        # Fixed: the iteration's polynomial, not a rate to tune during
        # training (halving one makes the iteration diverge).
        "muon_a": Hyper(3.4445, changeable=False),
        "muon_b": Hyper(-4.7750, changeable=False),
        "muon_c": Hyper(2.0315, changeable=False),
        "adam_lr_ratio": Hyper(1.0, low=0.0),
        "momentum": fraction(0.95),
        "ns_steps": Hyper(5, low=0),
        "nesterov": Hyper(True),
        "rms_rate": Hyper(0.2, low=0.0, low_open=True, optional=True),
        "fallback": Hyper("adamw", choices=FALLBACKS),
        # Fixed: they act only with fallback="lion", and a changeable
        # hyper-parameter must change the next step.
        "lion_beta_1": Hyper(
            0.9, low=0.0, high=1.0, high_open=True, changeable=False
        ),
        "lion_beta_2": Hyper(
            0.99, low=0.0, high=1.0, high_open=True, changeable=False
        ),
        "orthogonalize_convolutions": Hyper(False),
    }
    slots = (
        Slot("momentum"),
        Slot("velocity", groups=("adamw",)),
    )
    keras_equivalent = ("Muon", {})
    # Keras has no such option; the parity variants must leave it off.
    keras_equivalent_excludes = ("orthogonalize_convolutions",)
    # `weight_decay` decays only the Muon-routed variables.
    decoupled_weight_decay = False

    def __init__(self, learning_rate=None, **kwargs):
        super().__init__(learning_rate, **kwargs)
        validate_patterns("exclude_layers", self.exclude_layers)

    # ------------------------------------------------------------------
    # Routing.

    def uses_muon(self, variable):
        """Whether `variable` gets the Muon step (else the fallback)."""
        rank = len(variable.shape)
        if rank != 2 and not (
            self.orthogonalize_convolutions and 3 <= rank <= 5
        ):
            return False
        path = getattr(variable, "path", None) or str(variable.name)
        if self.exclude_embeddings and "embedding" in path.lower():
            return False
        return not path_matches(variable, self.exclude_layers or ())

    def variable_group(self, variable):
        # "muon", or the fallback's name.
        return "muon" if self.uses_muon(variable) else self.fallback

    @staticmethod
    def update_rule(grad, param, slots, hp):
        # Keras's decay, per group: `weight_decay` for Muon's variables,
        # `adam_weight_decay` for the fallback's (`decoupled_weight_decay`
        # is False, so the base leaves it to the rule).
        rate = hp.weight_decay if hp.group == "muon" else hp.adam_weight_decay
        if hp.decays and rate is not None:
            param = param - param * hp.cast(rate) * hp.lr
        if hp.group == "muon":
            return _muon_step(grad, param, slots, hp)
        lr = hp.lr * hp.cast(hp.adam_lr_ratio)
        if hp.fallback == "lion":
            return _lion_step(grad, param, slots, hp, lr)
        return _adamw_step(grad, param, slots, hp, lr)

    # ------------------------------------------------------------------
    # keras.optimizers.Muon's helper methods, for code written against it.

    def _should_use_adamw(self, variable):
        return not self.uses_muon(variable)

    def zeropower_via_newtonschulz5(self, x, steps):
        """Keras's Newton-Schulz on a 2-D tensor (`newton_schulz`)."""
        x = ops.convert_to_tensor(x)
        return newton_schulz(x, steps, self.muon_a, self.muon_b, self.muon_c)

    def lr_adjust(self, x):
        """Keras's `rms_rate * sqrt(max(A, B))` scaling of a 2-D update."""
        x = ops.convert_to_tensor(x)
        rate = self.rms_rate
        if rate is not None:
            rate = ops.cast(ops.convert_to_numpy(rate), x.dtype)
        return _scale_to_rms(x, x.shape[0], x.shape[1], rate)
