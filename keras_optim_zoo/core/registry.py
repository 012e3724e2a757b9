"""The registry: one decorator makes a class resolvable by its `zoo_*` name.

`register("zoo_adam")` on a class does everything Keras needs so that the
bare name and the saved config both resolve, in any process that has
imported `keras_optim_zoo`:

- `keras.saving.register_keras_serializable` records the class under
  `"keras_optim_zoo>ClassName"`, the name written into saved configs;
- the bare name is added to `keras.saving.get_custom_objects()`, which is
  where `keras.optimizers.get("zoo_adam")` and
  `model.compile(optimizer="zoo_adam")` look it up.

The same registry holds optimizer wrappers, learning-rate schedules and
callbacks; each kind has its own namespace so that listing optimizers
lists only optimizers (a wrapper needs an inner optimizer).
"""

import difflib
import fnmatch

import keras

PACKAGE = "keras_optim_zoo"
PREFIX = "zoo_"

_REGISTRY = {}  # kind -> {name: class}


def _kind_of(cls):
    # Wrappers (an optimizer around another one) set `registry_kind`.
    if getattr(cls, "registry_kind", None):
        return cls.registry_kind
    if issubclass(cls, keras.optimizers.Optimizer):
        return "optimizer"
    if issubclass(cls, keras.optimizers.schedules.LearningRateSchedule):
        return "schedule"
    if issubclass(cls, keras.callbacks.Callback):
        return "callback"
    raise TypeError(
        f"register() takes an Optimizer, LearningRateSchedule or Callback "
        f"subclass; received {cls!r}."
    )


def register(name):
    """Class decorator that registers `cls` under the string `name`.

    Args:
        name: The public string name; must start with `"zoo_"`.
    """
    if not isinstance(name, str) or not name.startswith(PREFIX):
        raise ValueError(
            f"Invalid value for argument `name`: received name={name!r}; "
            f"expected a string starting with {PREFIX!r}."
        )

    def decorator(cls):
        kind = _kind_of(cls)
        table = _REGISTRY.setdefault(kind, {})
        if name in table and table[name] is not cls:
            raise ValueError(
                f"{name!r} is already registered to {table[name]!r}."
            )
        cls = keras.saving.register_keras_serializable(
            package=PACKAGE, name=cls.__name__
        )(cls)
        keras.saving.get_custom_objects()[name] = cls
        cls.registered_name = name
        table[name] = cls
        return cls

    return decorator


def names(kind, pattern=None):
    """Sorted registered names of `kind`, optionally filtered by a pattern.

    Args:
        kind: `"optimizer"`, `"wrapper"`, `"schedule"` or `"callback"`.
        pattern: Optional shell-style wildcard, e.g. `"zoo_adam*"`.
    """
    found = sorted(_REGISTRY.get(kind, {}))
    if pattern is not None:
        found = [n for n in found if fnmatch.fnmatchcase(n, pattern)]
    return found


def lookup(kind, name):
    """The class registered as `name`, or `KeyError` naming close matches."""
    table = _REGISTRY.get(kind, {})
    if kind == "optimizer":
        # A wrapper is an optimizer too, once given its inner optimizer.
        table = {**_REGISTRY.get("wrapper", {}), **table}
    if name in table:
        return table[name]
    by_class = {cls.__name__: cls for cls in table.values()}
    if name in by_class:
        return by_class[name]
    close = difflib.get_close_matches(name, list(table), n=5, cutoff=0.4)
    if not close:
        close = difflib.get_close_matches(
            PREFIX + name, list(table), n=5, cutoff=0.4
        )
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(
        f"Unknown {kind} name {name!r}.{hint} Registered {kind}s: "
        f"{', '.join(sorted(table))}."
    )


def get(kind, identifier, **overrides):
    """Builds an instance from a name, a config dict or an instance.

    Args:
        kind: `"optimizer"`, `"wrapper"`, `"schedule"` or `"callback"`.
        identifier: A registered name, a `{"class_name": ..., "config": ...}`
            dict (as written by `keras.saving.serialize_keras_object` or a
            compile config), or an instance (returned as is when no
            overrides are given).
        **overrides: Constructor arguments that replace the config's.
    """
    if isinstance(identifier, str):
        return lookup(kind, identifier)(**overrides)
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(
                "Invalid value for argument `identifier`: a config dict "
                "needs a 'class_name' key; received keys "
                f"{sorted(identifier)}."
            )
        config = dict(identifier.get("config") or {})
        config.update(overrides)
        class_name = (
            identifier.get("registered_name") or identifier["class_name"]
        )
        if isinstance(class_name, str) and class_name.startswith(PACKAGE + ">"):
            class_name = class_name.split(">", 1)[1]
        return lookup(kind, class_name).from_config(config)
    if overrides:
        raise ValueError(
            "Overrides can only be given with a name or a config dict; "
            f"received an instance {identifier!r} with overrides "
            f"{sorted(overrides)}."
        )
    return identifier


def accessors(kind, example):
    """`(list_<kind>s, get)` functions for a package's namespace.

    Args:
        kind: `"optimizer"`, `"wrapper"`, `"schedule"` or `"callback"`.
        example: A registered name, quoted in the docstrings.
    """

    def listing(pattern=None):
        return names(kind, pattern)

    def getter(identifier, **overrides):
        return get(kind, identifier, **overrides)

    listing.__name__ = listing.__qualname__ = f"list_{kind}s"
    listing.__doc__ = f"""Sorted `zoo_*` names of the registered {kind}s.

    Args:
        pattern: Optional shell-style wildcard, e.g. `"zoo_*"`.
    """
    getter.__name__ = getter.__qualname__ = "get"
    getter.__doc__ = f"""An instance from a `zoo_*` {kind} name or a config.

    Args:
        identifier: A registered name (`"{example}"`), a config dict (as
            written by `keras.saving.serialize_keras_object`, or
            `{{"class_name": "{example}", "config": {{...}}}}`), or an
            instance (returned as is).
        **overrides: Constructor arguments that replace the config's.

    Raises:
        KeyError: For an unknown name; the message lists the closest
            registered names.
        ValueError: For an invalid argument value.
    """
    return listing, getter
