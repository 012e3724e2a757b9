r"""Parameter groups, `"zoo_parameter_groups"`: different optimizers,
learning rates and weight decay for different variables; and the groups of
layer-wise learning-rate decay (`layerwise_decay`)."""

import posixpath
import re

import keras
import numpy as np
from keras import ops

from keras_optim_zoo.callbacks._common import chain
from keras_optim_zoo.core.base import as_learning_rate, learning_rate_object
from keras_optim_zoo.core.evaluation import (
    EvaluationPoint,
    has_point,
    point_values,
)
from keras_optim_zoo.core.hyper import (
    Hyper,
    invalid,
    path_matches,
    validate_patterns,
)
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.wrappers.base import begin_apply, resolve_optimizer

_Schedule = keras.optimizers.schedules.LearningRateSchedule
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
DEFAULT = "default"


class Group:
    """One parameter group: which variables, and how they are trained.

    A variable belongs to the first group (in the order given to
    `ParameterGroups`) whose `patterns` match its path, or whose
    `predicate` returns true for it; variables no group selects form the
    default group.

    Args:
        patterns: List of strings: literal substrings of the variable path
            (`"embedding"`), or globs matched against the whole path
            (`"*norm*"`, `"block_[0-3]/*"`); not regular expressions, so a
            config cannot make matching hang. Either this or `predicate`.
        predicate: A function `variable -> bool`, instead of `patterns`.
            To save the optimizer (`model.save`), register it with
            `@keras.saving.register_keras_serializable()`.
        optimizer: `None` (the default group's optimizer, copied), or this
            group's own optimizer: an instance not yet built, a registered
            name or a config.
        learning_rate_multiplier: Float >= 0: the group's learning rate is
            this times the wrapper's. `None`: `1.0`, or, for a group with
            its own `optimizer`, that optimizer's float learning rate
            divided by the wrapper's (torch's absolute per-group `lr`).
        weight_decay: Float >= 0, or `None` (the group optimizer's own).
        name: String or `None` (`"group_<i>"`, counting from 1): the
            group's key in the logs (`learning_rate/<name>`).
    """

    _specs = {
        "learning_rate_multiplier": Hyper(None, low=0.0, optional=True),
        "weight_decay": Hyper(None, low=0.0, optional=True),
    }

    def __init__(
        self,
        patterns=None,
        *,
        predicate=None,
        optimizer=None,
        learning_rate_multiplier=None,
        weight_decay=None,
        name=None,
    ):
        if (patterns is None) == (predicate is None):
            raise ValueError(
                "A parameter group selects its variables by `patterns` or by "
                f"`predicate`, exactly one of them; received patterns="
                f"{patterns!r}, predicate={predicate!r}."
            )
        if patterns is not None:
            if isinstance(patterns, str) or not all(
                isinstance(p, str) for p in patterns
            ):
                raise invalid(
                    "patterns", patterns, "a list of path patterns (strings)"
                )
            patterns = validate_patterns("patterns", list(patterns))
            if not patterns:
                raise invalid("patterns", patterns, "at least one pattern")
        if predicate is not None and not callable(predicate):
            raise invalid("predicate", predicate, "a function variable -> bool")
        if name is not None and (
            not isinstance(name, str)
            or not _NAME.fullmatch(name)
            or name == DEFAULT
        ):
            raise invalid(
                "name",
                name,
                "None or a string of letters, digits, '_', '.' and '-' "
                f"other than {DEFAULT!r}",
            )
        self.patterns = patterns
        self.predicate = predicate
        self.optimizer = None if optimizer is None else _unbuilt(optimizer)
        given = {
            "learning_rate_multiplier": learning_rate_multiplier,
            "weight_decay": weight_decay,
        }
        for key, spec in self._specs.items():
            setattr(self, key, spec.validate(key, given[key]))
        self.name = name

    @classmethod
    def of(cls, spec, index):
        """A `Group` from a `Group` or a dict of its arguments."""
        if isinstance(spec, cls):
            return spec
        if not isinstance(spec, dict):
            raise invalid(
                f"groups[{index}]",
                spec,
                "a keras_optim_zoo.wrappers.Group or a dict of its arguments",
            )
        spec = dict(spec)
        if isinstance(spec.get("predicate"), dict):
            spec["predicate"] = keras.saving.deserialize_keras_object(
                spec["predicate"]
            )
        try:
            return cls(**spec)
        except TypeError as error:
            raise ValueError(
                f"Invalid value for argument `groups[{index}]`: {error}. "
                "Accepted keys: patterns, predicate, optimizer, "
                "learning_rate_multiplier, weight_decay, name."
            ) from None

    def selects(self, variable):
        if self.patterns is not None:
            return path_matches(variable, self.patterns)
        return bool(self.predicate(variable))

    def describe(self):
        if self.patterns is not None:
            return f"patterns {self.patterns}"
        return (
            f"predicate {getattr(self.predicate, '__name__', self.predicate)}"
        )

    def get_config(self):
        predicate = None
        if self.predicate is not None:
            registered = keras.saving.get_registered_object(
                keras.saving.get_registered_name(self.predicate)
            )
            if registered is not self.predicate:
                raise ValueError(
                    f"Parameter group {self.name!r} selects by the predicate "
                    f"{self.predicate!r}, which cannot be saved: register it "
                    "with @keras.saving.register_keras_serializable(), or "
                    "select the group by `patterns`."
                )
            predicate = keras.saving.serialize_keras_object(self.predicate)
        return {
            "name": self.name,
            "patterns": self.patterns,
            "predicate": predicate,
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "weight_decay": self.weight_decay,
        }


def _unbuilt(optimizer, argument="optimizer"):
    optimizer = resolve_optimizer(optimizer, argument)
    if optimizer.built:
        raise invalid(
            argument,
            optimizer,
            "an optimizer that is not built yet (ParameterGroups makes each "
            "group's optimizer from its config, so existing state would be "
            "lost), a registered name or a config",
        )
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or hasattr(
        optimizer, "group_optimizers"
    ):
        raise invalid(
            argument,
            optimizer,
            "an optimizer or wrapper other than LossScaleOptimizer or "
            "ParameterGroups (put those around ParameterGroups)",
        )
    return optimizer


def _innermost(config):
    # The config that holds the learning rate: inside the zoo's wrappers'
    # nested "optimizer" configs.
    while isinstance(config.get("config", {}).get("optimizer"), dict):
        config = config["config"]["optimizer"]
    return config["config"]


def _float_rate(optimizer):
    """The optimizer's learning rate as a float, or `None` for a schedule
    or a callable."""
    rate = _innermost_values(optimizer).get("learning_rate")
    return rate if isinstance(rate, float) else None


def _scaled(rate, multiplier):
    """`rate` (a float, schedule or callable) times `multiplier`."""
    if multiplier == 1.0 and not isinstance(rate, float):
        return rate
    if isinstance(rate, _Schedule):
        from keras_optim_zoo.schedules.compose import Scale

        return Scale(rate, multiplier)
    if callable(rate):
        return lambda: ops.multiply(rate(), multiplier)
    # The wrapper holds its rate in float32: the product starts from that,
    # so a reloaded wrapper (whose config has the float32 value) computes
    # the same group rates.
    return float(np.float32(rate)) * multiplier


@register("zoo_parameter_groups")
class ParameterGroups(EvaluationPoint, keras.optimizers.Optimizer):
    r"""Different optimizers, learning rates and weight decay per group of
    variables, around any zoo optimizer or Keras built-in.

    Each group (a `Group`, or a dict of its arguments) selects variables by
    path patterns or by a predicate; a variable belongs to the first group
    that selects it, and the variables no group selects form the default
    group, trained by `optimizer`. Each group has its own optimizer (its
    own, or a copy of the default one with the group's `weight_decay`),
    built on that group's variables only; a step applies every group's
    optimizer to its variables, in one `apply`, so it works inside
    `model.fit` with and without `jit_compile`, under `LossScaleOptimizer`
    and around the zoo's wrappers.

    The learning rate. The wrapper's `learning_rate` $\eta$ (a float, a
    schedule or a callable; by default the default optimizer's) is the
    default group's, and group $g$ trains at $m_g\,\eta$, its
    `learning_rate_multiplier` times it (a schedule is scaled as
    `"zoo_scale"`). Reading `learning_rate` works (Keras's
    `MultiOptimizer` raises), and setting it sets every group's at once:
    the zoo's `LearningRateScheduler`, `LearningRateFinder` and
    `ReduceLROnPlateau` act on every group and keep the ratios between
    them, as torch's schedulers do with `param_groups`.
    `HyperparameterScheduler` sets a hyper-parameter (`momentum`,
    `beta_1`, `weight_decay`) on every group whose optimizer has it
    changeable, keeping each group's ratio to the first such group's value
    at construction (a group without weight decay keeps none).
    `LearningRateLogger` logs `learning_rate` (the wrapper's) and, per
    group, `learning_rate/<name>` (and `momentum/<name>`, `beta_1/<name>`
    where the group's optimizer has them).

    The evaluation point is each group's: a group whose optimizer has one
    (schedule-free, ASGD, `use_ema`, Lookahead) evaluates there, the other
    groups at their current weights.

    Matches `torch.optim` with `param_groups` (per-group `lr` and
    `weight_decay`, and a scheduler over all groups) for `torch.optim.SGD`
    and `AdamW` (stored trajectories, zoo and Keras group optimizers).
    The config nests every group's optimizer config, so `model.save` /
    `load_model` restores the groups and resumes exactly.

    Args:
        optimizer: The default group's optimizer: an instance not yet built
            (zoo, Keras built-in or a zoo wrapper), a registered name or a
            config. Defaults to `"zoo_adamw"`.
        groups: List of `Group`s or dicts of their arguments (`patterns` or
            `predicate`, `optimizer`, `learning_rate_multiplier`,
            `weight_decay`, `name`). Every group must select at least one
            variable when the optimizer is built. Defaults to `[]`.
        learning_rate: `None` (the default optimizer's learning rate), or a
            float, `LearningRateSchedule` or callable.
        name: String or `None`.

    Example:

    ```python
    from keras_optim_zoo.wrappers import Group, ParameterGroups

    opt = ParameterGroups(
        "zoo_adamw",
        groups=[
            Group(["embedding"], learning_rate_multiplier=0.1),
            Group(["*norm*", "*/bias"], weight_decay=0.0),
            Group(["head/*"], optimizer="zoo_lion",
                  learning_rate_multiplier=0.3),
        ],
        learning_rate=1e-3,
    )
    model.compile(optimizer=opt, loss=...)
    opt.assignments()  # {"group_1": ["embedding/embeddings"], ...}
    ```
    """

    registry_kind = "wrapper"
    registered_name = None
    # Its evaluation point is its groups' (`has_evaluation_point`).
    has_own_evaluation_point = False

    def __init__(
        self, optimizer="zoo_adamw", groups=(), *, learning_rate=None, name=None
    ):
        if name is not None and not isinstance(name, str):
            raise invalid("name", name, "a string or None")
        if isinstance(groups, (str, dict, Group)):
            raise invalid("groups", groups, "a list of groups")
        default = _unbuilt(optimizer)
        groups = [Group.of(spec, i) for i, spec in enumerate(groups)]
        names = [DEFAULT]
        for i, group in enumerate(groups, start=1):
            group.name = group.name or f"group_{i}"
            if group.name in names:
                raise invalid(
                    "groups", [g.name for g in groups], "unique group names"
                )
            names.append(group.name)
        learning_rate = as_learning_rate(learning_rate)
        if learning_rate is None:
            learning_rate = learning_rate_object(chain(default)[-1])
            if isinstance(learning_rate, keras.Variable):
                learning_rate = _float_rate(default)
        elif not isinstance(learning_rate, _Schedule) and not callable(
            learning_rate
        ):
            learning_rate = Hyper(0.001, low=0.0).validate(
                "learning_rate", learning_rate
            )
            learning_rate = float(learning_rate)
        base = learning_rate if isinstance(learning_rate, float) else None
        for group in groups:
            if group.learning_rate_multiplier is not None:
                continue
            if group.optimizer is None:
                group.learning_rate_multiplier = 1.0
                continue
            own = _float_rate(group.optimizer)
            if own is None or not base:
                raise invalid(
                    f"groups[{names.index(group.name) - 1}]",
                    group.name,
                    "a learning_rate_multiplier: the group's own optimizer "
                    "and the wrapper both need float learning rates (not "
                    "zero) to derive it from their ratio",
                )
            group.learning_rate_multiplier = own / float(np.float32(base))
        super().__init__(learning_rate=learning_rate, name=name)
        self._groups = groups
        self._optimizers = [
            _rebuilt(default, learning_rate, 1.0, None),
            *(
                _rebuilt(
                    g.optimizer or default,
                    learning_rate,
                    g.learning_rate_multiplier,
                    g.weight_decay,
                )
                for g in groups
            ),
        ]
        self._names = names
        self._initial = [_innermost_values(o) for o in self._optimizers]

    # ------------------------------------------------------------------
    # The groups.

    @property
    def group_optimizers(self):
        """`{group name: its optimizer}`, the default group first."""
        return dict(zip(self._names, self._optimizers))

    @property
    def groups(self):
        """The `Group`s, in order (without the default group)."""
        return list(self._groups)

    def group_of(self, variable):
        """The name of the group that `variable` belongs to."""
        for group in self._groups:
            if group.selects(variable):
                return group.name
        return DEFAULT

    def assignments(self):
        """`{group name: [variable paths]}` of the built optimizer."""
        self._evaluated_variables(None)  # a clear error before build
        found = {name: [] for name in self._names}
        for var in self._trainable_variables:
            found[self._names[self._member(var)]].append(var.path)
        return found

    def _member(self, variable):
        return self._membership[self._get_variable_index(variable)]

    # ------------------------------------------------------------------
    # The learning rate, and hyper-parameters, of every group.

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        keras.optimizers.Optimizer.learning_rate.fset(self, value)
        if "_optimizers" not in vars(self):
            return
        if isinstance(value, keras.Variable):
            value = float(ops.convert_to_numpy(value))
        multipliers = [1.0] + [g.learning_rate_multiplier for g in self._groups]
        for optimizer, multiplier in zip(self._optimizers, multipliers):
            optimizer.learning_rate = _scaled(value, multiplier)

    def changeable_hyperparameters(self):
        """`{name: [group names]}`: the groups whose optimizer can change
        `name` in training (see `callbacks.HyperparameterScheduler`)."""
        from keras_optim_zoo.callbacks.scheduler import (
            changeable_hyperparameters,
        )

        found = {}
        for group, optimizer in zip(self._names, self._optimizers):
            for key in changeable_hyperparameters(optimizer):
                found.setdefault(key, []).append(group)
        return found

    def get_hyperparameter(self, name):
        """The value of `name` in the first group that can change it."""
        group = self._changeable(name)[0]
        optimizer = chain(self.group_optimizers[group])[-1]
        return optimizer.get_hyperparameter(name)

    def set_hyperparameter(self, name, value):
        """Sets `name` in every group that can change it, keeping each
        group's ratio to the first one's value at construction."""
        groups = self._changeable(name)
        reference = self._initial_value(groups[0], name)
        for group in groups:
            initial = self._initial_value(group, name)
            if reference:
                ratio = initial / reference
            elif not initial:
                ratio = 1.0
            else:
                raise ValueError(
                    f"Cannot set `{name}` in every parameter group keeping "
                    f"their ratios: it was 0 in group {groups[0]!r} and "
                    f"{initial} in group {group!r}."
                )
            optimizer = chain(self.group_optimizers[group])[-1]
            setattr(optimizer, name, value * ratio)

    def _changeable(self, name):
        found = self.changeable_hyperparameters()
        if name not in found:
            raise ValueError(
                f"No parameter group's optimizer can change `{name}` in "
                "training. Changeable hyper-parameters: "
                f"{', '.join(f'{k} (groups {v})' for k, v in found.items())}"
                "."
            )
        return found[name]

    def _initial_value(self, group, name):
        value = self._initial[self._names.index(group)].get(name)
        return float(value or 0.0)

    # ------------------------------------------------------------------
    # State and the step.

    @property
    def variables(self):
        found = self._variables[:]
        for optimizer in self._optimizers:
            found.extend(optimizer.variables)
        return found

    def build(self, var_list):
        if self.built:
            return
        var_list = list(var_list)
        membership = [self._names.index(self.group_of(var)) for var in var_list]
        for index, group in enumerate(self._groups, start=1):
            if index not in membership:
                paths = ", ".join(v.path for v in var_list)
                raise ValueError(
                    f"Parameter group {group.name!r} ({group.describe()}) "
                    f"selects none of the {len(var_list)} variables to "
                    f"train; their paths: {paths}."
                )
        for index, optimizer in enumerate(self._optimizers):
            members = [v for v, m in zip(var_list, membership) if m == index]
            if members:
                optimizer.build(members)
        super().build(var_list)
        self._membership = membership

    def apply(self, grads, trainable_variables=None):
        step = begin_apply(self, grads, trainable_variables)
        if step is None:
            return
        grads, variables = step
        split = [([], []) for _ in self._optimizers]
        for grad, var in zip(grads, variables):
            part = split[self._member(var)]
            part[0].append(grad)
            part[1].append(var)
        with keras.name_scope(self.name, caller=self):
            for optimizer, (group_grads, group_vars) in zip(
                self._optimizers, split
            ):
                if group_vars:
                    optimizer.apply(group_grads, group_vars)
            self._iterations.assign_add(1)

    def finalize_variable_values(self, var_list):
        for index, optimizer in enumerate(self._optimizers):
            members = [v for v in var_list if self._member(v) == index]
            if members:
                optimizer.finalize_variable_values(members)

    # ------------------------------------------------------------------
    # The evaluation point.

    @property
    def has_evaluation_point(self):
        """Whether any group's optimizer has an evaluation point."""
        return any(has_point(o) for o in self._optimizers)

    def evaluation_values(self, variables=None):
        """Each group's evaluation point (the current weights for a group
        whose optimizer has none)."""
        variables = self._evaluated_variables(variables)
        values = [v.value for v in variables]
        for index, optimizer in enumerate(self._optimizers):
            at = [
                k for k, v in enumerate(variables) if self._member(v) == index
            ]
            point = point_values(optimizer, [variables[k] for k in at])
            if at and point is not None:
                for k, value in zip(at, point):
                    values[k] = value
        return values

    # ------------------------------------------------------------------
    # Serialization.

    def get_config(self):
        # Each group's optimizer as it is now (its current hyper-parameter
        # values); a group without its own is a copy of the default's.
        groups = [
            {
                **group.get_config(),
                "optimizer": None
                if group.optimizer is None
                else keras.saving.serialize_keras_object(optimizer),
            }
            for group, optimizer in zip(self._groups, self._optimizers[1:])
        ]
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(
                self._optimizers[0]
            ),
            "groups": groups,
            "learning_rate": keras.optimizers.Optimizer.get_config(self)[
                "learning_rate"
            ],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = keras.saving.deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)


def _innermost_values(optimizer):
    return _innermost(keras.saving.serialize_keras_object(optimizer))


def _rebuilt(optimizer, learning_rate, multiplier, weight_decay):
    """A new, unbuilt copy of `optimizer` from its config, training at
    `multiplier` times `learning_rate`, with `weight_decay` if not None."""
    config = keras.saving.serialize_keras_object(optimizer)
    inner = _innermost(config)
    rate = _scaled(learning_rate, multiplier)
    inner["learning_rate"] = rate if isinstance(rate, float) else 0.0
    if weight_decay is not None:
        inner["weight_decay"] = weight_decay
    copy = keras.saving.deserialize_keras_object(config)
    if not isinstance(rate, float):
        copy.learning_rate = rate
    return copy


def layerwise_decay(blocks, decay, *, weight_decay=None):
    r"""The groups of layer-wise learning-rate decay.

    The fine-tuning recipe of ELECTRA, BEiT and their successors: `blocks`
    are ordered from the input (the embeddings) to the last block before
    the head; block $i$ of $n$ trains at $\delta^{n - i}$ times the
    learning rate (`decay` $\delta$), so each block's rate is the next
    one's times $\delta$, and the variables of no block (the head) train at
    the full rate, in the default group.

    Args:
        blocks: List, input first, of blocks: each a Keras layer (its
            variables, by its path), a path pattern, or a list of patterns.
        decay: Float in `(0, 1]`, $\delta$.
        weight_decay: Float >= 0 or `None`, for every block's group.

    Returns:
        A list of `Group`s named after the layers (or `block_<i>`), for
        `ParameterGroups(optimizer, groups=...)`; put groups of your own
        before them to take precedence.

    Example:

    ```python
    blocks = [model.get_layer("embedding"),
              *[model.get_layer(f"block_{i}") for i in range(12)]]
    opt = ParameterGroups("zoo_adamw", layerwise_decay(blocks, 0.75),
                          learning_rate=5e-5)
    ```
    """
    decay = Hyper(0.8, low=0.0, low_open=True, high=1.0).validate(
        "decay", decay
    )
    if isinstance(blocks, (str, keras.layers.Layer)) or not blocks:
        raise invalid("blocks", blocks, "a non-empty list of blocks")
    groups = []
    for i, block in enumerate(blocks):
        name = f"block_{i}"
        if isinstance(block, keras.layers.Layer):
            name = block.name
            patterns = [_layer_pattern(block)]
        elif isinstance(block, str):
            patterns = [block]
        else:
            patterns = block
        groups.append(
            Group(
                patterns,
                learning_rate_multiplier=decay ** (len(blocks) - i),
                weight_decay=weight_decay,
                name=name,
            )
        )
    return groups


def _layer_pattern(layer):
    """A glob that matches exactly the paths of `layer`'s variables: their
    common folder (`"sequential/dense"`), then `/*`."""
    paths = [v.path for v in layer.trainable_variables]
    if not paths:
        raise invalid(
            "blocks",
            layer.name,
            "layers with trainable variables (build the model first)",
        )
    folder = posixpath.commonpath([posixpath.dirname(p) for p in paths])
    return re.sub(r"([*?\[])", r"[\1]", folder) + "/*"
