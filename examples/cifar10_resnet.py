"""A small residual CNN on CIFAR-10: SGD-Nesterov with the one-cycle policy.

    python examples/cifar10_resnet.py --epochs 10

The learning rate follows `zoo_one_cycle` (warm up to `--max-learning-rate`
over 30% of the steps, then anneal by cosine), applied by `zoo_nesterov`;
its momentum follows the paired `zoo_one_cycle_momentum` (0.95 down to
0.85 and back), set before every step by
`keras_optim_zoo.callbacks.HyperparameterScheduler`.
Downloads CIFAR-10 through TFDS on first use (unless it is prepared in
`--data-dir`); offline, it stops at once with instructions. Saves the model
(`model.keras`) and the per-epoch history (`history.json`) to `--out`.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # for `import _common`, however this is run
    sys.path.insert(0, _HERE)

import _common  # noqa: E402

TRAIN_EXAMPLES = 50_000


def _block(x, filters, stride):
    """A basic residual block: two 3x3 convolutions and a shortcut."""
    import keras
    from keras import layers

    shortcut = x
    y = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, stride, use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU()(keras.layers.Add()([y, shortcut]))


def build_model(widths=(16, 32, 64), blocks=1, classes=10):
    """A ResNet with one stage per width (stride 2 between stages)."""
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomTranslation(0.1, 0.1)(x)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for stage, width in enumerate(widths):
        for i in range(blocks):
            x = _block(x, width, 2 if stage > 0 and i == 0 else 1)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes)(x), name="resnet_small")


def _main(argv):
    """Parses `argv`, trains and saves; returns 0."""
    parser = _common.parser(
        "cifar10_resnet.py",
        __doc__,
        epochs=10,
        batch_size=128,
        out="runs/examples/cifar10_resnet",
    )
    parser.add_argument(
        "--max-learning-rate", type=float, default=0.1, help="(default: 0.1)"
    )
    parser.add_argument(
        "--momentum",
        type=float,
        default=0.95,
        help="largest momentum, at the start and end (default: 0.95)",
    )
    parser.add_argument(
        "--base-momentum",
        type=float,
        default=0.85,
        help="smallest momentum, at the peak learning rate (default: 0.85)",
    )
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    args = _common.finish_args(parser.parse_args(argv), TRAIN_EXAMPLES)
    print(
        f"Training a small ResNet on CIFAR-10 with zoo_nesterov and "
        f"zoo_one_cycle (max {args.max_learning_rate:g}) for "
        f"{args.total_steps} steps."
    )
    print(_common.downloads_note("cifar10"))

    import keras

    import keras_optim_zoo
    from keras_optim_zoo import callbacks, schedules

    train = _common.load_split("cifar10", "train", args, shuffle=True)
    test = _common.load_split("cifar10", "test", args, shuffle=False)
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    schedule = schedules.get(
        "zoo_one_cycle",
        max_learning_rate=args.max_learning_rate,
        total_steps=max(args.total_steps, 4),
    )
    optimizer = keras_optim_zoo.get(
        "zoo_nesterov",
        learning_rate=schedule,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
    )
    # The momentum half of 1cycle: high while the rate is low, and back.
    momentum_scheduler = callbacks.HyperparameterScheduler(
        "momentum",
        schedules.get(
            "zoo_one_cycle_momentum",
            total_steps=max(args.total_steps, 4),
            base_momentum=args.base_momentum,
            max_momentum=args.momentum,
        ),
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        train,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=test,
        callbacks=[momentum_scheduler],
        shuffle=False,  # tf.data shuffles
        verbose=0 if args.quiet else 1,
    )
    print(f"test accuracy {history.history['val_accuracy'][-1]:.4f}")
    _common.save(model, history, args)
    return 0


main = _common.entry(_main)


if __name__ == "__main__":
    sys.exit(main())
