"""fit -> `model.save` -> load in a NEW process -> fit again, batched.

The fresh process imports keras_optim_zoo and nothing of the tests (it
takes the parent's `base.INLINE_SIZE`), loads
every saved model, checks that its optimizer is the registered class
expected, fits one more epoch and writes the weights and the step count
next to the model file (`<path>.after.npz`).
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

from keras_optim_zoo.core import base

_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import keras_optim_zoo  # registers the zoo_* names
    from keras_optim_zoo.core import base
    jobs = json.load(open(sys.argv[1]))
    # The parent's setting (the suite's is 0: every variable by its XLA
    # kernel), so that both processes run the same arithmetic.
    base.INLINE_SIZE = jobs["inline_size"]
    data = np.load(jobs["data"])
    for path, name in jobs["models"].items():
        model = keras.models.load_model(path)
        assert type(model.optimizer).registered_name == name, name
        model.fit(data["x"], data["y"], batch_size=8, epochs=1,
                  shuffle=False, verbose=0)
        opt = model.optimizer
        point = {}
        if getattr(type(opt), "has_own_evaluation_point", False):
            # a wrapper's own point (SWA's average, Lookahead's slow weights)
            point = {f"eval_{i}": np.asarray(v)
                     for i, v in enumerate(opt.evaluation_values())}
        np.savez(path + ".after.npz", *model.get_weights(),
                 iterations=opt.iterations.numpy(), **point)
""")


def data():
    """A small regression problem: 48 examples, 5 inputs, 3 targets."""
    rng = np.random.default_rng(7)
    return (
        rng.standard_normal((48, 5)).astype("float32"),
        rng.standard_normal((48, 3)).astype("float32"),
    )


def model():
    """A fresh, seeded two-layer MLP for `data()`."""
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3),
        ]
    )


def fit_save_fit(model, x, y, path, epochs=2):
    """Fits `epochs`, saves to `path`, fits one more epoch; returns the
    weights the resumed run must reproduce."""
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    model.save(path)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def resume_in_new_process(root, x, y, models):
    """Runs the fresh process on `models` (`{path: registered name}`)."""
    np.savez(os.path.join(root, "data.npz"), x=x, y=y)
    jobs = os.path.join(root, "jobs.json")
    with open(jobs, "w") as f:
        json.dump(
            {
                "data": os.path.join(root, "data.npz"),
                "models": models,
                "inline_size": base.INLINE_SIZE,
            },
            f,
        )
    script = os.path.join(root, "resume.py")
    with open(script, "w") as f:
        f.write(_SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    proc = subprocess.run(
        [sys.executable, script, jobs],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def resumed_weights(path, count):
    """`(weights, iterations)` the fresh process wrote for `path`."""
    after = np.load(path + ".after.npz")
    return [after[f"arr_{i}"] for i in range(count)], int(after["iterations"])


def resumed_evaluation_point(path):
    """A wrapper's evaluation point the fresh process wrote for `path`
    (SWA's average, Lookahead's slow weights), or `[]`."""
    after = np.load(path + ".after.npz")
    keys = sorted(
        (k for k in after.files if k.startswith("eval_")),
        key=lambda k: int(k[5:]),
    )
    return [after[k] for k in keys]
