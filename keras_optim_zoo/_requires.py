"""Clear errors for a feature whose optional dependency is missing.

`import keras_optim_zoo` needs only Keras and NumPy (and the Keras backend
the user chose); the optimizers, schedules and callbacks run on every
backend. A few features need more, named by their extra:

- `keras_optim_zoo.compare` and `python -m keras_optim_zoo compare`:
  TensorFlow (`tf.data` pipelines and TensorFlow datasets), `[tensorflow]`;
- `keras_optim_zoo.data` (the offline TFDS datasets): `[examples]`;
- `keras_optim_zoo.tune`: Optuna, `[tune]`, and what `compare` needs.
"""

import importlib


def require(module, feature, extra):
    """Imports `module`, or raises `ModuleNotFoundError` naming the
    missing package, the feature that needs it and the extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module.split(".")[0]:
            raise  # something the package itself imports is missing
        raise ModuleNotFoundError(
            f"{feature} needs `{module}`, which is not installed. Install "
            f"it with: pip install 'keras_optim_zoo[{extra}]'",
            name=module,
        ) from None
