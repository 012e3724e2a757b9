"""fit -> model.save -> load in a NEW process -> fit again equals fitting
without interruption, for every registered optimizer."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_optim_zoo

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def _data():
    rng = np.random.default_rng(7)
    return (
        rng.standard_normal((48, 5)).astype("float32"),
        rng.standard_normal((48, 3)).astype("float32"),
    )


def _model():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3),
        ]
    )


# The fresh process imports keras_optim_zoo and nothing of the tests.
_RESUME = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import keras_optim_zoo  # registers the zoo_* names
    jobs = json.load(open(sys.argv[1]))
    data = np.load(jobs["data"])
    for name, path in jobs["models"].items():
        model = keras.models.load_model(path)
        assert type(model.optimizer).registered_name == name, name
        model.fit(data["x"], data["y"], batch_size=8, epochs=1,
                  shuffle=False, verbose=0)
        np.savez(path + ".after.npz", *model.get_weights(),
                 iterations=model.optimizer.iterations.numpy())
""")


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    x, y = _data()
    np.savez(root / "data.npz", x=x, y=y)
    expected, models = {}, {}
    for name in keras_optim_zoo.list_optimizers():
        # A zoo schedule: the new process must resolve it by name too.
        lr = keras_optim_zoo.schedules.get(
            "zoo_warmup_cosine",
            peak_learning_rate=0.05,
            warmup_steps=4,
            decay_steps=30,
        )
        model = _model()
        model.compile(
            optimizer=keras_optim_zoo.get(name, learning_rate=lr), loss="mse"
        )
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        path = str(root / f"{name}.keras")
        model.save(path)
        models[name] = path
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        expected[name] = model.get_weights()
    jobs = root / "jobs.json"
    jobs.write_text(
        json.dumps({"data": str(root / "data.npz"), "models": models})
    )
    script = root / "resume.py"
    script.write_text(_RESUME)
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    proc = subprocess.run(
        [sys.executable, str(script), str(jobs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return expected, models


def test_resume_in_new_process_matches_uninterrupted(resumed, optimizer_name):
    expected, models = resumed
    after = np.load(models[optimizer_name] + ".after.npz")
    assert int(after["iterations"]) == 18
    got = [after[f"arr_{i}"] for i in range(len(expected[optimizer_name]))]
    # Same weights, same optimizer state, same schedule step: the continued
    # run repeats the uninterrupted one exactly.
    for a, b in zip(got, expected[optimizer_name]):
        np.testing.assert_array_equal(a, b)
