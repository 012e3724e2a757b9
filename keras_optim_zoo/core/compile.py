"""XLA compilation of update rules: the package's only backend switch.

Nothing else in the package imports TensorFlow. On the TensorFlow backend:

- `kernel(key, body)` returns `body` wrapped in `tf.function(jit_compile=
  True)`. One kernel is made per optimizer class and static configuration
  and shared by every instance; TensorFlow traces it once per distinct
  (shape, dtype) of its arguments, so a ResNet-50 parameter set with 161
  variables of 4 shapes compiles 4 small XLA programs, not 161.
- `traced(fn)` wraps a whole eager `apply` into one graph, so that an eager
  step costs one graph execution instead of thousands of op dispatches.

On the JAX and torch backends `available()` is False and the optimizers
run their rules as plain `keras.ops` code (JAX's trainer jit-compiles the
whole train step itself).
"""

import keras

BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    import tensorflow as tf
else:  # pragma: no cover - exercised on other backends only
    tf = None

_KERNELS = {}


def available():
    """Whether this package compiles update rules on the current backend."""
    return tf is not None


def executing_eagerly():
    return tf.executing_eagerly()


def default_strategy():
    """Whether no `tf.distribute` strategy other than the default is active.

    Under a real strategy (e.g. `MirroredStrategy`) the optimizer falls back
    to Keras's per-variable `distribution.extended.update` path, which runs
    the same rule uncompiled on each replica's copy of the variables.
    """
    return not tf.distribute.has_strategy()


def native(variable):
    """The backend variable behind a `keras.Variable`."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return variable


def dense(gradient):
    """Densifies an `IndexedSlices` gradient, as Keras's own rules do."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


def kernel(key, body):
    """The XLA-compiled in-place update for `key`, made on first use.

    Args:
        key: Hashable description of everything `body` bakes in.
        body: `body(param, slots, grad, scalars) -> (new_param, new_slots)`
            on tensors, where `slots` and `new_slots` are tuples and
            `scalars` a dict of scalar tensors.

    Returns:
        `run(param_var, slot_vars, grad, scalars)` that assigns the new
        values to the variables.
    """
    fn = _KERNELS.get(key)
    if fn is None:

        def run(param, slots, grad, scalars):
            new_param, new_slots = body(
                param.read_value(),
                tuple(s.read_value() for s in slots),
                grad,
                scalars,
            )
            for var, value in zip(slots, new_slots):
                var.assign(value)
            param.assign(new_param)

        fn = tf.function(run, jit_compile=True, autograph=False)
        _KERNELS[key] = fn
    return fn


def traced(fn):
    """`fn` traced into one graph (not XLA-compiled as a whole)."""
    return tf.function(fn, reduce_retracing=True, autograph=False)


def tracing_count():
    """Total number of traces of all kernels made so far (for tests)."""
    return sum(k.experimental_get_tracing_count() for k in _KERNELS.values())
