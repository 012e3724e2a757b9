"""`ZooWrapper`: the one base class of the optimizer wrappers.

A wrapper holds another optimizer (a zoo optimizer, a Keras built-in, or
another wrapper) and changes what happens around its step, without knowing
its rule. One step is this pipeline (each stage optional):

1. `transform_gradients(grads, variables)`: gradient centralization,
   adaptive gradient clipping;
2. `take_step(grads, variables)`: the inner optimizer's `apply` (skipping
   steps with non-finite gradients replaces this stage);
3. `after_step(variables)`: Lookahead's synchronization, weight averages.

A wrapper declares its own arguments as fixed `Hyper`s (validated with the
package's one error format) and its state as `add_variable`s in
`build_state`. The base delegates the learning rate, the step counter and
the EMA to the inner optimizer (as Keras's `LossScaleOptimizer` does), so
the zoo's callbacks (scheduler, logger, ReduceLROnPlateau) act on the inner
optimizer through `inner_optimizer`, and saves the inner optimizer's
config nested in its own, and its variables after its own.
"""

import keras
from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core.base import (
    as_learning_rate,
    slot_name,
    step_variables,
)
from keras_optim_zoo.core.evaluation import (
    EvaluationPoint,
    has_point,
    point_values,
)
from keras_optim_zoo.core.hyper import invalid


def resolve_optimizer(optimizer, argument="optimizer"):
    """A `keras.optimizers.Optimizer` from an instance, a name or a config."""
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if isinstance(optimizer, (str, dict)):
        try:
            found = keras.optimizers.get(optimizer)
        except ValueError as error:
            raise ValueError(
                f"Invalid value for argument `{argument}`: received "
                f"{argument}={optimizer!r}; expected an optimizer, a "
                f"registered optimizer name or an optimizer config ({error})"
            ) from None
        if isinstance(found, keras.optimizers.Optimizer):
            return found
    raise invalid(
        argument,
        optimizer,
        "a keras.optimizers.Optimizer instance (a zoo optimizer, a Keras "
        "built-in or a wrapper), a registered optimizer name or its config",
    )


class ZooWrapper(EvaluationPoint, keras.optimizers.Optimizer):
    """Base class of the wrappers: an optimizer around another optimizer.

    Args:
        optimizer: The inner optimizer: a `keras.optimizers.Optimizer`
            instance (zoo, Keras built-in or another wrapper), a registered
            name (`"zoo_radam"`, `"adam"`) or a config dict.
        learning_rate: `None`, or a learning rate (float, schedule or
            callable) for the inner optimizer, set on it (and saved in its
            config): `compare` and `tune` pass the rate this way.
        name: String or `None`. Name of the wrapper's own variables.

    Class attributes:
        hyperparameters: `{name: Hyper}` of the wrapper's own (fixed)
            arguments, validated at construction and saved in the config.
        has_own_evaluation_point: Whether `own_evaluation_values` gives a
            point to evaluate at (Lookahead's slow weights); otherwise the
            inner optimizer's evaluation point, if any, is the wrapper's.
        registered_name: The `zoo_*` name (set by `register`).
    """

    hyperparameters = {}
    has_own_evaluation_point = False
    registered_name = None
    registry_kind = "wrapper"

    def __init__(self, optimizer, *, learning_rate=None, name=None, **kwargs):
        cls = type(self)
        unknown = sorted(set(kwargs) - set(cls.hyperparameters))
        if unknown:
            accepted = ", ".join(
                ["optimizer", *cls.hyperparameters, "learning_rate", "name"]
            )
            raise ValueError(
                f"{cls.__name__} got unexpected argument(s) {unknown}. "
                f"Accepted arguments: {accepted}."
            )
        values = {
            key: spec.validate(key, kwargs.get(key, spec.default))
            for key, spec in cls.hyperparameters.items()
        }
        if name is not None and not isinstance(name, str):
            raise invalid("name", name, "a string or None")
        inner = resolve_optimizer(optimizer)
        self.check_inner(inner)
        if learning_rate is not None:  # validated by the inner optimizer
            inner.learning_rate = as_learning_rate(learning_rate)
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner
        vars(self)["_wrapper_values"] = values
        for key, value in values.items():
            setattr(self, key, value)

    def check_inner(self, inner):
        """Raises if this wrapper cannot hold `inner` (a hook)."""

    # ------------------------------------------------------------------
    # Delegated to the inner optimizer.

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if hasattr(self, "inner_optimizer"):
            self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def use_ema(self):
        return self.inner_optimizer.use_ema

    @use_ema.setter
    def use_ema(self, value):
        # Keras's __init__ sets its own default; the inner one's counts.
        pass

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    # ------------------------------------------------------------------
    # The pipeline.

    def build(self, var_list):
        if self.built:
            return
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(var_list)
        super().build(var_list)
        self.build_state(list(var_list))

    def build_state(self, variables):
        """Creates the wrapper's own state for `variables` (a hook)."""

    def transform_gradients(self, grads, variables):
        """The gradients the inner optimizer receives (a hook)."""
        return grads

    def take_step(self, grads, variables):
        """The inner optimizer's step (a hook)."""
        self.inner_optimizer.apply(grads, variables)

    def after_step(self, variables):
        """Runs after the inner optimizer's step (a hook)."""

    def apply(self, grads, trainable_variables=None):
        step = begin_apply(self, grads, trainable_variables)
        if step is None:
            return
        grads, variables = step
        with keras.name_scope(self.name, caller=self):
            grads = self.transform_gradients(grads, variables)
            self.take_step(grads, variables)
            self.after_step(variables)

    # ------------------------------------------------------------------
    # The evaluation point.

    @property
    def has_evaluation_point(self):
        """Whether this wrapper (or its inner optimizer) has one."""
        if type(self).has_own_evaluation_point:
            return True
        return has_point(self.inner_optimizer)

    def own_evaluation_values(self, variables):
        """The wrapper's own evaluation point (a hook)."""
        raise NotImplementedError

    def evaluation_values(self, variables=None):
        """The weights to evaluate at: the wrapper's own point, else the
        inner optimizer's (its `evaluation_values()`, or its EMA)."""
        variables = self._evaluated_variables(variables)
        if type(self).has_own_evaluation_point:
            return self.own_evaluation_values(variables)
        inner = self.inner_optimizer
        values = point_values(inner, variables)
        if values is not None:
            return values
        raise ValueError(
            f"{type(self).__name__} around {type(inner).__name__} has no "
            "evaluation point: neither has its own, and the inner "
            "optimizer has no evaluation rule and use_ema=False."
        )

    # ------------------------------------------------------------------
    # Serialization.

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(
                self.inner_optimizer
            ),
            **vars(self)["_wrapper_values"],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = config.pop("optimizer")
        if isinstance(inner, dict):
            inner = keras.saving.deserialize_keras_object(
                inner, custom_objects=custom_objects
            )
        return cls(inner, **config)


def begin_apply(optimizer, grads, trainable_variables):
    """`(grads, variables)` of a wrapper's step, building it on its first
    call; `None` when there are no gradients. Raises while the evaluation
    weights are swapped in, or without variables before it is built."""
    optimizer._check_training()
    grads = list(grads)
    if not grads:
        return None
    variables = step_variables(optimizer, trainable_variables)
    if variables is None:
        raise ValueError(
            f"{type(optimizer).__name__} has not been built: pass the "
            "variables with the first gradients, or call "
            "build(variables) first."
        )
    return grads, variables


def per_variable(optimizer, variables, name, initial=None):
    """One variable of `optimizer` per model variable, named after it.

    `initial`: `None` for zeros, else `"param"` to start from the
    variable's value.
    """
    created = []
    for var in variables:
        slot = optimizer.add_variable(
            tuple(var.shape),
            initializer="zeros",
            dtype=var.dtype,
            name=slot_name(var, name),
        )
        if initial == "param":
            with xla.init_scope():
                slot.assign(xla.copy(var, var.dtype))
        created.append(slot)
    return created


def all_finite(grads):
    """A scalar bool tensor: whether every gradient is finite."""
    checks = [ops.all(ops.isfinite(_values(g))) for g in grads if g is not None]
    if not checks:
        return ops.convert_to_tensor(True)
    return ops.all(ops.stack(checks))


def _values(gradient):
    # An IndexedSlices gradient (an Embedding's): its values. (Not any
    # `.values`: a torch tensor has a method of that name.)
    return gradient.values if xla.is_sparse(gradient) else gradient
