"""TFDS builders for the small datasets the zoo generates offline.

Defining a `tfds.core.GeneratorBasedBuilder` subclass registers it with TFDS,
so importing this module (which `keras_optim_zoo.data` does) makes
`tfds.load("mnist1d")` and `tfds.load("digits8x8")` work. Both builders make
their data locally from an installed package and never download anything;
`keras_optim_zoo.data.prepare` builds them without touching the network.

From the command line, name the module that registers them:

    tfds build mnist1d --imports keras_optim_zoo.data --data_dir DIR
"""

import random

import numpy as np
import tensorflow_datasets as tfds


class EmbeddedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the builders whose data is made locally, with no download.

    `keras_optim_zoo.data.prepare` builds a subclass with a download
    configuration that keeps TFDS off the network, and `load` builds one on
    first use. Subclasses also set `disable_shuffling=True` in their
    `DatasetInfo`, so the stored order is the order of the source, and the
    arrays read back equal the ones the source package returns.
    """


class Mnist1d(EmbeddedBuilder):
    """MNIST-1D: 1-D signals of the ten digit templates, made by `mnist1d`.

    The dataset of the paper: `make_dataset(get_dataset_args())` with its
    defaults (5,000 sequences of length 40, seed 42, the first 80% train),
    so `train` has 4,000 and `test` 1,000 examples, in the package's order.
    Values are the package's float64 values cast to float32.

    Generation reseeds Python's and NumPy's global generators (the package
    calls `set_seed`); the builder restores both afterwards.

    References:
        - Greydanus, 2020. Scaling down deep learning. arXiv:2011.14439.
    """

    name = "mnist1d"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "The paper's dataset, made with mnist1d.make_dataset.",
    }

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "MNIST-1D (Greydanus, 2020), generated offline by the "
                "`mnist1d` package with its default arguments."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=(40,), dtype=np.float32),
                    "y": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("x", "y"),
            homepage="https://github.com/greydanus/mnist1d",
            citation=(
                "@article{greydanus2020scaling,\n"
                "  title={Scaling down deep learning},\n"
                "  author={Greydanus, Sam},\n"
                "  journal={arXiv preprint arXiv:2011.14439},\n"
                "  year={2020}\n"
                "}"
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        data = make_mnist1d()
        return {
            "train": self._generate_examples(data["x"], data["y"]),
            "test": self._generate_examples(data["x_test"], data["y_test"]),
        }

    def _generate_examples(self, xs, ys):
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            yield i, {"x": x.astype(np.float32), "y": int(y)}


def make_mnist1d():
    """The MNIST-1D arrays of the paper, straight from the `mnist1d` package.

    Returns the package's dict (`x`, `y`, `x_test`, `y_test`, ...). Python's
    and NumPy's global random states are restored afterwards.
    """
    # Imported here: the package pulls in matplotlib and requests.
    from mnist1d.data import get_dataset_args, make_dataset

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        return make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


class Digits8x8(EmbeddedBuilder):
    """The 8x8 handwritten digits scikit-learn ships (`load_digits`).

    1,797 images with integer values 0..16 (not 0..255), stored as uint8
    `(8, 8, 1)` images under the keys `image` and `label`, like `mnist`.
    The split is positional: the first 1,437 images (80%) are `train`, the
    last 360 `test`. The file is ordered by writer, so the split keeps
    writers apart, and each class has 33 to 37 test images.

    References:
        - Alpaydin and Kaynak, 1998. Optical Recognition of Handwritten
          Digits. UCI Machine Learning Repository.
    """

    name = "digits8x8"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "sklearn.datasets.load_digits, first 1,437 train.",
    }
    NUM_TRAIN = 1437

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "The 8x8 digits of scikit-learn (`load_digits`), values "
                "0..16; the first 1,437 images train, the last 360 test."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            homepage=(
                "https://archive.ics.uci.edu/dataset/80/optical+recognition"
                "+of+handwritten+digits"
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        images, labels = make_digits8x8()
        n = self.NUM_TRAIN
        return {
            "train": self._generate_examples(images[:n], labels[:n]),
            "test": self._generate_examples(images[n:], labels[n:]),
        }

    def _generate_examples(self, images, labels):
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield i, {"image": image, "label": int(label)}


def make_digits8x8():
    """All 1,797 digits from scikit-learn: uint8 `(N, 8, 8, 1)` and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., np.newaxis]
    return images, digits.target.astype(np.int64)
