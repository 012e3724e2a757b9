"""Wrappers that change the gradients before the inner optimizer's step:
`"zoo_gradient_centralization"`, `"zoo_adaptive_gradient_clipping"` and
`"zoo_skip_non_finite"`."""

import keras
from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core import transforms
from keras_optim_zoo.core.hyper import Hyper, path_matches, validate_patterns
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.wrappers.base import ZooWrapper, all_finite


def _dense(gradient):
    # Sparse (IndexedSlices) gradients are left to the inner optimizer.
    # (`xla.is_sparse`, not `.indices`: a torch tensor has that method.)
    return gradient is not None and not xla.is_sparse(gradient)


@register("zoo_gradient_centralization")
class GradientCentralization(ZooWrapper):
    r"""Gradient centralization (Yong et al., 2020) before any optimizer.

    Each gradient of a weight of rank $\ge 2$ (rank $\ge 4$, convolution
    kernels only, with `conv_only`) has its mean over each output unit's
    fan-in removed, $g \leftarrow g - \bar g$, before the inner optimizer
    sees it (`keras_optim_zoo.core.transforms.centralize`: the authors'
    rule in Keras's output-last layout). Biases and other 1-D weights are
    unchanged. `IndexedSlices` gradients (embeddings) are passed on as they
    are. `zoo_ranger` has it built in.

    Args:
        optimizer: The inner optimizer (instance, name or config).
        conv_only: Bool. Centralize convolution kernels (rank >= 4) only,
            the authors' `gc_conv_only`. Defaults to `False`.
    """

    hyperparameters = {"conv_only": Hyper(False)}

    def transform_gradients(self, grads, variables):
        return [
            transforms.centralize(g, self.conv_only) if _dense(g) else g
            for g in grads
        ]


@register("zoo_adaptive_gradient_clipping")
class AdaptiveGradientClipping(ZooWrapper):
    r"""Unit-wise adaptive gradient clipping (Brock et al., 2021).

    Each output unit's gradient is scaled down where its norm exceeds
    `clipping` times the unit's weight norm (floored at `epsilon`):

    $$ g_i \leftarrow \lambda\frac{\max(\lVert w_i\rVert,\epsilon)}
       {\lVert g_i\rVert} g_i \quad\text{if}\quad \lVert g_i\rVert >
       \lambda \max(\lVert w_i\rVert, \epsilon) $$

    Units: the whole tensor for rank 0-1, each column of a `Dense`
    kernel, each output channel of a convolution kernel
    (`keras_optim_zoo.core.transforms.unitwise_norm`). Matches optax
    0.2.8's `adaptive_grad_clip` (stored trajectories) for ranks 0-2 and
    4; optax sums a rank-3 tensor over axis 0 only. The paper does not
    clip the final classifier layer: name its variables in `exclude`.

    Args:
        optimizer: The inner optimizer (instance, name or config).
        clipping: Float $\lambda > 0$. The paper uses 0.01 to 0.16
            (smaller for larger batches). Defaults to `0.01`.
        epsilon: Float $\epsilon > 0$. Defaults to `1e-3`.
        exclude: List of strings: variables whose path contains one (or
            matches it as a glob) are not clipped. Defaults to `[]`.
    """

    hyperparameters = {
        "clipping": Hyper(0.01, low=0.0, low_open=True, changeable=False),
        "epsilon": Hyper(1e-3, low=0.0, low_open=True, changeable=False),
        "exclude": Hyper([], kind="strings"),
    }

    def __init__(self, optimizer, **kwargs):
        super().__init__(optimizer, **kwargs)
        validate_patterns("exclude", self.exclude)

    def transform_gradients(self, grads, variables):
        return [
            transforms.adaptive_clip(g, var.value, self.clipping, self.epsilon)
            if _dense(g) and not path_matches(var, self.exclude)
            else g
            for g, var in zip(grads, variables)
        ]


@register("zoo_skip_non_finite")
class SkipNonFinite(ZooWrapper):
    """Skips every step whose gradients hold a NaN or an infinity.

    Such a step changes nothing (weights, the inner optimizer's state and
    its step counter stay as they were) and adds one to `skipped_steps`,
    a variable saved with the optimizer. The
    `callbacks.SkippedStepsMonitor` callback writes it into the logs
    (History, CSVLogger, TensorBoard) and stops training with an error
    once more than `max_skipped_steps` steps have been skipped; outside
    `model.fit`, call `check_skipped_steps()`.

    With mixed precision, Keras's `LossScaleOptimizer` already skips
    overflowing steps (and lowers the loss scale): put this wrapper inside
    it (`LossScaleOptimizer(SkipNonFinite(opt))`, which
    `model.compile` does under a `mixed_float16` policy), where it sees
    only the steps that are non-finite after unscaling. The other order is
    rejected: skipping there would hide overflows from the loss scale.

    Args:
        optimizer: The inner optimizer (instance, name or config).
        max_skipped_steps: Int >= 0 or `None`: how many skipped steps are
            tolerated before `check_skipped_steps()` raises. `None`: no
            limit. Defaults to `None`.
    """

    hyperparameters = {
        "max_skipped_steps": Hyper(None, low=0, kind="int", optional=True),
    }

    def check_inner(self, inner):
        if isinstance(inner, keras.optimizers.LossScaleOptimizer):
            raise ValueError(
                "SkipNonFinite cannot wrap a LossScaleOptimizer: it would "
                "skip the overflowing steps the loss scale needs to see. "
                "Wrap the other way round: "
                "LossScaleOptimizer(SkipNonFinite(optimizer))."
            )

    def build_state(self, variables):
        self.skipped_steps = self.add_variable(
            (), initializer="zeros", dtype="int64", name="skipped_steps"
        )

    def take_step(self, grads, variables):
        finite = all_finite(grads)
        if xla.BACKEND != "tensorflow":
            # JAX traces `lax.cond` branches as pure functions, where the
            # inner optimizer's assignments would leak: take the step,
            # then keep the old values where the gradients were not finite
            # (one select per variable, fused into the trainer's step).
            touched = list(variables) + list(self.inner_optimizer.variables)
            before = [xla.copy(v, v.dtype) for v in touched]
            self.inner_optimizer.apply(grads, variables)
            for var, old in zip(touched, before):
                var.assign(ops.where(finite, var.value, old))
            self.skipped_steps.assign_add(
                ops.cast(ops.logical_not(finite), "int64")
            )
            return

        def skip():
            self.skipped_steps.assign_add(1)

        def step():
            local = [xla.local(g) for g in grads]
            self.inner_optimizer.apply(local, variables)

        ops.cond(finite, step, skip)

    def apply(self, grads, trainable_variables=None):
        super().apply(grads, trainable_variables)
        if xla.executing_eagerly():  # a custom loop: check at each step
            self.check_skipped_steps()

    def check_skipped_steps(self):
        """Raises `RuntimeError` once more than `max_skipped_steps` steps
        have been skipped; returns the count otherwise."""
        count = int(ops.convert_to_numpy(self.skipped_steps))
        limit = self.max_skipped_steps
        if limit is not None and count > limit:
            raise RuntimeError(
                f"SkipNonFinite skipped {count} steps with non-finite "
                f"gradients, more than max_skipped_steps={limit}; training "
                "stopped. The weights and optimizer state are those of the "
                "last finite step."
            )
        return count
