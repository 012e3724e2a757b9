"""An MLP on MNIST or Fashion-MNIST with `optimizer="zoo_nesterov"`.

    python examples/mnist_mlp.py --dataset fashion_mnist --epochs 5

Downloads the dataset through TFDS on first use (unless it is prepared in
`--data-dir`); offline, it stops at once with instructions. Saves the model
(`model.keras`) and the per-epoch history (`history.json`) to `--out`.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # for `import _common`, however this is run
    sys.path.insert(0, _HERE)

import _common  # noqa: E402

TRAIN_EXAMPLES = 60_000


def build_model(hidden=(256, 128), classes=10):
    """`Rescaling(1/255) -> Flatten -> Dense(relu) x 2 -> Dense(10)`."""
    import keras

    layers = [
        keras.Input((28, 28, 1)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Flatten(),
    ]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(classes))
    return keras.Sequential(layers, name="mnist_mlp")


def _main(argv):
    """Parses `argv`, trains and saves; returns 0."""
    parser = _common.parser(
        "mnist_mlp.py",
        __doc__,
        epochs=5,
        batch_size=128,
        out="runs/examples/mnist_mlp",
    )
    parser.add_argument(
        "--dataset", default="mnist", choices=["mnist", "fashion_mnist"]
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="Nesterov's learning rate (default: zoo_nesterov's, 0.01)",
    )
    args = _common.finish_args(parser.parse_args(argv), TRAIN_EXAMPLES)
    print(
        f"Training an MLP on {args.dataset} with zoo_nesterov for "
        f"{args.epochs} epoch(s) of {args.steps_per_epoch} steps."
    )
    print(_common.downloads_note(args.dataset))

    import keras

    import keras_optim_zoo

    train = _common.load_split(args.dataset, "train", args, shuffle=True)
    test = _common.load_split(args.dataset, "test", args, shuffle=False)
    keras.utils.set_random_seed(args.seed)
    model = build_model()
    optimizer = "zoo_nesterov"
    if args.learning_rate is not None:
        optimizer = keras_optim_zoo.get(
            "zoo_nesterov", learning_rate=args.learning_rate
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
        shuffle=False,  # tf.data shuffles
        verbose=0 if args.quiet else 1,
    )
    print(f"test accuracy {history.history['val_accuracy'][-1]:.4f}")
    _common.save(model, history, args)
    return 0


main = _common.entry(_main)


if __name__ == "__main__":
    sys.exit(main())
