"""Declared hyper-parameters and optimizer state, and their validation.

An optimizer declares each hyper-parameter once, as a `Hyper`, with its
default, its type and its allowed range. The base validates every value
against that declaration, both at construction and whenever a user assigns
a new value during training, and produces one error format everywhere:
the argument, the value received and what is allowed.
"""

import dataclasses
import fnmatch
import math
import numbers
from typing import Any


@dataclasses.dataclass(frozen=True)
class Hyper:
    """Declaration of one hyper-parameter.

    Args:
        default: Default value. Its Python type sets the kind of the
            hyper-parameter (`float`, `int` or `bool`) unless `kind` says
            otherwise.
        low: Smallest allowed value, or `None` for no bound.
        high: Largest allowed value, or `None` for no bound.
        low_open: Whether `low` itself is excluded.
        high_open: Whether `high` itself is excluded.
        kind: `"float"`, `"int"`, `"bool"`, `"choice"` (one of `choices`)
            or `"strings"` (a list of strings, stored as a list). Defaults
            to the kind of `default`.
        changeable: Whether the value may change during training. A
            changeable float is kept in a non-trainable optimizer variable
            that the compiled update reads at every step (and that is saved
            with the optimizer). Anything else is fixed at construction and
            compiled into the update; assigning it later raises.
        optional: Whether `None` is allowed (it then means "off", and the
            hyper-parameter is fixed at `None`).
        choices: For `kind="choice"`: the allowed strings.
    """

    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    kind: str | None = None
    changeable: bool = True
    optional: bool = False
    choices: tuple = ()

    def __post_init__(self):
        if self.kind is None:
            if self.choices:
                kind = "choice"
            elif isinstance(self.default, (list, tuple)):
                kind = "strings"
            elif isinstance(self.default, bool):
                kind = "bool"
            elif isinstance(self.default, int):
                kind = "int"
            else:
                kind = "float"
            object.__setattr__(self, "kind", kind)
        if self.kind != "float":
            object.__setattr__(self, "changeable", False)

    def allowed(self):
        """A human-readable description of the allowed values."""
        if self.kind == "bool":
            text = "a bool (True or False)"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "strings":
            text = "a list of strings"
        else:
            noun = "an int" if self.kind == "int" else "a finite number"
            lo = "-inf" if self.low is None else repr(self.low)
            hi = "inf" if self.high is None else repr(self.high)
            lb = "(" if (self.low is None or self.low_open) else "["
            rb = ")" if (self.high is None or self.high_open) else "]"
            text = f"{noun} in {lb}{lo}, {hi}{rb}"
        if self.optional:
            text += ", or None"
        return text

    def validate(self, name, value):
        """Returns `value` in canonical form, or raises `ValueError`."""
        if value is None:
            if self.optional:
                return None
            raise _error(name, value, self.allowed())
        if self.kind == "bool":
            if isinstance(value, bool) or _is_numpy_bool(value):
                return bool(value)
            raise _error(name, value, self.allowed())
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise _error(name, value, self.allowed())
        if self.kind == "strings":
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise _error(name, value, self.allowed())
            if not all(isinstance(v, str) for v in value):
                raise _error(name, value, self.allowed())
            return list(value)
        # Booleans are ints in Python; reject them for numeric arguments.
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _error(name, value, self.allowed())
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                if not float(value).is_integer():
                    raise _error(name, value, self.allowed())
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise _error(name, value, self.allowed())
        if self.low is not None and (
            value < self.low or (self.low_open and value == self.low)
        ):
            raise _error(name, value, self.allowed())
        if self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        ):
            raise _error(name, value, self.allowed())
        return value


def fraction(default):
    """A changeable float in `[0, 1)`: betas, rho, momentum."""
    return Hyper(default, low=0.0, high=1.0, high_open=True)


def positive(default):
    """A changeable float in `(0, inf)`: epsilon."""
    return Hyper(default, low=0.0, low_open=True)


class _FromParam:
    """Marker: a slot starts as a copy of its variable's value."""

    def __repr__(self):
        return "PARAM"


PARAM = _FromParam()


@dataclasses.dataclass(frozen=True)
class Slot:
    """Declaration of one piece of per-variable optimizer state.

    Args:
        name: Name of the slot; also the suffix of its variables' names.
        init: Initial value: a float, the name of a hyper-parameter whose
            value is used (e.g. Adagrad's `"initial_accumulator_value"`), or
            `PARAM` for a copy of the variable's value (schedule-free's `z`,
            an average of the iterates).
        when: Name of a hyper-parameter; the slot exists only when that
            hyper-parameter is truthy at construction (e.g. RMSprop's
            `"centered"`). A changeable hyper-parameter that is falsy at
            construction becomes fixed, since its slot does not exist.
        shape: `None` for the variable's own shape, or a function from the
            variable's shape (a tuple) to the slot's shape (Adafactor's
            row and column statistics).
        dtype: `None` for the variable's dtype, or a dtype name (e.g.
            `"float32"` moments for `bfloat16` weights), or `"wide"` for
            the widest float of the backend (`compile.wide_dtype()`:
            float64, or float32 on JAX without x64). The rule receives
            the slot in this dtype and its new value is cast back to it.
        groups: `None` for every variable, or the tuple of variable groups
            (see `ZooOptimizer.variable_group`) that have this slot (Muon's
            fallback moments exist only for the variables routed there).
    """

    name: str
    init: Any = 0.0
    when: str | None = None
    shape: Any = None
    dtype: str | None = None
    groups: tuple | None = None

    def applies_to(self, group):
        return self.groups is None or group in self.groups

    def shape_for(self, shape):
        shape = tuple(shape)
        return shape if self.shape is None else tuple(self.shape(shape))


# Path patterns (Muon's `exclude_layers`, `no_weight_decay`, AGC's
# `exclude`): literal substrings or globs, never regular expressions. A
# pattern with a character only a regular expression gives meaning to is
# refused rather than silently matching nothing.
_GLOB = ("*", "?", "[")
_REGEX_ONLY = ("^", "$", "(", ")", "{", "}", "|", "\\", "+", ".*")


def matches_path(pattern, path):
    """Whether path pattern `pattern` selects the variable path `path`.

    A pattern with a wildcard (`*`, `?`, `[...]`) is a glob matched against
    the whole path (`"*dense_out*"`); any other pattern is a literal
    substring of the path (`"dense_out"`). Both are case-sensitive. Globs,
    not regular expressions: a pattern from a config cannot make the
    matching run for long.
    """
    if any(ch in pattern for ch in _GLOB):
        return fnmatch.fnmatchcase(path, pattern)
    return pattern in path


def path_matches(variable, patterns):
    """Whether any of `patterns` selects `variable` (by its path)."""
    path = getattr(variable, "path", None) or str(variable.name)
    return any(matches_path(p, path) for p in patterns)


def validate_patterns(name, patterns):
    """Returns `patterns` (a list of path patterns, or `None`), or raises
    naming argument `name` for an empty pattern, one using regular
    expression syntax, or a glob with an unclosed `[`."""
    for pattern in patterns or ():
        if not pattern:
            why = "is empty"
        elif any(tok in pattern for tok in _REGEX_ONLY):
            why = "uses regex syntax"
        elif pattern.count("[") != pattern.count("]"):
            why = "has an unclosed ["
        else:
            continue
        raise invalid(
            name,
            patterns,
            "a list of non-empty literal substrings or glob patterns "
            f"(wildcards *, ? and [...]), not regular expressions: "
            f"{pattern!r} {why}",
        )
    return patterns


def _is_numpy_bool(value):
    return type(value).__name__ == "bool_"


def _error(name, value, allowed):
    return ValueError(
        f"Invalid value for argument `{name}`: received {name}={value!r} "
        f"(type {type(value).__name__}); expected {allowed}."
    )


def invalid(name, value, allowed):
    """The `ValueError` the package raises for a bad argument value."""
    return _error(name, value, allowed)
