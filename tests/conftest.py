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


@pytest.fixture
def optimizer_class(optimizer_name):
    return keras_optim_zoo.core.registry.lookup("optimizer", optimizer_name)
