"""fit -> model.save -> load in a NEW process -> fit again equals fitting
without interruption, for every registered optimizer."""

import numpy as np
import pytest

import keras_optim_zoo
from tests import resume

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    x, y = resume.data()
    expected, models = {}, {}
    for name in keras_optim_zoo.list_optimizers():
        # A zoo schedule: the new process must resolve it by name too.
        lr = keras_optim_zoo.schedules.get(
            "zoo_warmup_cosine",
            peak_learning_rate=0.05,
            warmup_steps=4,
            decay_steps=30,
        )
        model = resume.model()
        model.compile(
            optimizer=keras_optim_zoo.get(name, learning_rate=lr), loss="mse"
        )
        path = str(root / f"{name}.keras")
        expected[name] = resume.fit_save_fit(model, x, y, path)
        models[name] = path
    resume.resume_in_new_process(
        str(root), x, y, {path: name for name, path in models.items()}
    )
    return expected, models


def test_resume_in_new_process_matches_uninterrupted(resumed, optimizer_name):
    expected, models = resumed
    got, iterations = resume.resumed_weights(
        models[optimizer_name], len(expected[optimizer_name])
    )
    assert iterations == 18
    # Same weights, same optimizer state, same schedule step: the continued
    # run repeats the uninterrupted one exactly.
    for a, b in zip(got, expected[optimizer_name]):
        np.testing.assert_array_equal(a, b)
