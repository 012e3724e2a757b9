"""Adam-mini: one second moment per parameter block, `"zoo_adam_mini"`."""

import dataclasses
import typing

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    ZooOptimizer,
    fraction,
    positive,
    register,
)
from keras_optim_zoo.core import compile as xla

# The authors' name lists (adam-mini 1.1.1, `Adam_mini.__init__`).
ADAM_NAMES = ["bias"]
QUERY_KEY_NAMES = ["k_proj", "q_proj", "wq", "wk", "query", "key"]
VALUE_NAMES = ["v_proj", "wv", "value"]
EMBEDDING_NAMES = ["embed", "embd", "wte"]
# The authors' output, attention-projection and MLP lists: one branch.
NEURON_NAMES = [
    "lm_head",
    "output",
    "final_layer",
    "o_proj",
    "wo",
    "attn.proj",
    "feed_forward",
    "linear",
    "mlp",
]
NO_DECAY_NAMES = ["norm", "ln", "bias"]


class Blocks(typing.NamedTuple):
    """One variable's partition (its static group).

    `role`: which rule chose it. The gradient is seen with shape `view`
    and the mean of its square over `axes` is one block's second moment:
    the `velocity` slot has `view` without `axes`. `decays`: whether the
    authors' names leave it subject to weight decay.
    """

    role: str
    view: tuple
    axes: tuple
    decays: bool

    @property
    def velocity_shape(self):
        return tuple(d for i, d in enumerate(self.view) if i not in self.axes)


def _matches(names, path):
    return any(name.lower() in path for name in names or ())


def partition(
    path,
    shape,
    num_heads=None,
    *,
    adam_names=ADAM_NAMES,
    query_key_names=QUERY_KEY_NAMES,
    value_names=VALUE_NAMES,
    embedding_names=EMBEDDING_NAMES,
    neuron_names=NEURON_NAMES,
    no_decay_names=NO_DECAY_NAMES,
):
    """The `Blocks` of a Keras variable with `path` and `shape`.

    The path is lower-cased and its `/` read as `.` (torch's separator,
    which the authors' names use: `"attn.proj"`); a name matches as a
    substring, as in the authors' code, tried in their order.
    """
    path = path.lower().replace("/", ".")
    shape = tuple(int(d) for d in shape)
    rank = len(shape)
    decays = not _matches(no_decay_names, path)
    everything = tuple(range(rank))

    def blocks(role, axes, view=shape):
        return Blocks(role, tuple(view), tuple(axes), decays)

    if _matches(adam_names, path):
        return blocks("adam", ())
    if rank >= 2 and _matches(query_key_names, path):
        if rank == 3:  # MultiHeadAttention's (dim, heads, head_dim)
            return blocks("heads", (0, 2))
        if rank == 2 and num_heads is not None:
            # The authors' head: dim * dim / num_heads consecutive torch
            # elements, i.e. dim / num_heads output units of a (dim, out)
            # Keras kernel.
            inputs, outputs = shape
            width = inputs // num_heads
            if inputs % num_heads or outputs % width:
                raise ValueError(
                    f"Adam-mini splits query/key kernel {path!r} of shape "
                    f"{shape} into heads of {inputs} / num_heads = "
                    f"{inputs / num_heads:g} output units: num_heads="
                    f"{num_heads} must divide {inputs}, and the head width "
                    f"the {outputs} outputs."
                )
            return blocks(
                "heads", (0, 2), view=(inputs, outputs // width, width)
            )
        return blocks("neuron", everything[:-1])
    if rank >= 2 and _matches(embedding_names, path):
        return blocks("embedding", everything[1:])
    if rank >= 2 and _matches(value_names, path):
        return blocks("value", (0,))
    if rank >= 2 and _matches(neuron_names, path):
        return blocks("neuron", everything[:-1])
    return blocks("block", everything)


@register("zoo_adam_mini")
class AdamMini(ZooOptimizer):
    r"""Adam-mini: Adam with one second moment per parameter block.

    The parameters of each variable are partitioned into blocks $b$; every
    coordinate keeps its own first moment, and each block shares one
    second moment, the running mean of its squared gradient:

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_{b,t} = \beta_2 v_{b,t-1} + (1-\beta_2)
       \operatorname{mean}_{i \in b} g_{t,i}^2 $$
    $$ \theta_t = \theta_{t-1}(1 - \eta_t\lambda) - \frac{\eta_t}
       {1-\beta_1^t}\, \frac{m_t}{\sqrt{v_{b,t}}/\sqrt{1-\beta_2^t}
       + \epsilon} $$

    ($\epsilon$ added after the bias correction of $\sqrt{v}$, the
    decay applied first: the authors' arithmetic).

    The partition is the authors' (the official `adam-mini` 1.1.1,
    `Adam_mini`): a variable's role comes from its name, matched as
    substrings in their order, and its blocks from its role and shape. A
    Keras variable tells its path (`"multi_head_attention/query/kernel"`,
    `"sequential/dense/kernel"`, `"embedding/embeddings"`), shape and rank;
    the path is lower-cased and `/` read as torch's `.`. Roles, and the
    blocks in Keras's layouts (Dense `(in, out)`, Embedding `(vocab,
    dim)`, MultiHeadAttention query/key/value `(dim, heads, head_dim)` and
    output `(heads, head_dim, dim)`; torch's Linear weight is `(out, in)`,
    so "one per output neuron", a torch row, is a Keras column):

    - `adam_names` (`"bias"`): per coordinate (Adam).
    - `query_key_names`: one block per head. Rank 3: heads on axis 1 (from
      the shape). Rank 2 `(dim, out)`: with `num_heads`, the authors' heads
      of $dim^2/$`num_heads` elements, i.e. `dim // num_heads` output
      columns each (for grouped-query keys too); without `num_heads`, one
      block per output column (the authors' code cannot run without the
      right `n_heads` and `dim`; Keras's own attention layers need neither).
    - `embedding_names`: one block per row (per token).
    - `value_names`: one block per output neuron (axis 0 reduced: a Dense
      kernel's column, a MultiHeadAttention value kernel's
      `(head, head_dim)` pair). The authors advise `value_names=[]` (one
      block for the whole value kernel) for runs under 10-20k steps.
    - `neuron_names` (the authors' output-layer, attention-projection and
      MLP lists, one branch in their code): one block per output neuron
      (every axis but the last reduced: per column of a Dense or output
      kernel, per filter of a convolution).
    - anything else, and a non-bias variable of rank <= 1 (a
      LayerNormalization's `gamma`): one block for the whole variable, the
      authors' default ("the default PyTorch partition"). A Keras `Dense`
      is named `"dense"`, in none of the lists: an MLP of Dense layers
      gets one block per kernel unless `neuron_names` lists `"dense"`.

    `no_decay_names` (`"norm"`, `"ln"`, `"bias"`) exempt a variable from
    weight decay, as the authors do; `exclude_from_weight_decay` works
    too. Substring matching is the authors': a model named `"network"`
    puts every path of a `Sequential` (whose name is in its variables'
    paths) under `"wo"`; pass the lists that fit your names.

    Where the versions disagree: up to `adam-mini` 1.0.x (and in
    `pytorch_optimizer.AdamMini` 4.1.0) embedding and output layers were
    Adam, per coordinate; 1.1.0 changed them to one block per token, which
    is followed here. The old partition is
    `adam_names=["bias", "embed", "embd", "wte", "lm_head", "output"]`
    (pytorch-optimizer also makes a bias one block, not Adam).

    Checked against `adam-mini` 1.1.1 on 3 cases of 40 steps (the default
    partition; non-default betas, epsilon and decay; every role, with heads
    from the shape and from `num_heads`, torch's layouts converted): at
    most 4.3e-8 of the weights' scale op by op, 4.6e-7 compiled (XLA fuses
    the decayed weight and the step into one multiply-add).
    `pytorch_optimizer.AdamMini` 4.1.0 is 4.3e-8 from it where the
    partitions agree (one block per variable) and 5.3e-3 on the case with
    every role (its embedding per coordinate, its bias one block).

    State per variable: the first moment (its shape) and one float per
    block (`velocity`). Per float32 parameter: $4 + 4 B / n$ bytes for
    $B$ blocks: 4.000004 for a 1024 x 1024 Dense kernel as one block,
    4.004 with one block per output neuron, 4.0001 for a 3 x 3 x 64 x 64
    convolution kernel (one block), 8 for a bias; 4.06 on the MNIST-1D
    MLP of `make demo` (40-100-100-10).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-8`.
        weight_decay: $\lambda \ge 0$ or `None`: decoupled decay, applied
            before the step, to variables no `no_decay_names` entry
            matches. Defaults to `None` (the authors' 0).
        num_heads: Int >= 1 or `None`, fixed: attention heads of rank-2
            query/key kernels. Defaults to `None`.
        adam_names: List of strings, fixed: per-coordinate (Adam)
            variables. Defaults to the authors' `["bias"]`.
        query_key_names: List of strings, fixed: one block per head.
            Defaults to the authors' `["k_proj", "q_proj", "wq", "wk",
            "query", "key"]`.
        value_names: List of strings, fixed: one block per output neuron,
            axis 0 reduced. Defaults to the authors' `["v_proj", "wv",
            "value"]`.
        embedding_names: List of strings, fixed: one block per row.
            Defaults to the authors' `["embed", "embd", "wte"]`.
        neuron_names: List of strings, fixed: one block per output neuron,
            every axis but the last reduced. Defaults to the authors'
            output, attention-projection and MLP names, `["lm_head",
            "output", "final_layer", "o_proj", "wo", "attn.proj",
            "feed_forward", "linear", "mlp"]`.
        no_decay_names: List of strings, fixed: variables without weight
            decay. Defaults to the authors' `["norm", "ln", "bias"]`.

    References:
        - Zhang et al., 2024. Adam-mini: use fewer learning rates to gain
          more. ICLR 2025 (arXiv:2406.16793).
    """

    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-8),
        "num_heads": Hyper(None, low=1, kind="int", optional=True),
        "adam_names": Hyper(ADAM_NAMES),
        "query_key_names": Hyper(QUERY_KEY_NAMES),
        "value_names": Hyper(VALUE_NAMES),
        "embedding_names": Hyper(EMBEDDING_NAMES),
        "neuron_names": Hyper(NEURON_NAMES),
        "no_decay_names": Hyper(NO_DECAY_NAMES),
    }
    slots = ("momentum", "velocity")
    reference = "adam-mini 1.1.1 (Adam_mini)"
    decoupled_weight_decay = False
    state_bytes_per_parameter = None

    def variable_group(self, variable):
        path = getattr(variable, "path", None) or str(variable.name)
        return partition(
            path,
            variable.shape,
            self.num_heads,
            adam_names=self.adam_names,
            query_key_names=self.query_key_names,
            value_names=self.value_names,
            embedding_names=self.embedding_names,
            neuron_names=self.neuron_names,
            no_decay_names=self.no_decay_names,
        )

    def _add_slot(self, variable, slot):
        if slot.name == "velocity":
            shape = self.variable_group(variable).velocity_shape
            slot = dataclasses.replace(slot, shape=lambda _: shape)
        return super()._add_slot(variable, slot)

    @staticmethod
    def update_rule(grad, param, slots, hp):
        blocks = hp.group
        f64 = xla.wide_dtype()
        if hp.decays and blocks.decays and hp.weight_decay is not None:
            rate = ops.cast(hp.lr, f64) * hp.weight_decay
            param = param * hp.cast(1 - rate)
        step = ops.cast(hp.step, f64)
        bc1 = 1 - ops.power(hp.beta_1, step)
        bc2_sqrt = ops.sqrt(1 - ops.power(hp.beta_2, step))
        m = slots["momentum"] + (grad - slots["momentum"]) * hp.cast(
            hp.one_minus("beta_1")
        )
        square = ops.square(ops.reshape(grad, blocks.view))
        if blocks.axes:
            square = ops.mean(square, axis=blocks.axes, keepdims=True)
        v = slots["velocity"] * hp.cast(hp.beta_2) + ops.reshape(
            square, blocks.velocity_shape
        ) * hp.cast(hp.one_minus("beta_2"))
        keep = tuple(
            1 if i in blocks.axes else d for i, d in enumerate(blocks.view)
        )
        h = ops.sqrt(ops.reshape(v, keep)) / hp.cast(bc2_sqrt) + hp.cast(
            hp.epsilon
        )
        if blocks.role == "adam":
            # The authors' per-coordinate branch: lr / bc1 times m / h.
            update = m / h * hp.cast(ops.cast(hp.lr, f64) / bc1)
        else:
            step_size = hp.cast(1 / bc1) / h
            update = (
                ops.reshape(
                    ops.reshape(m, blocks.view) * step_size, param.shape
                )
                * hp.lr
            )
        return param - update, {"momentum": m, "velocity": v}
