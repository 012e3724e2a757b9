"""Datasets for comparing optimizers, through the real `tfds.load`.

    from keras_optim_zoo import data

    ds = data.load("mnist1d", "train", as_supervised=True)
    x_test, y_test = data.as_arrays("digits8x8", "test")

Importing this package registers two TFDS builders whose data is made
locally, with no download: `mnist1d` (Greydanus, 2020; 4,000 train / 1,000
test sequences of length 40) and `digits8x8` (scikit-learn's 8x8 digits;
1,437 train / 360 test). `load` builds them on first use. For any other
dataset, `load` reads a prepared data directory and fails fast, with
instructions, when the data is missing and its hosts cannot be reached.

The data directory is `data_dir` if given, else `TFDS_DATA_DIR`, else
`~/tensorflow_datasets`.
"""

from keras_optim_zoo._requires import require

require("tensorflow", "keras_optim_zoo.data", "tensorflow")
require("tensorflow_datasets", "keras_optim_zoo.data", "examples")

from keras_optim_zoo.data.builders import Digits8x8, EmbeddedBuilder, Mnist1d
from keras_optim_zoo.data.loading import (
    DatasetUnavailableError,
    as_arrays,
    default_data_dir,
    load,
    prepare,
)

__all__ = [
    "DatasetUnavailableError",
    "Digits8x8",
    "EmbeddedBuilder",
    "Mnist1d",
    "as_arrays",
    "default_data_dir",
    "load",
    "prepare",
]
