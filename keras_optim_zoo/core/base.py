"""`ZooOptimizer`: the one base class every zoo optimizer subclasses.

An optimizer file declares its hyper-parameters (`Hyper`), its
per-variable state (`Slot`), optionally a little global state, and one pure
update rule written with `keras.ops`. This base does the rest, once:
argument validation, creating and reading variables, assigning results,
serialization, the signature shown by `help()`, and XLA compilation (via
`core.compile`, the only backend-specific module).

This is also the only module of the package that touches private Keras
optimizer API (`_backend_update_step`, `_apply_weight_decay`,
`_use_weight_decay`, `_get_current_learning_rate`, `_get_variable_index`,
`_learning_rate`),
so a Keras release that changes it breaks one file.
"""

import inspect
import types

import keras
from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.hyper import Hyper, Slot, invalid

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

# Changeable hyper-parameters are stored in float64 variables: Keras's
# built-ins compute expressions such as `1 - beta_2` in Python double
# precision before casting to float32, and a float32 store cannot reproduce
# that (float32(1 - float32(0.999)) differs from float32(0.001) by 1.3e-5
# relative).
HYPER_DTYPE = "float64"


class StepContext(types.SimpleNamespace):
    """What an update rule receives besides the gradient, param and slots.

    Attributes:
        lr: Learning rate, in the parameter's dtype.
        step: 1-based step number, in the parameter's dtype (counts applied
            updates when gradient accumulation is on, as in Keras).
        dtype: The parameter's dtype.
        <hyper-parameter>: Each declared hyper-parameter. Changeable ones
            are float64 scalar tensors (cast with `cast` before mixing
            with parameter-dtype tensors); fixed ones are Python values.
        <global state>: Each declared global state value, after this
            step's `global_update`, in the parameter's dtype.
    """

    def cast(self, x):
        """Casts a scalar (Python or float64 tensor) to the param dtype."""
        return ops.cast(x, self.dtype)


class ZooOptimizer(keras.optimizers.Optimizer):
    """Base class of the zoo optimizers.

    A subclass sets `hyperparameters`, `slots` and `update_rule` (and, if it
    needs state shared by all variables, `global_state` and
    `global_update`), and is registered with `@register("zoo_name")`.

    Common args (for every zoo optimizer, with Keras's meaning):
        learning_rate: Float >= 0, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable
            taking no arguments and returning the learning rate. Defaults to
            the optimizer's `default_learning_rate`.
        weight_decay: Float >= 0 or `None`. Decoupled weight decay applied
            before the update as `param -= param * weight_decay * lr`,
            exactly as Keras does; `exclude_from_weight_decay()` works.
            Changeable during training unless `None`. Defaults to `None`.
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
            `jit_compile`). `False` runs the same rule op by op, for
            debugging. Under a `tf.distribute` strategy other than the
            default, the rule always runs uncompiled on each replica.
            Defaults to `True`.
        name: String or `None`. Name of the optimizer's variables.

    Class attributes read by the test suite and tools:
        default_learning_rate: Learning rate used when none is given.
        hyperparameters: `{name: Hyper}` of the algorithm's own arguments.
        slots: Tuple of `Slot` (or slot names): per-variable state.
        global_state: `{name: initial float}` of state shared by all
            variables, updated once per step by `global_update`.
        keras_equivalent: `(keras class name, fixed kwargs)` when a Keras
            built-in computes the same numbers, else `None`.
        registered_name: The `zoo_*` name (set by `register`).
    """

    default_learning_rate = 0.001
    hyperparameters = {}
    slots = ()
    global_state = {}
    keras_equivalent = None
    registered_name = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = dict(COMMON_HYPERPARAMETERS)
        for klass in reversed(cls.__mro__):
            declared.update(klass.__dict__.get("hyperparameters", {}))
        cls._all_hyperparameters = declared
        cls.slots = tuple(
            s if isinstance(s, Slot) else Slot(s) for s in cls.slots
        )
        for name in declared:
            if name == "weight_decay" or name not in _KERAS_BASE_ARGS:
                setattr(cls, name, _hyper_property(name))
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
        learning_rate = _validate_learning_rate(
            cls.default_learning_rate
            if learning_rate is None
            else learning_rate
        )
        jit_compile = Hyper(True).validate("jit_compile", jit_compile)
        if name is not None and not isinstance(name, str):
            raise invalid("name", name, "a string or None")
        # Set before Keras's __init__, which assigns `weight_decay`; plain
        # object attributes, so that Keras's tracker does not wrap them.
        object.__setattr__(self, "_zoo_ready", False)
        object.__setattr__(self, "_hyper_values", values)
        object.__setattr__(self, "_hyper_vars", {})
        super().__init__(
            learning_rate=learning_rate,
            name=name,
            **{k: values[k] for k in _KERAS_BASE_ARGS},
            **kwargs,  # only a deprecated `decay`: Keras warns and ignores
        )
        self.jit_compile = jit_compile
        # Changeable in general, but fixed in this instance: off (None) at
        # construction, or zero where that means the slot was not created.
        self._frozen = {
            key
            for key, spec in specs.items()
            if spec.changeable and values[key] is None
        } | {
            s.when
            for s in cls.slots
            if s.when is not None and not values[s.when]
        }
        with keras.name_scope(self.name, caller=self):
            for key, spec in specs.items():
                if (
                    spec.changeable
                    and key not in self._frozen
                    and values[key] is not None
                ):
                    var = keras.Variable(
                        values[key],
                        name=key,
                        dtype=HYPER_DTYPE,
                        trainable=False,
                        aggregation="only_first_replica",
                    )
                    self._track_variable(var)
                    self._hyper_vars[key] = var
        self._lr_override = None
        object.__setattr__(self, "_eager_steps", {})
        object.__setattr__(self, "_kernels", {})
        self._zoo_ready = True

    def __setattr__(self, name, value):
        if getattr(self, "_zoo_ready", False):
            specs = type(self)._all_hyperparameters
            if name in self._hyper_vars:
                self._hyper_vars[name].assign(specs[name].validate(name, value))
                return
            if name in specs:
                self._set_fixed(name, specs[name].validate(name, value))
                return
        super().__setattr__(name, value)

    def _set_fixed(self, name, value):
        spec = type(self)._all_hyperparameters[name]
        if name in _KERAS_BASE_ARGS and not spec.changeable and not self.built:
            # Keras's own wrappers (LossScaleOptimizer) adjust these before
            # the first step; nothing has been compiled yet.
            self._hyper_values[name] = value
            super().__setattr__(name, value)
            return
        if value == self._hyper_values[name]:
            return
        if name in self._frozen:
            why = (
                f"it was {self._hyper_values[name]!r} at construction, so "
                f"this {type(self).__name__} holds no variable or state for it"
            )
        elif name in _KERAS_BASE_ARGS:
            why = "it is compiled into the update once the optimizer is built"
        else:
            why = "it is fixed at construction and compiled into the update"
        raise ValueError(
            f"Cannot change `{name}` from {self._hyper_values[name]!r} to "
            f"{value!r}: {why}. Create a new optimizer with {name}={value!r}."
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

    # ------------------------------------------------------------------
    # State.

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        table = {}
        for slot in self._active_slots():
            init = slot.init
            if isinstance(init, str):
                init = self._hyper_values[init]
            table[slot.name] = self.add_optimizer_variables(
                variables,
                slot.name,
                initializer=keras.initializers.Constant(float(init)),
            )
        dtype = variables[0].dtype if variables else keras.config.floatx()
        glob = {}
        for key, init in type(self).global_state.items():
            glob[key] = self.add_variable(
                (),
                initializer=keras.initializers.Constant(init),
                dtype=dtype,
                name=key,
            )
        self._state = types.SimpleNamespace(slots=table, globals=glob)

    def _active_slots(self):
        return tuple(
            s
            for s in type(self).slots
            if s.when is None or self._hyper_values[s.when]
        )

    def slot_variables(self, variable):
        """`{slot name: optimizer variable}` for one model variable."""
        index = self._get_variable_index(variable)
        return {k: v[index] for k, v in self._state.slots.items()}

    # ------------------------------------------------------------------
    # The update.

    @staticmethod
    def update_rule(grad, param, slots, hp):
        """The algorithm: returns `(new_param, {slot name: new value})`.

        A static, pure function written with `keras.ops` only: `grad` and
        `param` are tensors in the parameter's dtype, `slots` a
        `{name: tensor}` dict, `hp` a `StepContext`. It is traced once per
        (shape, dtype) and reused for every variable of that shape, so it
        must not depend on which variable it updates.
        """
        raise NotImplementedError

    @staticmethod
    def global_update(globals, hp):
        """New `{name: value}` of the global state, once per step."""
        return {}

    def _context(self, learning_rate, globals):
        """The per-step scalars, before casting to a parameter's dtype."""
        scalars = {"lr": learning_rate, "step": self.iterations + 1}
        scalars.update(self._hyper_vars)
        scalars.update(globals)
        return {k: xla.read(v) for k, v in scalars.items()}

    def _body(self, decay):
        """`body(param, slots, grad, scalars)` as used by the kernels."""
        cls = type(self)
        rule = cls.update_rule
        names = tuple(s.name for s in self._active_slots())
        fixed = {
            k: v
            for k, v in self._hyper_values.items()
            if k not in self._hyper_vars
        }
        global_names = tuple(cls.global_state)

        def body(param, slots, grad, scalars):
            dtype = param.dtype
            lr = ops.cast(scalars["lr"], dtype)
            grad = ops.cast(grad, dtype)
            if decay:
                wd = ops.cast(scalars["weight_decay"], dtype)
                param = param - param * wd * lr
            hp = StepContext(
                dtype=dtype,
                lr=lr,
                step=ops.cast(scalars["step"], dtype),
                **fixed,
            )
            for key, value in scalars.items():
                if key in ("lr", "step"):
                    continue
                if key in global_names:
                    value = ops.cast(value, dtype)
                setattr(hp, key, value)
            new_param, new_slots = rule(
                grad, param, dict(zip(names, slots)), hp
            )
            return new_param, tuple(new_slots[n] for n in names)

        return body

    def _decays(self, variable):
        return self._hyper_values[
            "weight_decay"
        ] is not None and self._use_weight_decay(variable)

    def _apply_weight_decay(self, variables):
        # Folded into the update itself (`_body`), so that it costs no
        # extra pass over memory; the arithmetic is Keras's.
        return

    def _update_globals(self, learning_rate):
        state = self._state.globals
        if not state:
            return {}
        dtype = next(iter(state.values())).dtype
        hp = StepContext(
            dtype=dtype,
            lr=ops.cast(learning_rate, dtype),
            step=ops.cast(self.iterations + 1, dtype),
            **{k: self._hyper(k) for k in self._hyper_values},
        )
        new = type(self).global_update(
            {k: v.value for k, v in state.items()}, hp
        )
        for key, value in new.items():
            state[key].assign(value)
        return {k: v.value for k, v in state.items()}

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        globals = self._update_globals(learning_rate)
        if not self._compiled():
            # Keras's per-variable path (tf.distribute, other backends, or
            # jit_compile=False); ends in `update_step` below.
            return super()._backend_update_step(
                grads, trainable_variables, learning_rate
            )
        scalars = self._context(learning_rate, globals)
        for grad, var in zip(grads, trainable_variables):
            slots = self.slot_variables(var)
            decay = self._decays(var)
            run = self._kernels.get(decay)
            if run is None:
                run = self._kernels[decay] = xla.kernel(self._body(decay))
            run(
                xla.native(var),
                tuple(xla.native(s) for s in slots.values()),
                xla.dense(grad),
                scalars,
            )

    def update_step(self, gradient, variable, learning_rate):
        globals = {k: v.value for k, v in self._state.globals.items()}
        scalars = self._context(learning_rate, globals)
        slots = self.slot_variables(variable)
        if xla.available():
            gradient = xla.dense(gradient)
        new_param, new_slots = self._body(self._decays(variable))(
            variable, tuple(slots.values()), gradient, scalars
        )
        for var, value in zip(slots.values(), new_slots):
            self.assign(var, value)
        self.assign(variable, new_param)

    def _compiled(self):
        return self.jit_compile and xla.available() and xla.default_strategy()

    # ------------------------------------------------------------------
    # Eager calls: one traced graph per step instead of op-by-op dispatch.

    def apply(self, grads, trainable_variables=None):
        if not (self._compiled() and xla.executing_eagerly()):
            return super().apply(grads, trainable_variables)
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                return super().apply(grads, None)  # raises Keras's error
            variables = list(self._trainable_variables)
        else:
            variables = list(trainable_variables)
            if not self.built:
                with keras.name_scope(self.name, caller=self):
                    self.build(variables)
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
            value = self._hyper(key)
            if isinstance(value, keras.Variable):
                value = float(ops.convert_to_numpy(value))
            config[key] = value
        config["jit_compile"] = self.jit_compile
        return config


def learning_rate_object(optimizer):
    """The learning rate as given to `optimizer` (any Keras optimizer).

    A `keras.Variable` for a float, else the `LearningRateSchedule` or
    callable itself; Keras has no public accessor for the latter.
    """
    return optimizer._learning_rate


def _hyper_property(name):
    def getter(self):
        return self._hyper(name)

    def setter(self, value):
        if getattr(self, "_zoo_ready", False):
            self.__setattr__(name, value)
        else:  # Keras's base __init__ assigning `weight_decay`
            self._hyper_values[name] = value

    return property(getter, setter, doc=f"The `{name}` hyper-parameter.")


def _validate_learning_rate(value):
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
        if k not in _KERAS_BASE_ARGS
    }
    common = {k: cls._all_hyperparameters[k] for k in _KERAS_BASE_ARGS}
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
