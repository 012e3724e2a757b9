"""`ZooSchedule`: the base class of every zoo learning-rate schedule.

A schedule declares its constructor arguments once, in `arguments`, each
with its default and its allowed values, and writes one method,
`compute(step)`, with `keras.ops` only. This base does the rest, once:

- binding and validating the arguments, with the package's one error
  format (the argument, the value received, what is allowed);
- the signature shown by `help()` and `inspect.signature`;
- `get_config` / `from_config`, nested schedules included;
- casting the step to float32 before `compute` and the result after.

The constant schedule lives here too, because the base wraps a float given
where a schedule is allowed in one.
"""

import dataclasses
import inspect
import math
import numbers
from typing import Any

import keras
from keras import ops

from keras_optim_zoo.core.hyper import Hyper, invalid
from keras_optim_zoo.core.registry import register

_Schedule = keras.optimizers.schedules.LearningRateSchedule

#: Default of an argument that must be given.
REQUIRED = inspect.Parameter.empty

DTYPE = "float32"


def number(default=REQUIRED, **limits):
    """Declares a float argument; `limits` are `Hyper`'s `low`, `high`..."""
    return Hyper(default, kind="float", **limits)


def rate(default=REQUIRED):
    """Declares a learning rate (or momentum) argument: a float >= 0."""
    return number(default, low=0.0)


def steps(default=REQUIRED, low=0):
    """Declares a number of steps: an int >= `low`."""
    return Hyper(default, low=low, kind="int")


@dataclasses.dataclass(frozen=True)
class Choice:
    """Declares a string argument with a fixed set of allowed values."""

    default: Any
    options: tuple

    def allowed(self):
        return "one of " + ", ".join(repr(o) for o in self.options)

    def validate(self, name, value):
        if (value is None or isinstance(value, str)) and value in self.options:
            return value
        raise invalid(name, value, self.allowed())


@dataclasses.dataclass(frozen=True)
class Nested:
    """Declares a schedule argument.

    Accepts a `LearningRateSchedule`, its config dict (as written by
    `keras.saving.serialize_keras_object`, which is what `from_config`
    receives), or a float >= 0, which is wrapped in a `Constant`.
    """

    default: Any = REQUIRED

    def allowed(self):
        return (
            "a float >= 0, a keras.optimizers.schedules.LearningRateSchedule"
            " or its serialized config dict"
        )

    def validate(self, name, value):
        if isinstance(value, dict):
            try:
                value = keras.saving.deserialize_keras_object(value)
            except (TypeError, ValueError, KeyError) as error:
                raise invalid(name, value, self.allowed()) from error
        if isinstance(value, _Schedule):
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return Constant(rate().validate(name, value))
        raise invalid(name, value, self.allowed())


@dataclasses.dataclass(frozen=True)
class ListOf:
    """Declares a list argument whose items are each validated by `item`.

    Args:
        item: The declaration of one item (`Hyper`, `Nested`, ...).
        min_length: Fewest items allowed.
        increasing: Whether the items must be strictly increasing.
    """

    item: Any
    min_length: int = 1
    increasing: bool = False
    default: Any = REQUIRED

    def allowed(self):
        text = (
            f"a list of at least {self.min_length} item(s), each "
            f"{self.item.allowed()}"
        )
        return text + (", strictly increasing" if self.increasing else "")

    def validate(self, name, value):
        if isinstance(value, (str, bytes, dict)) or not hasattr(
            value, "__iter__"
        ):
            raise invalid(name, value, self.allowed())
        items = [
            self.item.validate(f"{name}[{i}]", v) for i, v in enumerate(value)
        ]
        too_short = len(items) < self.min_length
        unordered = self.increasing and any(
            b <= a for a, b in zip(items, items[1:])
        )
        if too_short or unordered:
            raise invalid(name, value, self.allowed())
        return items


def _make_signature(arguments):
    params = [
        inspect.Parameter(
            key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=spec.default
        )
        for key, spec in arguments.items()
    ]
    params.append(
        inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None)
    )
    return inspect.Signature(params)


class _ConstructorSignature:
    """`inspect.signature(cls)` (and so `help(cls)`) lists `arguments`.

    On an instance it yields `None`, so that `inspect.signature(schedule)`
    falls back to the signature of `__call__`.
    """

    def __get__(self, instance, owner):
        return owner._signature if instance is None else None


class ZooSchedule(_Schedule):
    """Base class of the zoo learning-rate schedules.

    A subclass sets `arguments` and writes `compute(step)`, and is
    registered with `@register("zoo_name")`. Cross-argument constraints go
    in `_check_arguments()`.

    Every schedule:
    - is called with the optimizer's `iterations` (0-based), a Python
      number, or a tensor of steps of any shape, which it evaluates
      element-wise (handy for plotting);
    - casts the step to float32 first (exact up to 2**24 steps, as in
      Keras's built-ins) and returns float32;
    - uses `keras.ops` only, with no Python branching on tensor values, so
      it runs eagerly, in a `tf.function` and under XLA
      (`jit_compile=True`);
    - validates its arguments at construction: a bad value raises
      `ValueError` naming the argument, the value and what is allowed.

    Common args:
        name: String or `None`; the name scope of the schedule's ops.
            Defaults to the class name.

    Class attributes:
        arguments: `{name: declaration}`, in signature order, required
            arguments (default `REQUIRED`) first. A declaration is a
            `Hyper` (numbers and bools), a `Choice`, a `Nested` schedule or
            a `ListOf` any of these.
        registered_name: The `zoo_*` name (set by `register`).
    """

    arguments = {}
    registered_name = None
    _signature = _make_signature(arguments)
    __signature__ = _ConstructorSignature()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._signature = _make_signature(cls.arguments)

    def __init__(self, *args, **kwargs):
        super().__init__()
        cls = type(self)
        unknown = sorted(set(kwargs) - set(cls._signature.parameters))
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unexpected argument(s) {unknown}. "
                f"Accepted arguments: {', '.join(cls._signature.parameters)}."
            )
        try:
            bound = cls._signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(
                f"{cls.__name__}{cls._signature}: {error}"
            ) from None
        bound.apply_defaults()
        for key, spec in cls.arguments.items():
            setattr(self, key, spec.validate(key, bound.arguments[key]))
        name = bound.arguments["name"]
        if name is not None and not isinstance(name, str):
            raise invalid("name", name, "a string or None")
        self.name = name or cls.__name__
        self._check_arguments()

    def _check_arguments(self):
        """Raises `ValueError` for values that are invalid together."""

    def compute(self, step):
        """The schedule at `step`, a float32 tensor of any shape."""
        raise NotImplementedError

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = ops.cast(step, DTYPE)
            return ops.cast(self.compute(step), DTYPE)

    def get_config(self):
        config = {
            key: _to_config(getattr(self, key)) for key in type(self).arguments
        }
        config["name"] = self.name
        return config

    def __repr__(self):
        args = ", ".join(
            f"{key}={getattr(self, key)!r}" for key in type(self).arguments
        )
        return f"{type(self).__name__}({args})"


def _to_config(value):
    if isinstance(value, _Schedule):
        return keras.saving.serialize_keras_object(value)
    if isinstance(value, list):
        return [_to_config(v) for v in value]
    return value


# ----------------------------------------------------------------------
# Shared pieces of `compute`.

RAMPS = ("linear", "cosine", "1-sqrt")


def ramp(start, end, fraction, shape="linear"):
    r"""From `start` at `fraction <= 0` to `end` at `fraction >= 1`.

    $$ v = (1 - w)\,\mathrm{start} + w\,\mathrm{end}, \qquad
       w = f,\;\; \tfrac{1}{2}(1 - \cos \pi f) \;\;\text{or}\;\; \sqrt{f} $$

    for `shape` `"linear"`, `"cosine"` or `"1-sqrt"` (the value falls as
    $1 - \sqrt{f}$), with $f$ = `fraction` clipped to `[0, 1]`. The cosine
    weights are computed as $\sin^2(\pi f / 2)$ and
    $\sin^2(\pi (1 - f) / 2)$, which keeps both their relative precision
    near 0 (where $\tfrac{1}{2}(1 + \cos \pi f)$ loses digits to
    cancellation) and both ends exact.
    """
    f = ops.clip(fraction, 0.0, 1.0)
    if shape == "cosine":
        w = ops.square(ops.sin((0.5 * math.pi) * f))
        keep = ops.square(ops.sin((0.5 * math.pi) * (1.0 - f)))
    elif shape == "1-sqrt":
        w = ops.sqrt(f)
        keep = 1.0 - w
    else:
        w = f
        keep = 1.0 - f
    return start * keep + end * w


def evaluate(schedule, step):
    """A nested schedule at `step` (a float32 tensor), as float32."""
    return ops.cast(schedule(ops.convert_to_tensor(step, DTYPE)), DTYPE)


@register("zoo_constant")
class Constant(ZooSchedule):
    r"""A constant learning rate: $\eta_t = \mathrm{value}$.

    Floats given where a zoo schedule takes a schedule are wrapped in it.

    Args:
        value: Float >= 0.
    """

    arguments = {"value": rate()}

    def compute(self, step):
        return ops.full_like(step, self.value)
