"""A tiny model and data for the tune tests (`tests.tune_fixtures:...`).

Three Gaussian classes in 8 dimensions; a 16-unit MLP: an epoch takes a
few milliseconds, so a tuning run is dominated by Keras's per-fit cost.
"""

import keras
import numpy as np


def data():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 1.5
    y = rng.integers(0, 3, 600)
    x = (centers[y] + rng.normal(size=(600, 8))).astype("float32")
    return (x[:400], y[:400]), (x[400:], y[400:])


def model():
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
        ]
    )


def not_a_model():
    return "a string"


def unlabelled():
    x = np.zeros((20, 8), "float32")
    return x, x[:5]
