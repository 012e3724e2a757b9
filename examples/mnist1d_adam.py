"""An MLP on MNIST-1D with Adam and a warm-up cosine schedule.

    python examples/mnist1d_adam.py

With the defaults (150 epochs, peak rate 1e-2, about a minute on a CPU)
the test accuracy ends near the paper's 68% for this MLP (66.6%, best
67.8%, seed 0).

MNIST-1D (Greydanus, 2020) is generated offline by the `mnist1d` package
and built into the TFDS data directory on first use: no download. The
model is the paper's MLP (two hidden ReLU layers of 100 units); the
learning rate warms up linearly for `--warmup-epochs`, then follows a
cosine to zero at the last step (`zoo_warmup_cosine`). Saves the model
(`model.keras`) and the per-epoch history (`history.json`) to `--out`.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # for `import _common`, however this is run
    sys.path.insert(0, _HERE)

import _common  # noqa: E402

TRAIN_EXAMPLES = 4_000


def _main(argv):
    """Parses `argv`, trains and saves; returns 0."""
    parser = _common.parser(
        "mnist1d_adam.py",
        __doc__,
        epochs=150,
        batch_size=100,
        out="runs/examples/mnist1d_adam",
    )
    parser.add_argument(
        "--peak-learning-rate",
        type=float,
        default=1e-2,
        help="(default: 1e-2)",
    )
    parser.add_argument(
        "--warmup-epochs", type=float, default=2, help="(default: 2)"
    )
    args = _common.finish_args(parser.parse_args(argv), TRAIN_EXAMPLES)
    warmup = max(
        1,
        min(
            round(args.warmup_epochs * args.steps_per_epoch),
            args.total_steps - 1,
        ),
    )
    print(
        f"Training the MNIST-1D paper's MLP with zoo_adam and "
        f"zoo_warmup_cosine (peak {args.peak_learning_rate:g}, {warmup} "
        f"warm-up steps of {args.total_steps}); data made offline."
    )

    import keras

    import keras_optim_zoo
    from keras_optim_zoo import schedules

    train = _common.load_split("mnist1d", "train", args, shuffle=True)
    test = _common.load_split("mnist1d", "test", args, shuffle=False)
    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential(
        [
            keras.Input((40,)),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="mnist1d_mlp",
    )
    schedule = schedules.get(
        "zoo_warmup_cosine",
        peak_learning_rate=args.peak_learning_rate,
        warmup_steps=warmup,
        decay_steps=args.total_steps,
    )
    model.compile(
        optimizer=keras_optim_zoo.get("zoo_adam", learning_rate=schedule),
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
    accuracy = history.history["val_accuracy"]
    print(
        f"test accuracy {accuracy[-1]:.4f} (best {max(accuracy):.4f}); the "
        "paper's MLP reaches 0.68"
    )
    _common.save(model, history, args)
    return 0


main = _common.entry(_main)


if __name__ == "__main__":
    sys.exit(main())
