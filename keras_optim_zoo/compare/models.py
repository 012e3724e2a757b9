"""Built-in models for `compare` and `tune`: `--model mlp | cnn | cnn1d`.

Each is a function `(input_shape, num_outputs) -> keras.Model` that returns
an uncompiled model with `num_outputs` logits (no activation on the last
layer); `compare` adds the loss (from_logits) and metrics for the task.

- `mlp`: the MNIST-1D paper's MLP, two hidden ReLU layers of 100 units.
  Any input shape (it flattens).
- `cnn`: a small 2-D convolutional net for 8x8 images (`digits8x8`); any
  image of at least 4x4 pixels, `(height, width)` or
  `(height, width, channels)`.
- `cnn1d`: the MNIST-1D paper's 1-D convolutional net (`ConvBase` in the
  authors' `notebooks/models.py`, 94% test accuracy in the paper): three
  `Conv1d` of 25 channels, kernels 5, 3, 3, stride 2, padding 1, ReLU, and a
  linear layer on the flattened features. For `(length,)` or
  `(length, channels)` sequences.

Initial weights are Keras's defaults (Glorot-uniform kernels, zero
biases), as for every Keras layer, not PyTorch's.
"""

import keras


def mlp(input_shape, num_outputs, hidden=(100, 100)):
    """The MNIST-1D paper's MLP: flatten, two hidden ReLU layers of 100.

    The paper's `MLPBase` also adds a residual connection around the
    second layer; this is the plain stack the comparison has always used.

    Args:
        input_shape: Shape of one example (any rank; it is flattened).
        num_outputs: Units of the last layer (classes, or regression
            targets).
        hidden: Units of the hidden layers. Defaults to `(100, 100)`.
    """
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(num_outputs))
    return keras.Sequential(layers)


def cnn(input_shape, num_outputs, filters=(32, 64)):
    """A small 2-D CNN for 8x8 digits: two conv + max-pool blocks, a dense head.

    `Conv2D(32, 3, same, relu) -> MaxPool(2) -> Conv2D(64, 3, same, relu)
    -> MaxPool(2) -> Flatten -> Dense(num_outputs)`; on 8x8x1 images,
    21,386 parameters for ten classes. The input is scaled by 1/16 (the
    `digits8x8` pixels are 0..16), so the rates that suit the MLP on
    standardised data suit it too.

    Args:
        input_shape: `(height, width)` or `(height, width, channels)`,
            height and width at least 4.
        num_outputs: Units of the last layer.
        filters: Filters of the two convolutions. Defaults to `(32, 64)`.

    Raises:
        ValueError: For an input that is not a 2-D image of at least 4x4.
    """
    shape = tuple(input_shape)
    if len(shape) not in (2, 3) or min(shape[:2]) < 4:
        raise ValueError(
            "The built-in 'cnn' takes images of shape (height, width) or "
            f"(height, width, channels), at least 4x4; got {shape}. Use "
            "'mlp', 'cnn1d' for sequences, or your own model."
        )
    layers = [keras.Input(shape)]
    if len(shape) == 2:
        layers.append(keras.layers.Reshape(shape + (1,)))
    layers.append(keras.layers.Rescaling(1 / 16))
    for f in filters:
        layers += [
            keras.layers.Conv2D(f, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
        ]
    layers += [keras.layers.Flatten(), keras.layers.Dense(num_outputs)]
    return keras.Sequential(layers, name="cnn")


def cnn1d(input_shape, num_outputs, channels=25):
    """The MNIST-1D paper's 1-D convolutional net (the authors' `ConvBase`).

    `Conv1D(25, 5, stride 2) -> Conv1D(25, 3, stride 2) -> Conv1D(25, 3,
    stride 2)`, each after a zero padding of 1 on both sides (PyTorch's
    `padding=1`) and with ReLU, then `Flatten -> Dense(num_outputs)`. On
    MNIST-1D (length 40) the lengths are 19, 10, 5, the flattened features
    125 and the parameters 5,210, as in the paper's model. (Keras
    flattens length-major, PyTorch channel-major: the same function up to
    a permutation of the last layer's weights.)

    Args:
        input_shape: `(length,)` or `(length, channels)`, length at least 5.
        num_outputs: Units of the last layer.
        channels: Channels of each convolution. Defaults to `25`.

    Raises:
        ValueError: For an input that is not a sequence of length >= 5.
    """
    shape = tuple(input_shape)
    if len(shape) not in (1, 2) or shape[0] is None or shape[0] < 5:
        raise ValueError(
            "The built-in 'cnn1d' takes sequences of shape (length,) or "
            f"(length, channels), length at least 5; got {shape}."
        )
    layers = [keras.Input(shape)]
    if len(shape) == 1:
        layers.append(keras.layers.Reshape(shape + (1,)))
    for kernel in (5, 3, 3):
        layers += [
            keras.layers.ZeroPadding1D(1),
            keras.layers.Conv1D(channels, kernel, strides=2, activation="relu"),
        ]
    layers += [keras.layers.Flatten(), keras.layers.Dense(num_outputs)]
    return keras.Sequential(layers, name="cnn1d")


BUILTIN = {"mlp": mlp, "cnn": cnn, "cnn1d": cnn1d}
"""The built-in models by name."""
