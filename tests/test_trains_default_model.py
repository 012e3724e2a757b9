"""Every optimizer trains the comparison tool's default model at its default
learning rate without diverging: the MNIST-1D MLP of `make demo` (real
data, built offline), 3 epochs of batch 100."""

import math

import pytest

from keras_optim_zoo import data
from keras_optim_zoo.compare import runner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist1d(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tfds"))
    return (
        data.as_arrays("mnist1d", "train", directory),
        data.as_arrays("mnist1d", "test", directory),
    )


def test_trains_the_default_model(mnist1d, optimizer_class, optimizer_name):
    [result] = runner.compare(
        [optimizer_name], mnist1d, epochs=3, seeds=(0,), progress=lambda _: None
    )
    run = result["runs"][0]
    losses = run["steps"]["loss"]
    assert all(math.isfinite(x) for x in losses), "diverged"
    epoch = result["steps_per_epoch"]
    first = sum(losses[:epoch]) / epoch
    last = sum(losses[-epoch:]) / epoch
    # Not diverging: the last epoch's mean loss is no higher than the
    # first's, or than the uniform prediction's ln(10). (Keras's defaults
    # for Adadelta and Ftrl, lr 0.001, barely move this model in 3 epochs;
    # Ftrl's proximal step also shrinks random initial weights towards 0,
    # hence the ln(10).)
    assert last <= max(first, math.log(10) + 1e-3), run["history"]
