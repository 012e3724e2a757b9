"""LazyAdam: Adam that updates only the rows a sparse gradient touches."""

from keras_optim_zoo.core import Slot, ZooOptimizer, register
from keras_optim_zoo.optimizers.adam import (
    _ADAM_ARGS,
    _ADAM_DOC_MATH,
    _ADAM_HYPERPARAMETERS,
    _AMSGRAD_ARG,
    _LR_ARG,
    _adam_rule,
)


@register("zoo_lazyadam")
class LazyAdam(ZooOptimizer):
    __doc__ = (
        r"""LazyAdam: Adam with lazy (row-wise) updates for sparse gradients.

    For a dense gradient this is Adam, matching `keras.optimizers.Adam`
    step for step:
"""
        + _ADAM_DOC_MATH
        + r"""

    For an `tf.IndexedSlices` gradient (an `Embedding`'s, say) the rule
    runs on the touched rows only: the gradient rows of a repeated index
    are summed first (the true gradient of that row), then, for each
    touched row $r$, $m_r$, $v_r$ (and $\hat v_r$) and $\theta_r$ are
    updated as above, with $t$ the optimizer's global step. Rows that no
    gradient touches keep their value and their moments: their $m$ is not
    decayed, so an embedding row that was seen long ago resumes with its old
    momentum. This is cheaper than Adam for large, sparsely used tables and
    usually trains as well; it is not the same algorithm as Adam on the
    densified gradient (which decays every row's moments and moves every
    row with non-zero momentum at every step).

    Matches `tfa.optimizers.LazyAdam` (TensorFlow Addons, same arguments
    and defaults; its sparse path also sums repeated indices and uses the
    global step). `torch.optim.SparseAdam` computes the same algorithm
    (epsilon added to $\sqrt{v_t}$, step size
    $\eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)$, repeated indices summed), with
    `eps=1e-8` by default and its step counted per parameter, i.e. the
    number of steps in which that parameter received a gradient (the same
    as the global step as long as each step's gradient reaches it); it
    accepts no dense gradient and no AMSGrad. `tests/test_lazy_sparse.py`
    checks the touched and untouched rows against a NumPy transcription of
    the algorithm and against stored `torch.optim.SparseAdam` trajectories.

    Weight decay (`weight_decay`, applied by the base as
    $\theta \leftarrow \theta - \lambda\eta_t\theta$ before the step) is
    lazy too: with a sparse gradient only the touched rows decay.
    `gradient_accumulation_steps` sums the gradients into dense
    accumulators, so the accumulated update is a dense (Adam) step.
    `loss_scale_factor` cannot be used with `IndexedSlices` gradients:
    Keras's base divides each gradient by the factor, which an
    `IndexedSlices` does not support (as for Keras's own optimizers).

    Args:"""
        + _LR_ARG
        + _ADAM_ARGS
        + _AMSGRAD_ARG
        + r"""

    References:
        - Kingma & Ba, 2015. Adam: A method for stochastic optimization.
          ICLR.
        - TensorFlow Addons, `tfa.optimizers.LazyAdam` (and TF1's
          `tf.contrib.opt.LazyAdamOptimizer`).
    """
    )

    elementwise = True
    hyperparameters = _ADAM_HYPERPARAMETERS
    slots = ("momentum", "velocity", Slot("velocity_hat", when="amsgrad"))
    keras_equivalent = ("Adam", {})
    sparse_updates = "lazy"
    update_rule = staticmethod(_adam_rule)
