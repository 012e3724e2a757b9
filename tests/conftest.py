import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import keras_optim_zoo  # noqa: E402


def pytest_generate_tests(metafunc):
    # Every test with an `optimizer_name` argument runs for every registered
    # optimizer: a new optimizer file is picked up with no test edits.
    if "optimizer_name" in metafunc.fixturenames:
        metafunc.parametrize(
            "optimizer_name", keras_optim_zoo.list_optimizers()
        )


@pytest.fixture(autouse=True)
def _kernels_for_every_variable(monkeypatch):
    # The compiled TensorFlow path updates variables of at most
    # `INLINE_SIZE` elements op by op in the caller's graph; the test
    # problems' variables are all that small, so the suite sets it to 0 and
    # exercises the XLA kernels that every real model's large variables
    # take. `test_base_pipeline.py` checks the small-variable path itself.
    from keras_optim_zoo.core import base

    monkeypatch.setattr(base, "INLINE_SIZE", 0)


@pytest.fixture
def optimizer_class(optimizer_name):
    return keras_optim_zoo.core.registry.lookup("optimizer", optimizer_name)
