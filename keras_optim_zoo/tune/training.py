"""What a trial needs from the comparison runner, and the range test."""

import math

import keras
import numpy as np

import keras_optim_zoo
from keras_optim_zoo.callbacks.finder import find_learning_rate
from keras_optim_zoo.compare.runner import train_run

__all__ = ["range_test", "steps_per_epoch", "train_run", "validation_metrics"]


def steps_per_epoch(data, batch_size):
    return max(1, math.ceil(data.num_train / batch_size))


def validation_metrics(data, model_source):
    """The `val_*` names a run of `model_source` on `data` reports.

    Builds and compiles the model once and evaluates it on two examples;
    raises the sources' clear errors (no model, no labels) before any
    training.
    """
    model_source.check(data)
    keras.backend.clear_session()
    model = model_source.build(
        data.input_shape, data.task.num_outputs, 0, sample=data.sample()
    )
    model_source.compile(model, keras.optimizers.SGD(), data.task)
    logs = model.evaluate(
        data.sample(), data.sample_labels(), verbose=0, return_dict=True
    )
    return ["val_" + k for k in logs]


def range_test(optimizer, data, model_source, *, seed, batch_size, steps):
    """The learning-rate range test of `optimizer` (defaults) on the model.

    Returns the finder's `RangeTestResult`.
    """
    keras.backend.clear_session()
    model = model_source.build(
        data.input_shape, data.task.num_outputs, seed, sample=data.sample()
    )
    model_source.compile(model, keras_optim_zoo.get(optimizer), data.task)
    fit = data.fit_arguments(np.random.default_rng(seed), batch_size)
    return find_learning_rate(
        model, min_lr=1e-6, max_lr=10.0, steps=steps, **fit
    )
