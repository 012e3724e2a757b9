"""`ZooOptimizer`: the one base class every zoo optimizer subclasses.

An optimizer file declares its hyper-parameters (`Hyper`), its
per-variable state (`Slot`), optionally a little global state, and one pure
update rule written with `keras.ops`. This base does the rest, once:
argument validation, creating and reading variables, assigning results,
serialization, the signature shown by `help()`, and XLA compilation (via
`core.compile`, the only backend-specific module).

One step, for every optimizer, is this pipeline (each stage optional):

1. Keras's base: gradient accumulation, loss-scale unscaling, clipping.
2. `reduce`: per-variable partial sums, added over all variables (Prodigy's
   and D-Adaptation's estimates, global norms), visible to the next stages.
3. `global_update`: scalar state shared by all variables (Nadam's product).
4. `update_rule` per variable, compiled once per (shape, dtype, group):
   decoupled weight decay, then the algorithm. `variable_group` routes a
   variable to a static group (Muon's matrices and fallback), which picks
   its slots and is seen by the rule. An `IndexedSlices` gradient is
   densified, or, for `sparse_updates = "lazy"`, the rule runs on the
   touched rows only.
5. Keras's base: the EMA of the weights, the iteration counter.

`evaluation_rule` gives an evaluation point different from the training
point (schedule-free's average); `swap_evaluation_weights` puts it into the
model and `restore_training_weights` takes it out again.

This module touches private Keras optimizer API (`_backend_update_step`,
`_apply_weight_decay`, `_use_weight_decay`, `_get_current_learning_rate`,
`_get_variable_index`, `_overwrite_variable_with_gradient`,
`_learning_rate`, and on TensorFlow under a strategy
`_all_reduce_sum_gradients`, `_distributed_tf_update_step`,
`_distribution_strategy`); besides it only `core/evaluation.py` (the EMA's
`_model_variables_moving_average`) and `wrappers/base.py` (Keras's
variable index and own-variable list, as `LossScaleOptimizer` uses them)
do, so a Keras release that changes them breaks three files.
"""

import contextlib
import inspect
import math
import types

import keras
import numpy as np
from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.evaluation import EvaluationPoint, ema_values
from keras_optim_zoo.core.hyper import (
    PARAM,
    Hyper,
    Slot,
    invalid,
    path_matches,
    validate_patterns,
)

_Schedule = keras.optimizers.schedules.LearningRateSchedule

# Keyword arguments of `keras.optimizers.Optimizer`, declared like any other
# hyper-parameter so that they get the same validation and error messages.
# `weight_decay` is changeable during training (a variable read by the
# compiled update); the others are fixed once the optimizer is built.
COMMON_HYPERPARAMETERS = {
    "weight_decay": Hyper(None, low=0.0, optional=True),
    "clipnorm": Hyper(
        None, low=0.0, low_open=True, optional=True, changeable=False
    ),
    "clipvalue": Hyper(
        None, low=0.0, low_open=True, optional=True, changeable=False
    ),
    "global_clipnorm": Hyper(
        None, low=0.0, low_open=True, optional=True, changeable=False
    ),
    "use_ema": Hyper(False),
    "ema_momentum": Hyper(0.99, low=0.0, high=1.0, changeable=False),
    "ema_overwrite_frequency": Hyper(None, low=1, kind="int", optional=True),
    "loss_scale_factor": Hyper(
        None, low=0.0, low_open=True, optional=True, changeable=False
    ),
    "gradient_accumulation_steps": Hyper(
        None, low=2, kind="int", optional=True
    ),
}
_KERAS_BASE_ARGS = tuple(COMMON_HYPERPARAMETERS)
# The zoo's own common arguments: a weight-decay exclusion that, unlike
# Keras's `exclude_from_weight_decay()` method, is saved in the config.
COMMON_HYPERPARAMETERS.update(
    {
        "no_weight_decay": Hyper([], kind="strings"),
        "no_weight_decay_1d": Hyper(False),
    }
)
_COMMON_ARGS = tuple(COMMON_HYPERPARAMETERS)

# Declared for every class with `supports_cautious = True`.
CAUTIOUS = Hyper(False)

# Changeable hyper-parameters are stored as two float32 variables: the
# value rounded to float32, and what that rounding left off (also in
# float32), together 48 bits of the Python double the user gave. Keras's
# built-ins compute expressions such as `1 - beta_2` in Python double
# precision before casting to float32, and a float32 value alone cannot
# reproduce that (float32(1 - float32(0.999)) differs from float32(0.001)
# by 1.3e-5 relative). Float64 storage could, but only where float64
# exists: JAX without `jax_enable_x64` stores a "float64" variable in
# float32, and TPUs have no float64. From the pair, each step computes the
# value and, for a fraction (declared with high=1), its complement
# `1 - value`, in the widest float the backend computes in
# (`compile.wide_dtype()`): exact to float32 on every backend.
HYPER_DTYPE = "float32"
# The largest variable (elements) that the eager multi-tensor path updates
# together with others (`ZooOptimizer._eager_update`).
MULTI_TENSOR_SIZE = 2**16
# The largest variable that the compiled TensorFlow path updates op by op
# in the caller's graph instead of by its XLA kernel: measured on this
# project's 2-core CPU, an Adam-like update inside a `tf.function` took
# 295 us against the kernel's 341 us at 1,000 elements, 315 against 318 at
# 10,000, and 614 against 454 at 65,536; in `model.fit` on the MNIST-1D
# MLP (6 variables of at most 10,000), all inline made zoo_nesterov's step
# 1.34 ms against 1.50 with kernels, Keras's 1.33 (one run, 9 rounds).
INLINE_SIZE = 2**14
# Scalars key prefix of a fraction's complement (`StepContext.one_minus`).
_COMPLEMENT = "1-"


class StepContext(types.SimpleNamespace):
    """What an update rule receives besides the gradient, param and slots.

    Attributes:
        lr: Learning rate, in the parameter's dtype.
        step: 1-based step number, in the parameter's dtype (counts applied
            updates when gradient accumulation is on, as in Keras).
        count: The same step number as an integer tensor, exact at any
            step (for a period: `ops.mod(hp.count, k) == 0`; `step` is
            exact only up to 2**24 in float32, 256 in bfloat16).
        dtype: The parameter's dtype.
        <hyper-parameter>: Each declared hyper-parameter. Changeable ones
            are scalar tensors in `compile.wide_dtype()` (float64 where
            the backend has it; cast with `cast` before mixing with
            parameter-dtype tensors); fixed ones are Python values. For
            `1 - value` use `one_minus(name)`, exact on every backend.
        <global state>: Each declared global state value, after this
            step's `global_update`, in the parameter's dtype.
        <reduction>: Each sum returned by `reduce`, over all variables,
            in the parameter's dtype.
        group: The variable's group (`ZooOptimizer.variable_group`), a
            static Python value.
        decays: Whether the variable is subject to weight decay (static:
            `False` where `exclude_from_weight_decay` names it).
    """

    def cast(self, x):
        """Casts a scalar (Python or float64 tensor) to the param dtype."""
        # A context shared by the variables of a step (`_shared_scalars`)
        # holds the step's scalars already cast.
        cast = self.__dict__.get("_casts", {}).get(id(x))
        return ops.cast(x, self.dtype) if cast is None else cast

    def one_minus(self, name):
        """`1 - <name>` for a hyper-parameter declared with `high=1` (a
        beta, a momentum), computed from its stored value as Keras's
        built-ins compute it from a Python float: rounded once, on every
        backend (`1 - hp.beta_2` on a float32 value would not be)."""
        value = self.complements.get(name)
        if value is None:  # fixed: a Python value
            return 1.0 - getattr(self, name)
        return value

    def one_minus_power(self, name, exponent):
        """`1 - <name> ** exponent` (a bias correction), from `one_minus`
        as `-expm1(exponent * log1p(-(1 - value)))`: no cancellation, so
        it stays accurate where the backend has no float64 (computed as
        `1 - power(...)` in float32, `1 - 0.999 ** 1` is off by 1.3e-5
        relative)."""
        complement = ops.convert_to_tensor(self.one_minus(name))
        exponent = ops.cast(exponent, complement.dtype)
        return -ops.expm1(exponent * ops.log1p(-complement))

    def one_minus_sqrt(self, name):
        """`1 - sqrt(<name>)`, as `(1 - value) / (1 + sqrt(value))`: no
        cancellation (D-Adaptation's and Prodigy's `1 - sqrt(beta_2)`)."""
        complement = ops.convert_to_tensor(self.one_minus(name))
        value = ops.cast(getattr(self, name), complement.dtype)
        return complement / (1.0 + ops.sqrt(value))


class _HyperAttribute:
    """The attribute of one declared hyper-parameter (a data descriptor).

    Reading gives the optimizer variable of a changeable value, or the
    fixed Python value; assigning validates against the declaration and
    then assigns the variable, or raises for a fixed value. This is the one
    path for every assignment, Keras's own in its `__init__` included.
    """

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return owner._all_hyperparameters[self.name]
        return obj._hyper(self.name)

    def __set__(self, obj, value):
        obj._set_hyper(self.name, value)


class ZooOptimizer(EvaluationPoint, keras.optimizers.Optimizer):
    """Base class of the zoo optimizers.

    A subclass sets `hyperparameters`, `slots` and `update_rule` (and, where
    it needs them, `variable_group`, `reduce`, `global_state` with
    `global_update`, and `evaluation_rule`), and is registered with
    `@register("zoo_name")`.

    Common args (for every zoo optimizer, with Keras's meaning):
        learning_rate: Float >= 0, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable
            taking no arguments and returning the learning rate. Defaults to
            the optimizer's `default_learning_rate`.
        weight_decay: Float >= 0 or `None`. Decoupled weight decay applied
            before the update as `param -= param * weight_decay * lr`,
            exactly as Keras does; `exclude_from_weight_decay()` works.
            Changeable during training unless `None`. Defaults to `None`.
        no_weight_decay: List of strings: variables whose path
            contains one of them (a literal substring), or matches it as a
            glob (a pattern with `*`, `?` or `[...]`, matched against the
            whole path), get no weight decay. Unlike Keras's
            `exclude_from_weight_decay()` call, it is saved in the config.
            Defaults to `[]`.
        no_weight_decay_1d: Bool. No weight decay for any variable of
            rank 1 or 0 (biases, normalization scales and offsets), saved
            in the config. Defaults to `False`.
        clipnorm: Float > 0 or `None`. Clips each gradient to this norm.
        clipvalue: Float > 0 or `None`. Clips each gradient element-wise.
        global_clipnorm: Float > 0 or `None`. Clips all gradients jointly.
        use_ema: Bool. Keep an exponential moving average of the weights.
            Defaults to `False`.
        ema_momentum: Float in `[0, 1]`. Defaults to `0.99`.
        ema_overwrite_frequency: Int >= 1 or `None`. Defaults to `None`.
        loss_scale_factor: Float > 0 or `None`. Defaults to `None`.
        gradient_accumulation_steps: Int >= 2 or `None`. Defaults to `None`.
        jit_compile: Bool. Run the update rule XLA-compiled on the
            TensorFlow backend, whether `apply_gradients` is called eagerly,
            inside a `tf.function`, or inside `model.fit` (with or without
            `jit_compile`); variables of at most 16,384 elements (biases,
            norms, small kernels), for which an XLA launch costs more than
            their arithmetic, are updated op by op in the same graph.
            `False` runs the whole rule op by op, for debugging. Under a
            `tf.distribute` strategy other than the default, the same
            kernels update each replica's copies (Keras's per-variable
            path). Defaults to `True`.
        name: String or `None`. Name of the optimizer's variables.

    Class attributes (the capabilities, read by the test suite and tools):
        default_learning_rate: Learning rate used when none is given.
        hyperparameters: `{name: Hyper}` of the algorithm's own arguments.
        slots: Tuple of `Slot` (or slot names): per-variable state.
        global_state: `{name: initial float}` of state shared by all
            variables, updated once per step by `global_update`.
        keras_equivalent: `(keras class name, fixed kwargs)` when a Keras
            built-in computes the same numbers, else `None`.
        keras_equivalent_excludes: Declared hyper-parameters that go beyond
            the Keras twin (the twin is matched with their defaults).
        reference: What the numbers are checked against when there is no
            Keras twin (e.g. `"torch.optim.RAdam"`); the stored trajectories
            are in `tests/reference/trajectories/<registered name>.json`.
        sparse_updates: `"dense"` (an `IndexedSlices` gradient is summed
            per row and densified) or `"lazy"` (only the touched rows of
            the variable and of its slots change).
        has_evaluation_point: Whether `evaluation_rule` gives a point to
            evaluate at that differs from the training point.
        supports_cautious: Whether the optimizer takes the shared
            `cautious` argument (a fixed bool, documented in its `Args`):
            the rule's step masked by `cautious_step`. For momentum-based
            rules where the Cautious paper defines it. A rule that applies
            its own weight decay masks its update itself with
            `cautious_update` when `hp.cautious` is set.
        batch_size_scaling: How the learning rate should follow the batch
            size when it changes (used by `tune`): `"linear"` for SGD-like
            rules (Goyal et al., 2017), `"sqrt"` for adaptive ones (Malladi
            et al., 2022). Defaults to `"sqrt"`.
        decoupled_weight_decay: Whether `weight_decay` is the base's
            `param -= param * weight_decay * lr` before the rule, for every
            variable not excluded from weight decay. `False`: the rule
            applies its own form, reading `hp.weight_decay` and the static
            `hp.decays` (whether `exclude_from_weight_decay` spares this
            variable); the docstring documents it.
        state_bytes_per_parameter: Bytes of optimizer state per float32
            parameter with the default arguments, or `None` where it depends
            on the variables' shapes (then the docstring gives the formula).
        elementwise: Whether `update_rule` computes each element of its
            outputs from the same element of its inputs alone (no norms,
            sums, shapes or matrix products), so that variables may be
            updated joined into one vector: on torch, the small variables
            of a step are (multi-tensor apply). A rule with a
            `refresh_rule` is not element-wise. Defaults to `False`.
        registered_name: The `zoo_*` name (set by `register`).
    """

    default_learning_rate = 0.001
    hyperparameters = {}
    slots = ()
    global_state = {}
    keras_equivalent = None
    keras_equivalent_excludes = ()
    reference = None
    sparse_updates = "dense"
    decoupled_weight_decay = True
    supports_cautious = False
    batch_size_scaling = "sqrt"
    evaluation_rule = None
    elementwise = False
    registered_name = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = dict(COMMON_HYPERPARAMETERS)
        for klass in reversed(cls.__mro__):
            declared.update(klass.__dict__.get("hyperparameters", {}))
        if cls.supports_cautious:
            declared.setdefault("cautious", CAUTIOUS)
            if cls.keras_equivalent and "cautious" not in (
                cls.keras_equivalent_excludes
            ):
                cls.keras_equivalent_excludes = (
                    *cls.keras_equivalent_excludes,
                    "cautious",
                )
        if cls.supports_cautious and "cautious" not in (cls.hyperparameters):
            cls.__doc__ = _with_cautious_arg(cls.__doc__)
        cls._all_hyperparameters = declared
        cls.slots = tuple(
            s if isinstance(s, Slot) else Slot(s) for s in cls.slots
        )
        if cls.batch_size_scaling not in ("linear", "sqrt"):
            raise ValueError(
                f"{cls.__name__}.batch_size_scaling must be 'linear' or "
                f"'sqrt'; received {cls.batch_size_scaling!r}."
            )
        if cls.sparse_updates not in ("dense", "lazy"):
            raise ValueError(
                f"{cls.__name__}.sparse_updates must be 'dense' or 'lazy'; "
                f"received {cls.sparse_updates!r}."
            )
        if cls.elementwise and cls.refresh_rule is not None:
            raise ValueError(
                f"{cls.__name__} declares `elementwise = True` and a "
                "`refresh_rule`; a refreshed rule is not element-wise."
            )
        for name in declared:
            setattr(cls, name, _HyperAttribute(name))
        cls.has_evaluation_point = cls.evaluation_rule is not None
        if "state_bytes_per_parameter" not in cls.__dict__:
            cls.state_bytes_per_parameter = _declared_state_bytes(cls)
        cls.__signature__ = _signature(cls)

    # ------------------------------------------------------------------
    # Construction and validation.

    def __init__(
        self, learning_rate=None, *, jit_compile=True, name=None, **kwargs
    ):
        cls = type(self)
        specs = cls._all_hyperparameters
        unknown = sorted(set(kwargs) - set(specs) - {"decay"})
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unexpected argument(s) {unknown}. "
                f"Accepted arguments: {_accepted(cls)}."
            )
        values = {}
        for key, spec in specs.items():
            values[key] = spec.validate(key, kwargs.pop(key, spec.default))
        validate_patterns("no_weight_decay", values["no_weight_decay"])
        learning_rate = _validate_learning_rate(
            cls.default_learning_rate
            if learning_rate is None
            else learning_rate
        )
        jit_compile = Hyper(True).validate("jit_compile", jit_compile)
        if name is not None and not isinstance(name, str):
            raise invalid("name", name, "a string or None")
        # Keras's __init__ assigns its own arguments (`weight_decay`, ...)
        # through the descriptors, which read these two tables; Keras
        # forbids ordinary attributes before its __init__ has run.
        vars(self)["_hyper_values"] = values
        vars(self)["_hyper_vars"] = {}
        vars(self)["_hyper_residuals"] = {}
        vars(self)["_hyper_given"] = {}
        super().__init__(
            learning_rate=learning_rate,
            name=name,
            **{k: values[k] for k in _KERAS_BASE_ARGS},
            **kwargs,  # only a deprecated `decay`: Keras warns and ignores
        )
        self.jit_compile = jit_compile
        gates = {s.when for s in cls.slots if s.when is not None}
        for key, spec in specs.items():
            value = values[key]
            if not spec.changeable or value is None:
                continue
            if key in gates and not value:
                continue  # its slot is not created: fixed at zero
            for table, suffix in (
                (self._hyper_vars, ""),
                (self._hyper_residuals, "_residual"),
            ):
                table[key] = self.add_variable(
                    (),
                    dtype=HYPER_DTYPE,
                    aggregation="only_first_replica",
                    name=key + suffix,
                )
            self._store_hyper(key, value)
        self._lr_override = None
        vars(self)["_step_sums"] = None
        vars(self)["_step_scalars"] = None
        vars(self)["_globals"] = {}
        vars(self)["_eager_steps"] = {}
        vars(self)["_eager_plans"] = {}
        vars(self)["_kernels"] = {}
        vars(self)["_training_backup"] = None

    def _set_hyper(self, name, value):
        spec = type(self)._all_hyperparameters[name]
        value = spec.validate(name, value)
        if name in self._hyper_vars:
            self._store_hyper(name, value)
            return
        current = self._hyper_values[name]
        if value == current:
            return
        if name in _COMMON_ARGS and not spec.changeable and not self.built:
            # Keras's own wrappers (LossScaleOptimizer) adjust these before
            # the first step; nothing has been compiled yet.
            self._hyper_values[name] = value
            return
        if spec.changeable:
            why = (
                f"it was {current!r} at construction, so this "
                f"{type(self).__name__} holds no variable or state for it"
            )
        elif name in _KERAS_BASE_ARGS:
            why = "it is compiled into the update once the optimizer is built"
        else:
            why = "it is fixed at construction and compiled into the update"
        raise ValueError(
            f"Cannot change `{name}` from {current!r} to {value!r}: {why}. "
            f"Create a new optimizer with {name}={value!r}."
        )

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        # Validated like the constructor argument, then Keras's setter.
        value = _validate_learning_rate(value)
        keras.optimizers.Optimizer.learning_rate.fset(self, value)

    def _hyper(self, name):
        """A hyper-parameter's current value: its variable, or the fixed one."""
        return self._hyper_vars.get(name, self._hyper_values[name])

    def _store_hyper(self, name, value):
        """Assigns a validated Python float to the variable pair of `name`:
        the value in float32, and the residual that float32 left off."""
        high, low = xla.split(value)
        self._hyper_vars[name].assign(high)
        self._hyper_residuals[name].assign(low)
        self._hyper_given[name] = value

    def get_hyperparameter(self, name):
        """The current value of hyper-parameter `name` as a Python value.

        A changeable one is read from its variables with the precision it
        was given in (`optimizer.beta_2` is its float32 variable, which
        reads 0.9990000128746033 for 0.999; this returns 0.999). Needs
        eager execution for a changeable value.
        """
        if name not in type(self)._all_hyperparameters:
            raise invalid(
                "name", name, f"one of {sorted(self._all_hyperparameters)}"
            )
        if name not in self._hyper_vars:
            return self._hyper_values[name]
        return xla.stored_float(
            self._hyper_vars[name],
            self._hyper_residuals[name],
            self._hyper_given.get(name),
        )

    def hyper_variables(self):
        """The variables that hold the changeable hyper-parameters (two
        each: the float32 value and its residual)."""
        return [*self._hyper_vars.values(), *self._hyper_residuals.values()]

    # ------------------------------------------------------------------
    # State.

    def variable_group(self, variable):
        """The static group of a model variable (default: `None`, one group).

        Override to route variables: the group selects which slots the
        variable has (`Slot.groups`), is passed to the rule as `hp.group`,
        and keys the compiled kernel. It must depend only on static facts
        (shape, dtype, path) and the optimizer's fixed hyper-parameters.
        """
        return None

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # Plain attributes (not tracked by Keras: the variables are already).
        # Variables made under a tf.distribute strategy (built inside its
        # scope) take Keras's per-replica path wherever the step runs.
        vars(self)["_distributed"] = any(
            xla.is_distributed(v) for v in [*variables, self.iterations]
        )
        vars(self)["_groups"] = [self.variable_group(v) for v in variables]
        vars(self)["_slot_vars"] = [{} for _ in variables]
        for slot in self._active_slots():
            for i, var in enumerate(variables):
                if self._overwrite_variable_with_gradient(var):
                    continue
                if not slot.applies_to(self._groups[i]):
                    continue
                self._slot_vars[i][slot.name] = self._add_slot(var, slot)
        if type(self).sparse_updates == "lazy":
            for var, table in zip(variables, self._slot_vars):
                for key, slot_var in table.items():
                    if tuple(slot_var.shape) != tuple(var.shape):
                        raise ValueError(
                            f"{type(self).__name__} declares lazy sparse "
                            f"updates, so its slot {key!r} must have its "
                            f"variable's shape {tuple(var.shape)}; it has "
                            f"{tuple(slot_var.shape)}."
                        )
        dtype = variables[0].dtype if variables else keras.config.floatx()
        vars(self)["_globals"] = {
            key: self.add_variable(
                (),
                initializer=keras.initializers.Constant(init),
                dtype=dtype,
                name=key,
            )
            for key, init in type(self).global_state.items()
        }

    def _add_slot(self, variable, slot):
        shape = slot.shape_for(variable.shape)
        dtype = slot.dtype or variable.dtype
        if dtype == "wide":
            dtype = xla.wide_dtype()
        init = slot.init
        if init is PARAM:
            initializer = "zeros"
        else:
            if isinstance(init, str):
                init = self._hyper_values[init]
            initializer = keras.initializers.Constant(float(init))
        same = shape == tuple(variable.shape)
        created = self.add_variable(
            shape,
            initializer=initializer,
            dtype=dtype,
            name=slot_name(variable, slot.name),
            layout=getattr(variable, "_layout", None) if same else None,
        )
        if init is PARAM:
            with xla.init_scope():
                created.assign(xla.copy(variable, dtype))
        return created

    def _active_slots(self):
        return tuple(
            s
            for s in type(self).slots
            if s.when is None or self._hyper_values[s.when]
        )

    def slot_variables(self, variable):
        """`{slot name: optimizer variable}` for one model variable."""
        return self._slot_vars[self._get_variable_index(variable)]

    def state_bytes(self):
        """Bytes of per-variable optimizer state per parameter, as built.

        Counts the slots (not the hyper-parameters, the step counter, the
        EMA or the gradient accumulators, which Keras's base owns).
        """
        params = sum(int(np.prod(v.shape)) for v in self._trainable_variables)
        state = sum(
            int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize
            for table in self._slot_vars
            for s in table.values()
        )
        return state / max(params, 1)

    def matrix_flops(self, variable):
        """Floating-point operations of one step's matrix work for
        `variable` (products and contractions beyond the element-wise
        update; `0` for element-wise rules). `benchmarks/step_time.py`
        turns the sum into a compute floor next to the bandwidth one."""
        return 0

    # ------------------------------------------------------------------
    # The algorithm, as a subclass writes it.

    @staticmethod
    def update_rule(grad, param, slots, hp):
        """The algorithm: returns `(new_param, {slot name: new value})`.

        A static, pure function written with `keras.ops` only: `grad` and
        `param` are tensors in the parameter's dtype, `slots` a
        `{name: tensor}` dict (each in its slot's dtype), `hp` a
        `StepContext`. Slots left out of the returned dict keep their
        value. It is traced once per (shape, dtype, group) and reused for
        every variable of that kind, so it must not depend on which
        variable it updates beyond those static facts.
        """
        raise NotImplementedError

    @staticmethod
    def global_update(globals, hp):
        """New `{name: value}` of the global state, once per step."""
        return {}

    reduce = None
    """Optional `reduce(grad, param, slots, hp) -> {name: scalar}`.

    Evaluated for every variable before any update; the base adds the
    results over all variables and passes each sum to `global_update` and
    to `update_rule` as `hp.<name>`.
    """

    refresh_rule = None
    """Optional `refresh_rule(slots, hp) -> {slot name: new value}`.

    A rare, expensive part of an algorithm (SOAP's eigenbases), run on a
    variable's slots right after its update, when `refresh_due(slots, hp)`
    (a scalar bool, or a Python bool) is true for the updated slots. It
    runs as the backend's own ops, outside the update's XLA kernel:
    XLA's CPU `eigh` is 40-80 times slower than TensorFlow's (measured,
    512 x 512 and 1024 x 1024). Where the caller compiles the whole step
    (`model.fit(jit_compile=True)`) it is compiled with it.
    """

    refresh_due = None
    """`refresh_due(slots, hp)`: whether `refresh_rule` runs at this step."""

    # ------------------------------------------------------------------
    # The pipeline.

    def _context(self, learning_rate):
        """The per-step scalars, before casting to a parameter's dtype."""
        scalars = {"lr": learning_rate, "step": self.iterations + 1}
        scalars.update(self._globals)
        scalars = {k: xla.read(v) for k, v in scalars.items()}
        wide = xla.wide_dtype()
        specs = type(self)._all_hyperparameters
        for key, var in self._hyper_vars.items():
            high = ops.cast(xla.read(var), wide)
            low = ops.cast(xla.read(self._hyper_residuals[key]), wide)
            scalars[key] = high + low
            if specs[key].high == 1.0:
                # (1 - high) is exact for high in [0.5, 1] (Sterbenz);
                # subtracting the residual then rounds once.
                scalars[_COMPLEMENT + key] = (1.0 - high) - low
        return scalars

    def _step_context(self, scalars, dtype, group):
        shared = self._step_scalars
        if shared is None:
            return self._new_step_context(scalars, dtype, group)
        # One context per (scalars, dtype, group) for the step, with the
        # step's scalars cast once, here (outside any branch a rule may
        # take: a cast made inside a `cond` could not be used outside it).
        # `shared` keeps `scalars` alive, so no other dict takes its id
        # (a kernel's trace has its own `scalars`, so its own context).
        key = ("context", id(scalars), dtype, group)
        if key not in shared:
            hp = self._new_step_context(scalars, dtype, group)
            hp._casts = {id(v): ops.cast(v, dtype) for v in scalars.values()}
            shared[key] = (scalars, hp)
        return shared[key][1]

    def _new_step_context(self, scalars, dtype, group):
        names = set(self._globals) | set(self._step_sums or ())
        hp = StepContext(
            dtype=dtype,
            lr=ops.cast(scalars["lr"], dtype),
            step=ops.cast(scalars["step"], dtype),
            count=scalars["step"],
            group=group,
            **{
                k: v
                for k, v in self._hyper_values.items()
                if k not in self._hyper_vars
            },
        )
        hp.complements = {}
        for key, value in scalars.items():
            if key.startswith(_COMPLEMENT):
                hp.complements[key[len(_COMPLEMENT) :]] = value
            elif key not in ("lr", "step", "count"):
                setattr(
                    hp, key, ops.cast(value, dtype) if key in names else value
                )
        return hp

    def _body(self, decays, group, names, fn=None):
        """`body(param, slots, grad, scalars)` as used by the kernels.

        `decays`: whether the variable is subject to weight decay (not
        excluded by `exclude_from_weight_decay`); static, like `group`.
        """
        rule = fn or type(self).update_rule
        base_decay = (
            decays
            and type(self).decoupled_weight_decay
            and self._hyper_values["weight_decay"] is not None
        )
        slot_dtypes = {}
        # Rules that own their decay mask their update themselves.
        cautious = bool(self._hyper_values.get("cautious")) and (
            type(self).decoupled_weight_decay
        )

        def body(param, slots, grad, scalars):
            dtype = param.dtype
            hp = self._step_context(scalars, dtype, group)
            hp.decays = decays
            grad = ops.cast(grad, dtype)
            if base_decay and fn is None:
                wd = hp.cast(scalars["weight_decay"])
                param = param - param * wd * hp.lr
            slots = dict(zip(names, slots))
            if fn is not None:
                return fn(grad, param, slots, hp)
            for key, value in slots.items():
                slot_dtypes[key] = value.dtype
            new_param, new_slots = rule(grad, param, slots, hp)
            if cautious:
                new_param = cautious_step(param, new_param, grad)
            return ops.cast(new_param, dtype), tuple(
                None
                if new_slots.get(n) is None
                else ops.cast(new_slots[n], slot_dtypes[n])
                for n in names
            )

        return body

    def _decays(self, variable):
        return bool(self._use_weight_decay(variable)) and not (
            excluded_from_weight_decay(
                variable,
                self._hyper_values["no_weight_decay"],
                self._hyper_values["no_weight_decay_1d"],
            )
        )

    def _apply_weight_decay(self, variables):
        # Folded into the update itself (`_body`), so that it costs no
        # extra pass over memory; the arithmetic is Keras's.
        return

    def _kernel(self, kind, variable, grad):
        """The compiled function for one variable (made once per kind).

        Kernels are made per optimizer instance. Shared across instances
        (keyed by the static configuration), a kernel first traced inside
        another traced function holds that function's variables: measured,
        `test_keras_features` then fails with "Called a function
        referencing variables which have been deleted".
        """
        index = self._get_variable_index(variable)
        group = self._groups[index]
        names = tuple(self._slot_vars[index])
        decay = self._decays(variable)
        sparse = kind == "update" and self._lazy(grad)
        key = (kind, decay, group, names, sparse)
        run = self._kernels.get(key)
        if run is None:
            if kind == "reduce":
                body = self._body(False, group, names, type(self).reduce)
                run = xla.reduction(body)
            elif sparse:
                run = xla.sparse_kernel(self._body(decay, group, names))
            else:
                run = xla.kernel(self._body(decay, group, names))
            self._kernels[key] = run
        return run

    def _lazy(self, grad):
        return type(self).sparse_updates == "lazy" and xla.is_sparse(grad)

    def _reduce(self, grads, variables, scalars):
        """The sums of `reduce` over all variables (a dict, maybe empty)."""
        if type(self).reduce is None:
            return {}
        partials = []
        for grad, var in zip(grads, variables):
            slots = self.slot_variables(var)
            grad = xla.dense(grad)
            if self._compiled() and not _inline(var):
                part = self._kernel("reduce", var, grad)(
                    xla.native(var),
                    tuple(xla.native(s) for s in slots.values()),
                    grad,
                    scalars,
                )
            else:
                index = self._get_variable_index(var)
                part = self._body(
                    False, self._groups[index], tuple(slots), type(self).reduce
                )(
                    xla.read(var),
                    tuple(xla.read(s) for s in slots.values()),
                    grad,
                    scalars,
                )
            partials.append(part)
        return {
            key: ops.sum(
                ops.stack([ops.cast(p[key], "float32") for p in partials])
            )
            for key in partials[0]
        }

    def _update_globals(self, scalars):
        if not self._globals:
            return {}
        dtype = next(iter(self._globals.values())).dtype
        hp = self._step_context(scalars, dtype, None)
        new = type(self).global_update(
            {k: v.value for k, v in self._globals.items()}, hp
        )
        for key, value in new.items():
            self._globals[key].assign(value)
        return {k: xla.read(v) for k, v in self._globals.items()}

    def _begin_step(self, grads, variables, learning_rate):
        """Stages 2 and 3: the reductions and the global state."""
        scalars = self._context(learning_rate)
        vars(self)["_step_sums"] = self._reduce(grads, variables, scalars)
        scalars.update(self._step_sums)
        scalars.update(self._update_globals(scalars))
        return scalars

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        with xla.no_grad():
            self._update_all(grads, trainable_variables, learning_rate)

    def _update_all(self, grads, trainable_variables, learning_rate):
        compiled = self._compiled()
        if not compiled and xla.in_replica():
            return self._replica_update(
                grads, trainable_variables, learning_rate
            )
        scalars = self._begin_step(grads, trainable_variables, learning_rate)
        if xla.BACKEND == "torch":
            return self._eager_update(grads, trainable_variables, scalars)
        if not compiled:
            # Keras's per-variable path (tf.distribute, JAX, or
            # jit_compile=False); ends in `update_step` below, with these
            # scalars (one device, one graph).
            with self._shared_scalars(scalars):
                return super()._backend_update_step(
                    grads, trainable_variables, learning_rate
                )
        with self._shared_scalars(scalars):
            self._compiled_update(grads, trainable_variables, scalars)

    def _compiled_update(self, grads, trainable_variables, scalars):
        """Each variable's XLA kernel, or its rule op by op (`_inline`)."""
        for grad, var in zip(grads, trainable_variables):
            self._kernel_update(grad, var, scalars)

    def _kernel_update(self, grad, var, scalars, replica=False):
        """`var`'s XLA kernel on its copies on `var`'s device (one replica's,
        under a strategy: `replica`), or its rule op by op for a small
        variable (`_inline`) and, on a replica, a lazily-updated one."""
        if _inline(var) or (replica and self._lazy(grad)):
            return self._update_one(grad, var, scalars)
        param = xla.native(var)
        slots = tuple(
            xla.on_device(s, param.device)
            for s in self.slot_variables(var).values()
        )
        run = self._kernel("update", var, grad)
        if self._lazy(grad):
            run(param, slots, grad.values, grad.indices, scalars)
        else:
            run(param, slots, xla.dense(grad), scalars)
        self._refresh(var, scalars)

    def _replica_update(self, grads, trainable_variables, learning_rate):
        """One replica's step under a `tf.distribute` strategy.

        Keras's `TFOptimizer._backend_update_step` sums the gradients over
        the replicas, then updates each variable. `_begin_step` must see
        those sums, not this replica's gradients: `reduce` (D-Adaptation's
        and Prodigy's sums over all variables) would otherwise make each
        replica estimate its own `d`, and the replicas' weights part. So
        the sum comes first, and the rest of Keras's step follows with it
        (without summing again); `update_step` reads the same scalars.
        """
        pairs = self._all_reduce_sum_gradients(
            list(zip(grads, [xla.native(v) for v in trainable_variables]))
        )
        if type(self).reduce is not None or self._globals:
            self._begin_step(
                [g for g, _ in pairs], trainable_variables, learning_rate
            )
        else:  # nothing to reduce or update first: no scalars needed here
            vars(self)["_step_sums"] = {}
        with self._shared_scalars():
            xla.merge_call(
                self._distributed_tf_update_step,
                self._distribution_strategy,
                pairs,
                learning_rate,
            )

    @contextlib.contextmanager
    def _shared_scalars(self, scalars=None):
        """Within it, `update_step` computes the step's scalars (`_context`)
        once per device, not once per variable, or takes `scalars` (those
        of `_begin_step`, where all runs on one device in one graph).

        Keras's per-variable path calls `update_step` for each variable (on
        each replica's device under a strategy); the scalars (the
        hyper-parameters read from their variable pairs, the step) are the
        same for every variable of a step. Computed for each, they were 30
        graph ops a variable for Adam, and made the zoo's step under
        `MirroredStrategy` slower than Keras's on a small model (2.53 ms
        against 1.85, `benchmarks/fit_step_time.py --strategy mirrored`).
        """
        vars(self)["_step_scalars"] = (
            {} if scalars is None else {"step": scalars}
        )
        try:
            yield
        finally:
            vars(self)["_step_scalars"] = None

    def _eager_update(self, grads, variables, scalars):
        """The op-by-op step of an eager backend (torch): the step's
        scalars read once, not once per variable, and the small variables
        of an element-wise rule updated together (multi-tensor apply).

        Variables of at most `MULTI_TENSOR_SIZE` elements that share their
        static configuration (weight decay, group, slots, dtypes) are
        flattened into one vector per operand, the rule runs once on those
        vectors, and the results are copied back: one launch per operation
        for the whole group instead of one per variable. For a rule declared
        `elementwise`, every element sees exactly the operations it would
        alone, so the numbers are the per-variable path's, bit for bit
        (`tests/test_backends.py`). Larger variables, whose launch costs
        little against their data, are updated one by one.
        """
        plan_key = (tuple(id(v) for v in variables), *(g.dtype for g in grads))
        plan = self._eager_plans.get(plan_key)
        if plan is None:
            plan = self._eager_plans[plan_key] = self._eager_plan(
                grads, variables
            )
        for body, positions in plan:
            # The backend tensors, read once: a `keras.Variable`'s `value`
            # costs 4 us (a tenth of a small variable's step).
            members = [
                (
                    grads[i],
                    xla.native(variables[i]),
                    [xla.native(s) for s in self._slot_vars[index].values()],
                )
                for i, index in positions
            ]
            if len(members) == 1:
                ((grad, param, slots),) = members
            else:
                grad = xla.join([m[0] for m in members])
                param = xla.join([m[1] for m in members])
                slots = [xla.join(s) for s in zip(*[m[2] for m in members])]
            new_param, new_slots = body(param, tuple(slots), grad, scalars)
            shapes = [m[1].shape for m in members]
            targets, values = [], []
            for i, value in enumerate((new_param, *new_slots)):
                if value is None:  # the rule left the slot as it was
                    continue
                targets += [m[1] if i == 0 else m[2][i - 1] for m in members]
                values += xla.unjoin(value, shapes) if shapes[1:] else [value]
            xla.assign_all(targets, values)
            if len(members) == 1:
                self._refresh(variables[positions[0][0]], scalars)

    def _eager_plan(self, grads, variables):
        """`[(body, [(position, variable index), ...]), ...]`:
        the step's variables grouped for `_eager_update` (computed once per
        list of variables: their configuration cannot change once built,
        Keras refuses `exclude_from_weight_decay` after `build`)."""
        groups = {}
        for position, (grad, var) in enumerate(zip(grads, variables)):
            index = self._get_variable_index(var)
            table = self._slot_vars[index]
            key = (
                self._decays(var),
                self._groups[index],
                tuple(table),
                var.dtype,
                ops.dtype(grad),
                tuple(s.dtype for s in table.values()),
            )
            if not self._multi_tensor(var, table):
                key = (position, *key)  # alone
            groups.setdefault(key, []).append((position, index))
        return [
            (self._body(*key[-6:-3]), positions)
            for key, positions in groups.items()
        ]

    def _multi_tensor(self, variable, table):
        """Whether `variable` is updated with others of its configuration."""
        cls = type(self)
        return (
            cls.elementwise
            and not self._hyper_values.get("cautious")
            and math.prod(variable.shape) <= MULTI_TENSOR_SIZE
            and all(
                tuple(s.shape) == tuple(variable.shape) for s in table.values()
            )
        )

    def _refresh(self, variable, scalars):
        """Runs `refresh_rule` on `variable`'s slots where it is due."""
        cls = type(self)
        if cls.refresh_rule is None:
            return
        index = self._get_variable_index(variable)
        table = self.slot_variables(variable)
        hp = self._step_context(scalars, variable.dtype, self._groups[index])
        hp.decays = self._decays(variable)

        def current():
            return {key: xla.read(slot) for key, slot in table.items()}

        def refreshed():
            return {
                key: ops.cast(value, table[key].dtype)
                for key, value in cls.refresh_rule(current(), hp).items()
            }

        due = cls.refresh_due(current(), hp)
        if due is False:
            return
        slots = list(table)

        def new_values():
            # One call of the rule (SOAP's eigendecompositions) for all.
            values = {**current(), **refreshed()}
            return [values[key] for key in slots]

        xla.assign_if(
            due, new_values, [table[key] for key in slots], self.assign
        )

    def update_step(self, gradient, variable, learning_rate):
        # Read here, not passed on: under a strategy this runs in another
        # (cross-replica) context than `_begin_step`, once per device
        # (`_shared_scalars`): each replica reads its own copies.
        shared = self._step_scalars
        if shared is None:  # called outside `_backend_update_step`
            shared = {}
        device = getattr(variable, "device", None)
        scalars = shared.get("step", shared.get(device))
        if scalars is None:
            scalars = shared[device] = self._context(learning_rate)
            scalars.update(self._step_sums or {})
        distributed = vars(self).get("_distributed", False)
        if (
            self.jit_compile
            and xla.available()
            and (distributed or not xla.default_strategy())
        ):
            # A strategy brings a compiled optimizer here (its step is
            # otherwise `_compiled_update`): `variable` is one replica's
            # copy, and the kernel updates it and its slots' copies on
            # that device. (Called directly, as Keras's own tests do, the
            # rule runs op by op.)
            return self._kernel_update(
                gradient, variable, scalars, replica=True
            )
        self._update_one(gradient, variable, scalars)

    def _update_one(self, gradient, variable, scalars):
        """One variable's rule, op by op (uncompiled)."""
        index = self._get_variable_index(variable)
        table = self.slot_variables(variable)
        names = tuple(table)
        body = self._body(self._decays(variable), self._groups[index], names)
        if self._lazy(gradient):
            xla.sparse_apply(
                body, variable, tuple(table.values()), gradient, scalars
            )
            return
        if xla.available():
            gradient = xla.dense(gradient)
        new_param, new_slots = body(
            xla.read(variable),
            tuple(xla.read(s) for s in table.values()),
            gradient,
            scalars,
        )
        for var, value in zip(table.values(), new_slots):
            if value is not None:
                self.assign(var, value)
        self.assign(variable, new_param)
        self._refresh(variable, scalars)

    def _compiled(self):
        return (
            self.jit_compile
            and xla.available()
            and xla.default_strategy()
            and not vars(self).get("_distributed", False)
        )

    # ------------------------------------------------------------------
    # The evaluation point.

    def evaluation_values(self, variables=None):
        """The weights to evaluate at, one tensor per trainable variable.

        `evaluation_rule(param, slots, hp)` where the optimizer defines one
        (schedule-free's average), else the EMA of the weights where
        `use_ema` is on.

        Args:
            variables: The model's trainable variables, in the order the
                optimizer was built with. Defaults to those.
        """
        variables = self._evaluated_variables(variables)
        rule = type(self).evaluation_rule
        if rule is None:
            if not self.use_ema:
                raise ValueError(
                    f"{type(self).__name__} has no evaluation point: it "
                    "defines no `evaluation_rule` and `use_ema` is False."
                )
            return ema_values(self, variables)
        scalars = self._context(self._get_current_learning_rate())
        values = []
        for var in variables:
            index = self._get_variable_index(var)
            table = self._slot_vars[index]
            hp = self._step_context(scalars, var.dtype, self._groups[index])
            hp.step = hp.step - 1  # the steps taken so far
            values.append(
                ops.cast(
                    rule(var.value, {k: s.value for k, s in table.items()}, hp),
                    var.dtype,
                )
            )
        return values

    # ------------------------------------------------------------------
    # Eager calls: one traced graph per step instead of op-by-op dispatch.

    def apply(self, grads, trainable_variables=None):
        self._check_training()
        if not (self._compiled() and xla.executing_eagerly()):
            return super().apply(grads, trainable_variables)
        grads = [xla.traceable(g) for g in grads]
        if not grads:
            return
        variables = step_variables(self, trainable_variables)
        if variables is None:
            return super().apply(grads, None)  # raises Keras's error
        # The learning rate is computed eagerly at every call, so that a
        # callable or a schedule is evaluated at the current step exactly as
        # in Keras, and passed into the graph as a tensor.
        learning_rate = ops.convert_to_tensor(self._get_current_learning_rate())
        key = tuple(id(v) for v in variables)
        step = self._eager_steps.get(key)
        if step is None:

            def step(grads, learning_rate):
                self._lr_override = learning_rate
                try:
                    super(ZooOptimizer, self).apply(grads, variables)
                finally:
                    self._lr_override = None

            step = self._eager_steps[key] = xla.traced(step)
        step(grads, learning_rate)

    def _get_current_learning_rate(self):
        if getattr(self, "_lr_override", None) is not None:
            return self._lr_override
        return super()._get_current_learning_rate()

    # ------------------------------------------------------------------
    # Serialization.

    def get_config(self):
        config = super().get_config()
        for key in type(self)._all_hyperparameters:
            config[key] = self.get_hyperparameter(key)
        config["jit_compile"] = self.jit_compile
        return config

    def keras_twin(self):
        """The Keras built-in configured as this optimizer is, or `None`.

        A new `keras.optimizers` instance of the class in
        `keras_equivalent`, with every argument of this optimizer's config
        that the Keras class accepts, the fixed arguments of
        `keras_equivalent`, and the same learning rate (a schedule or
        callable is shared, a changed rate's current value is taken). The
        hyper-parameters in `keras_equivalent_excludes` must be at their
        defaults for the two to compute the same numbers. The tests and
        `benchmarks/step_time.py` compare against this.
        """
        cls = type(self)
        if cls.keras_equivalent is None:
            return None
        name, fixed = cls.keras_equivalent
        keras_cls = getattr(keras.optimizers, name)
        config = self.get_config()
        for key in ("jit_compile", "name", *cls.keras_equivalent_excludes):
            config.pop(key, None)
        allowed = keras_cls().get_config()
        kwargs = {k: v for k, v in config.items() if k in allowed}
        kwargs.update(fixed)
        learning_rate = self._learning_rate
        if isinstance(learning_rate, keras.Variable):
            learning_rate = float(ops.convert_to_numpy(learning_rate))
        kwargs["learning_rate"] = learning_rate
        return keras_cls(**kwargs)


def _inline(variable):
    """Whether the compiled path updates `variable` op by op in the
    caller's graph (`INLINE_SIZE`): an XLA launch costs more than a small
    variable's arithmetic."""
    return math.prod(variable.shape) <= INLINE_SIZE


def slot_name(variable, suffix):
    """The name of a per-variable state variable, as Keras names slots:
    the variable's path (a bare `tf.Variable`: its name), `/` and `:` as
    `_`, then `_<suffix>`."""
    if hasattr(variable, "path"):
        prefix = variable.path.replace("/", "_")
    else:
        prefix = str(variable.name).replace("/", "_").replace(":", "_")
    return f"{prefix}_{suffix}"


def step_variables(optimizer, trainable_variables):
    """The variables a step updates (a list), building `optimizer` on its
    first call as Keras does; `None` if none are given and it is not built.
    """
    if trainable_variables is None:
        if not optimizer.built:
            return None
        return list(optimizer._trainable_variables)
    variables = list(trainable_variables)
    if not optimizer.built:
        with keras.name_scope(optimizer.name, caller=optimizer):
            optimizer.build(variables)
    return variables


def _declared_state_bytes(cls):
    """Bytes per float32 parameter of the always-present, full-size slots."""
    total = 0
    for slot in cls.slots:
        if slot.shape is not None or slot.groups is not None:
            return None
        if (
            slot.when is not None
            and not cls._all_hyperparameters[slot.when].default
        ):
            continue
        dtype = {"wide": "float64", None: "float32"}.get(slot.dtype, slot.dtype)
        total += np.dtype(dtype).itemsize
    return total


def learning_rate_object(optimizer):
    """The learning rate as given to `optimizer` (any Keras optimizer).

    A `keras.Variable` for a float, else the `LearningRateSchedule` or
    callable itself; Keras has no public accessor for the latter.
    """
    return optimizer._learning_rate


def as_learning_rate(value):
    """`value`, or the schedule a config dict describes
    (`{"class_name": "zoo_cosine", "config": {...}}`, as `compare`,
    `tune` and saved configs give it); a clear error for a bad config."""
    if not isinstance(value, dict):
        return value
    try:
        schedule = keras.saving.deserialize_keras_object(value)
    except (TypeError, ValueError, KeyError) as error:
        raise invalid(
            "learning_rate",
            value,
            f"a float, a schedule or a schedule's config dict ({error})",
        ) from None
    if not isinstance(schedule, _Schedule):
        raise invalid(
            "learning_rate", value, "a LearningRateSchedule's config dict"
        )
    return schedule


def _validate_learning_rate(value):
    value = as_learning_rate(value)
    if isinstance(value, _Schedule) or callable(value):
        return value
    if isinstance(value, keras.Variable):
        value = float(ops.convert_to_numpy(value))
    return Hyper(0.001, low=0.0).validate("learning_rate", value)


def _accepted(cls):
    return ", ".join(
        ["learning_rate"]
        + list(cls._all_hyperparameters)
        + ["jit_compile", "name"]
    )


def _signature(cls):
    params = [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter(
            "learning_rate",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=cls.default_learning_rate,
        ),
    ]
    own = {
        k: v
        for k, v in cls._all_hyperparameters.items()
        if k not in _COMMON_ARGS
    }
    common = {k: cls._all_hyperparameters[k] for k in _COMMON_ARGS}
    for key, spec in list(own.items()) + list(common.items()):
        params.append(
            inspect.Parameter(
                key, inspect.Parameter.KEYWORD_ONLY, default=spec.default
            )
        )
    for key, default in (("jit_compile", True), ("name", None)):
        params.append(
            inspect.Parameter(
                key, inspect.Parameter.KEYWORD_ONLY, default=default
            )
        )
    return inspect.Signature(params)


def excluded_from_weight_decay(variable, patterns, exclude_1d):
    """Whether `no_weight_decay(_1d)` spare `variable` from decay."""
    if exclude_1d and len(variable.shape) <= 1:
        return True
    return path_matches(variable, patterns)


def cautious_update(update, grad):
    r"""The cautious form of an update (Liang et al., 2024, Algorithm 1).

    `update` $u$ is what the rule subtracts from the weights. The
    components whose sign disagrees with the gradient's are dropped and the
    rest rescaled by the variable's size $d$ over the number kept plus one:

    $$ \phi = \mathbb{1}[u \odot g > 0], \qquad
       u \leftarrow \frac{d}{\lVert\phi\rVert_0 + 1}\, \phi \odot u $$

    This is the paper's form, the authors' C-Lion and pytorch-optimizer's
    `apply_cautious` (4.1.0). The authors' later C-AdamW (and timm) divide
    by $\max(\lVert\phi\rVert_0 / d, 10^{-3})$ instead: $1 + 1/\lVert
    \phi\rVert_0$ times larger a step (twice as large for a one-element
    variable whose component is kept).

    The base applies it to the whole step of a rule that leaves weight
    decay to the base (`cautious_step`), so that decay stays unmasked, as
    in the paper. A rule that applies its own decay
    (`decoupled_weight_decay = False`) calls this on its update itself,
    when `hp.cautious` is set.
    """
    dtype = update.dtype
    mask = ops.cast(update * grad > 0, dtype)
    size = ops.cast(ops.size(mask), dtype)
    return update * (mask * (size / (ops.sum(mask) + 1)))


def cautious_step(param, new_param, grad):
    """`param - cautious_update(param - new_param, grad)`: the rule's step
    recovered from the weights (after the base's decay) and masked."""
    return param - cautious_update(param - new_param, grad)


_CAUTIOUS_ARG = """
        cautious: Bool, fixed. Take the cautious step (Liang et al., 2024):
            the update's components whose sign disagrees with the
            gradient's are dropped, the others rescaled by size / (kept +
            1) (`keras_optim_zoo.core.base.cautious_update`); weight decay
            is not masked. Defaults to `False`."""


def _with_cautious_arg(doc):
    # The shared `cautious` argument, documented once, as the last entry of
    # the class docstring's `Args:` section.
    if not doc or "    Args:" not in doc:
        return doc
    start = doc.index("    Args:")
    end = doc.find("\n\n", start)
    end = len(doc.rstrip()) if end < 0 else end
    return doc[:end] + _CAUTIOUS_ARG + doc[end:]
