"""XLA compilation of update rules: the package's only backend switch.

Nothing else in the package imports TensorFlow. On the TensorFlow backend:

- `kernel(body)` returns `body` wrapped in `tf.function(jit_compile=True)`.
  TensorFlow traces it once per distinct (shape, dtype) of its arguments,
  so a ResNet-50 parameter set with 161 variables of 4 shapes compiles 4
  small XLA programs, not 161.
- `traced(fn)` wraps a whole eager `apply` into one graph, so that an eager
  step costs one graph execution instead of thousands of op dispatches.

On the JAX and torch backends `available()` is False and the optimizers
run their rules as plain `keras.ops` code (JAX's trainer jit-compiles the
whole train step itself).
"""

import contextlib
import math

import keras
import numpy as np

BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    import tensorflow as tf
else:  # pragma: no cover - exercised on other backends only
    tf = None


def available():
    """Whether this package compiles update rules on the current backend."""
    return tf is not None


def wide_dtype():
    """The widest float the backend computes in now: `"float64"`, or
    `"float32"` on JAX without `jax_enable_x64` (where a float64 array is
    silently a float32 one). Read at each step: JAX's flag can change."""
    if BACKEND == "jax":  # pragma: no cover - exercised on JAX only
        import jax

        return "float64" if jax.config.read("jax_enable_x64") else "float32"
    return "float64"


def split(value):
    """A Python float as `(float32 value, float32 residual)`: together 48
    bits of the double, so that a backend without float64 (JAX without
    `jax_enable_x64`, TPUs) still gets the double's arithmetic."""
    high = np.float32(value)
    return high, np.float32(value - float(high))


def _veltkamp(x):
    # x = high + low exactly, each with at most 12 significant bits
    # (float32: 24 bits, split by 2**12 + 1).
    c = x * 4097.0
    high = c - (c - x)
    return high, x - high


def times(high, low, x):
    """`(high + low) * x` for a `split` pair (tensors) and a scalar
    tensor `x`, rounded once to float32 where the backend has no float64.

    In float64 that is the plain product. In float32 the product
    `high * x` is made error-free first (Dekker's two-product), so that
    the residual and the product's own rounding error both reach the
    result: measured on JAX without x64, `0.2 * 0.05` from a factor given
    as the double 0.01 / float32(0.05) was float32(0.01) + 1 ulp as a
    plain float32 product, and still with `high * x + low * x`.
    """
    wide = wide_dtype()
    high, low, x = (keras.ops.cast(v, wide) for v in (high, low, x))
    if wide == "float64":
        return (high + low) * x
    product = high * x
    ah, al = _veltkamp(high)
    xh, xl = _veltkamp(x)
    error = ((ah * xh - product) + ah * xl + al * xh) + al * xl
    return product + (error + low * x)


def stored_float(high, low, given=None):
    """A `split` pair of variables read back as a Python float: `given`
    (the double last assigned) if the pair still holds it, else the pair's
    48-bit value (a checkpoint was loaded, a variable assigned directly).
    Needs eager execution."""
    stored = (
        np.float32(keras.ops.convert_to_numpy(high)),
        np.float32(keras.ops.convert_to_numpy(low)),
    )
    if given is not None and split(given) == stored:
        return given
    return float(stored[0]) + float(stored[1])


def concrete(condition):
    """`condition` as a Python bool where its value is known now (eager
    JAX and torch, a Python bool), else `None` (a traced value; on
    TensorFlow always `None`: its `cond` handles both)."""
    if isinstance(condition, bool):
        return condition
    if BACKEND == "torch":
        return bool(condition)
    if BACKEND == "jax":
        import jax

        if not isinstance(condition, jax.core.Tracer):
            return bool(condition)
    return None


def cond(condition, true_fn, false_fn):
    """`keras.ops.cond`, or the branch itself where `condition` is known
    now (`concrete`): eager JAX traces and compiles both branches of a
    `lax.cond` of fresh functions at every call (measured on the test
    problem's six small variables, eagerly on JAX: a SOAP step 1.4 s
    before, 0.01 s after; SWA's 0.10 s and 0.003 s)."""
    known = concrete(condition)
    if known is None:
        return keras.ops.cond(condition, true_fn, false_fn)
    return true_fn() if known else false_fn()


def assign_if(condition, compute, targets, assign=None):
    """Assigns `compute()` (new values, one per variable of `targets`) to
    `targets` where the scalar bool `condition` holds.

    TensorFlow assigns inside the `tf.cond` branch, so that a step whose
    condition is false writes nothing. JAX traces each `lax.cond` branch
    as a pure function, where an assignment would leak a traced value out
    of it; there (and on torch, to keep one rule) the branches return the
    new or the current values and the assignment follows. `assign(var,
    value)` defaults to `var.assign(value)` (the optimizer's `assign`
    under a `tf.distribute` strategy).
    """
    assign = assign or (lambda var, value: var.assign(value))
    known = concrete(condition)
    if known is not None:
        # Known now (eager JAX or torch): only the branch taken, as `cond`.
        if known:
            for var, value in zip(targets, compute()):
                assign(var, keras.ops.cast(value, var.dtype))
        return
    if tf is not None:

        def branch():
            for var, value in zip(targets, compute()):
                assign(var, value)

        keras.ops.cond(condition, branch, lambda: None)
        return
    values = keras.ops.cond(
        condition,
        lambda: [
            keras.ops.cast(v, t.dtype) for v, t in zip(compute(), targets)
        ],
        lambda: [read(t) for t in targets],
    )
    for var, value in zip(targets, values):
        assign(var, value)


def executing_eagerly():
    """Whether values can be read now (not inside a traced function)."""
    if tf is None:  # pragma: no cover - torch runs eagerly, JAX traces
        return BACKEND == "torch"
    return tf.executing_eagerly()


def init_scope():
    """Eager execution, even while a `tf.function` is being traced.

    Optimizer state built inside a traced function (a custom training
    step that builds the optimizer on its first call) must get its
    initial value (a copy of the weights) once, now, not as an op of the
    function's graph.
    """
    if tf is None:  # pragma: no cover
        return contextlib.nullcontext()
    return tf.init_scope()


def default_strategy():
    """Whether no `tf.distribute` strategy other than the default is active.

    Under a real strategy (e.g. `MirroredStrategy`) the optimizer takes
    Keras's per-variable `distribution.extended.update` path, which calls
    the kernels (or the rule op by op) on each replica's copy of the
    variables; so it does for variables created under one
    (`is_distributed`).
    """
    return not tf.distribute.has_strategy()


def in_replica():
    """Whether this runs in a replica of a `tf.distribute` strategy other
    than the default (`strategy.run`, `fit`'s step), where the gradients
    are this replica's and Keras sums them over the replicas."""
    return (
        tf is not None
        and tf.distribute.has_strategy()
        and tf.distribute.in_cross_replica_context() is False
    )


def merge_call(fn, strategy, *args):
    """`fn(strategy, *args)` in the cross-replica context (TensorFlow)."""
    return tf.__internal__.distribute.interim.maybe_merge_call(
        fn, strategy, *args
    )


def is_distributed(variable):
    """Whether `variable` is a `tf.distribute` one (a `MirroredVariable`:
    one copy per replica), which the compiled kernels cannot update. An
    optimizer built inside a strategy's scope holds such variables also
    when it is applied outside the scope."""
    return tf is not None and isinstance(
        native(variable), tf.distribute.DistributedValues
    )


def on_device(variable, device):
    """The copy on `device` of a `tf.distribute` variable (a
    `MirroredVariable`'s), or the backend variable itself."""
    variable = native(variable)
    if tf is None or not isinstance(variable, tf.distribute.DistributedValues):
        return variable
    copies = variable.distribute_strategy.experimental_local_results(variable)
    return next(c for c in copies if c.device == device)


def native(variable):
    """The backend variable behind a `keras.Variable`."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return variable


def read(value):
    """The current value of a variable (or a tensor) as a tensor."""
    if tf is None:  # pragma: no cover
        return keras.ops.convert_to_tensor(value)
    return tf.convert_to_tensor(native(value))


def no_grad():
    """A context in which torch records no autograd graph (an update is
    never differentiated; recording it cost the zoo's momentum step on the
    27.5 M set 123 ms against 61 ms, measured in consecutive runs, outside
    `fit`, whose trainer already turns it off). Nothing elsewhere."""
    if BACKEND == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


# The torch multi-tensor path (`ZooOptimizer._eager_update`), on torch
# tensors (`native` variables): torch only.


def assign_all(variables, values):
    """Copies each value into its tensor, in one multi-tensor copy."""
    import torch

    torch._foreach_copy_(list(variables), list(values))


def join(tensors):
    """The tensors flattened and concatenated."""
    import torch

    return torch.cat([t.reshape(-1) for t in tensors])


def unjoin(vector, shapes):
    """`join` undone: one view per shape, of consecutive elements."""
    sizes = [math.prod(s) for s in shapes]
    return [p.view(s) for p, s in zip(vector.split(sizes), shapes)]


def copy(variable, dtype):
    """A new tensor holding `variable`'s value in `dtype`.

    Not the variable's own buffer: on JAX a cast to the same dtype returns
    the same array, and a slot sharing its weight's buffer makes the
    trainer's donating `jax.jit` fail ("Attempt to donate the same buffer
    twice").
    """
    return keras.ops.copy(keras.ops.cast(read(variable), dtype))


def dense(gradient):
    """Densifies an `IndexedSlices` gradient, as Keras's own rules do."""
    if tf is None:  # pragma: no cover - no IndexedSlices on JAX or torch
        return gradient
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


def is_sparse(gradient):
    """Whether a gradient is an `IndexedSlices` (an Embedding's, say)."""
    return tf is not None and isinstance(gradient, tf.IndexedSlices)


def local(gradient):
    """`gradient` as a tensor of the current graph (a `cond` branch).

    Keras's TensorFlow optimizers all-reduce the gradients with an op
    whose inputs must come from one graph: inside a branch, gradients
    captured from outside and gradients computed in the branch must not
    mix.
    """
    if tf is None or gradient is None:  # pragma: no cover
        return gradient
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(
            tf.identity(gradient.values),
            tf.identity(gradient.indices),
            gradient.dense_shape,
        )
    return tf.identity(gradient)


def traceable(gradient):
    """A gradient that `tf.function` can take as an argument.

    An `IndexedSlices` built by hand may carry a Python tuple as its
    `dense_shape`, which a traced function cannot receive; Keras's own
    optimizers accept it, so the shape is made a tensor here.
    """
    if is_sparse(gradient) and gradient.dense_shape is not None:
        if not isinstance(gradient.dense_shape, tf.Tensor):
            return tf.IndexedSlices(
                gradient.values,
                gradient.indices,
                tf.convert_to_tensor(gradient.dense_shape, "int64"),
            )
    return gradient


def kernel(body):
    """`body` as an XLA-compiled in-place update of variables.

    Args:
        body: `body(param, slots, grad, scalars) -> (new_param, new_slots)`
            on tensors, where `slots` and `new_slots` are tuples and
            `scalars` a dict of scalar tensors.

    Returns:
        `run(param_var, slot_vars, grad, scalars)`, a `tf.function` that
        assigns the new values to the variables. It is traced (and
        compiled) once per distinct shape and dtype of its arguments, and
        reused for every variable of that shape. Kernels are made per
        optimizer instance: a trace made inside another traced function
        holds references to the variables it first saw, so sharing
        kernels across instances could reach variables that no longer
        exist (measured: `ZooOptimizer._kernel`).
    """

    def run(param, slots, grad, scalars):
        new_param, new_slots = body(
            param.read_value(),
            tuple(s.read_value() for s in slots),
            grad,
            scalars,
        )
        for var, value in zip(slots, new_slots):
            if value is not None:  # None: the rule left the slot as it was
                var.assign(value)
        param.assign(new_param)

    return tf.function(run, jit_compile=True, autograph=False)


def reduction(body):
    """`body` (returning a dict of scalars) as an XLA-compiled read."""

    def run(param, slots, grad, scalars):
        return body(
            param.read_value(),
            tuple(s.read_value() for s in slots),
            grad,
            scalars,
        )

    return tf.function(run, jit_compile=True, autograph=False)


def _touched_rows(values, indices):
    """Each position's row gradient, duplicates of an index summed.

    Returns `(row_grads, indices)` with one entry per position of `indices`
    (a row that appears twice appears twice, with the same summed value),
    using only static-shape operations so that XLA can compile it: sort,
    number the runs of equal indices, sum per run, and gather back.
    """
    indices = tf.cast(indices, "int32")
    count = tf.shape(indices)[0]
    order = tf.argsort(indices)
    ordered = tf.gather(indices, order)
    starts = tf.cast(
        tf.concat(
            [
                tf.ones_like(ordered[:1]),
                tf.cast(ordered[1:] != ordered[:-1], "int32"),
            ],
            axis=0,
        ),
        "int32",
    )
    run_of_sorted = tf.cumsum(starts) - 1
    run_of_position = tf.scatter_nd(order[:, None], run_of_sorted, [count])
    sums = tf.math.unsorted_segment_sum(values, run_of_position, count)
    return tf.gather(sums, run_of_position), indices


def sparse_apply(body, param, slots, gradient, scalars):
    """Runs `body` on the rows an `IndexedSlices` gradient touches.

    The rows of the variable and of each slot are gathered, updated by the
    rule and scattered back; rows no gradient touched keep their values
    (the "lazy" update of LazyAdam). Repeated indices are summed first.
    """
    param, slots = native(param), tuple(native(s) for s in slots)
    grad, indices = _touched_rows(gradient.values, gradient.indices)
    new_param, new_slots = body(
        tf.gather(param, indices),
        tuple(tf.gather(s, indices) for s in slots),
        grad,
        scalars,
    )
    for var, value in zip(slots, new_slots):
        if value is not None:
            var.scatter_update(tf.IndexedSlices(value, indices))
    param.scatter_update(tf.IndexedSlices(new_param, indices))


def sparse_kernel(body):
    """`sparse_apply` for `body`, XLA-compiled once per shape."""

    def run(param, slots, values, indices, scalars):
        sparse_apply(
            body, param, slots, tf.IndexedSlices(values, indices), scalars
        )

    return tf.function(run, jit_compile=True, autograph=False)


def traced(fn):
    """`fn` traced into one graph (not XLA-compiled as a whole)."""
    return tf.function(fn, reduce_retracing=True, autograph=False)


def tracing_count(functions):
    """Total number of traces of the given `tf.function`s (for tests)."""
    return sum(f.experimental_get_tracing_count() for f in functions)
