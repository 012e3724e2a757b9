"""fit -> model.save -> load in a NEW process -> fit again equals fitting
without interruption, for every registered optimizer.

One test for all of them: the uninterrupted runs and the one fresh process
that resumes every saved model are the cost (about two minutes), and as
parameterized tests each pytest-xdist worker that drew one paid it again.
A failure names every optimizer that did not resume exactly.
"""

import numpy as np
import pytest

import keras_optim_zoo
from tests import resume

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def test_resume_in_new_process_matches_uninterrupted(tmp_path):
    x, y = resume.data()
    expected, models = {}, {}
    for name in keras_optim_zoo.list_optimizers():
        # A zoo schedule: the new process must resolve it by name too. It
        # starts above 0: FTRL divides by the rate (NaN at 0, in Keras too).
        lr = keras_optim_zoo.schedules.get(
            "zoo_warmup_cosine",
            init_value=0.005,
            peak_learning_rate=0.05,
            warmup_steps=4,
            decay_steps=30,
        )
        model = resume.model()
        model.compile(
            optimizer=keras_optim_zoo.get(name, learning_rate=lr), loss="mse"
        )
        path = str(tmp_path / f"{name}.keras")
        expected[name] = resume.fit_save_fit(model, x, y, path)
        models[name] = path
    resume.resume_in_new_process(
        str(tmp_path), x, y, {path: name for name, path in models.items()}
    )
    failures = {}
    for name, path in models.items():
        got, iterations = resume.resumed_weights(path, len(expected[name]))
        # Same weights, same optimizer state, same schedule step: the
        # continued run repeats the uninterrupted one exactly.
        worst = max(
            float(np.max(np.abs(a - b))) for a, b in zip(got, expected[name])
        )
        finite = all(np.all(np.isfinite(a)) for a in got)
        if iterations != 18 or not finite or worst != 0.0:
            failures[name] = {
                "iterations": iterations,
                "finite": finite,
                "max_abs_diff": worst,
            }
    assert not failures, failures
    assert len(models) == len(keras_optim_zoo.list_optimizers())
