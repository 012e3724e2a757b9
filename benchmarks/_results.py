"""`write_result`: the JSON every benchmark of this folder writes.

Backend-neutral: the versions recorded are those of the libraries the
benchmark imported (TensorFlow, JAX, torch, optax), with Keras's backend.
"""

import json
import os
import platform
import sys

import keras

import keras_optim_zoo

_LIBRARIES = ("tensorflow", "jax", "jaxlib", "torch", "optax")


def write_result(path, result):
    """Writes `result` with the machine and the versions to `path` (JSON)."""
    versions = {
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "keras_optim_zoo": keras_optim_zoo.__version__,
    }
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__version__"):
            versions[name] = module.__version__
    result = {
        **result,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "versions": versions,
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwrote {path}")
    return result
