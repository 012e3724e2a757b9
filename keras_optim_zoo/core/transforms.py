"""Pure `keras.ops` pieces shared by rules and wrappers.

Gradient centralization and Lookahead's interpolation are used both by
`zoo_ranger`'s rule and by the `GradientCentralization` and `Lookahead`
wrappers; adaptive gradient clipping by its wrapper. Keras stores kernels
with the output axis last (`Dense`: `(in, out)`; `Conv2D`:
`(kh, kw, in, out)`), so "per output unit" means over all axes but the
last.
"""

from keras import ops


def centralize(grad, conv_only=False):
    r"""Gradient centralization (Yong et al., 2020): $g - \bar g$.

    For a gradient of rank $\ge 2$ (rank $\ge 4$ with `conv_only`), the
    mean over all axes but the last (each output unit's fan-in) is
    subtracted; lower ranks are returned as they are. This is the authors'
    rule (`centralized_gradient` in the GC and Ranger code) in Keras's
    layout: torch stores the output axis first and averages over the
    others. For an `Embedding` (`(vocab, dim)` in both), torch averages
    over `dim` and this over the vocabulary.
    """
    rank = len(grad.shape)
    if rank < (4 if conv_only else 2):
        return grad
    axes = tuple(range(rank - 1))
    return grad - ops.mean(grad, axis=axes, keepdims=True)


def lookahead(fast, slow, slow_step_size):
    r"""Lookahead's synchronization point (Zhang et al., 2019):
    $\phi + \alpha(\theta - \phi)$, the new slow and fast weights."""
    return slow + (fast - slow) * slow_step_size


def unitwise_norm(x):
    """The norm of each output unit of `x`, broadcastable against `x`.

    Rank 0 and 1: the whole tensor's norm. Rank 2 (`Dense`): over axis 0.
    Rank >= 3 (convolution kernels): over all axes but the last, the
    output channel. NFNets and optax 0.2.8 (`unitwise_norm`) agree for
    ranks 0, 1, 2 and 4 (HWIO); for rank 3 they sum over axis 0 only
    (a multi-head `(in, heads, out)` weight), where a Keras `Conv1D` kernel
    `(k, in, out)` has its fan-in over the first two axes.
    """
    rank = len(x.shape)
    if rank <= 1:
        return ops.sqrt(ops.sum(ops.square(x)))
    axes = (0,) if rank == 2 else tuple(range(rank - 1))
    return ops.sqrt(ops.sum(ops.square(x), axis=axes, keepdims=True))


def adaptive_clip(grad, param, clipping, epsilon):
    r"""Unit-wise adaptive gradient clipping (Brock et al., 2021).

    $$ g_i \leftarrow \begin{cases}
       \lambda \dfrac{\max(\lVert w_i\rVert, \epsilon)}{\lVert g_i\rVert}
       g_i & \lVert g_i\rVert > \lambda \max(\lVert w_i\rVert, \epsilon)
       \\ g_i & \text{otherwise} \end{cases} $$

    for each unit $i$ (`unitwise_norm`); $\lVert g_i\rVert$ is floored at
    $10^{-6}$ in the division, as in NFNets and optax.
    """
    dtype = grad.dtype
    limit = ops.maximum(
        unitwise_norm(param), ops.cast(epsilon, dtype)
    ) * ops.cast(clipping, dtype)
    norm = unitwise_norm(grad)
    clipped = grad * (limit / ops.maximum(norm, ops.cast(1e-6, dtype)))
    return ops.where(norm > limit, clipped, grad)
