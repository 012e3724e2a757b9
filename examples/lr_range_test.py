"""A learning-rate range test, then training at the suggested rate.

    python examples/lr_range_test.py --optimizer zoo_nesterov --epochs 20

Runs `keras_optim_zoo.callbacks.find_learning_rate` (Smith's range test:
the learning rate rises exponentially from `--min-lr` to `--max-lr`, one
value per batch, until the smoothed loss diverges; the model is then
restored), plots loss against learning rate (`lr_range.png`), and trains
the same model for `--epochs` at the suggested rate. Data: MNIST-1D or the
8x8 digits, both made offline (no download). Saves the model
(`model.keras`) and the history with the range-test curve
(`history.json`) to `--out`.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # for `import _common`, however this is run
    sys.path.insert(0, _HERE)

import _common  # noqa: E402

TRAIN_EXAMPLES = {"mnist1d": 4_000, "digits8x8": 1_437}


def build_model(input_shape, classes=10):
    """`Flatten -> Dense(100, relu) x 2 -> Dense(classes)`."""
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(classes),
        ],
        name="mlp",
    )


def _main(argv):
    """Parses `argv`, trains and saves; returns 0."""
    parser = _common.parser(
        "lr_range_test.py",
        __doc__,
        epochs=20,
        batch_size=100,
        out="runs/examples/lr_range_test",
    )
    parser.add_argument(
        "--dataset", default="mnist1d", choices=sorted(TRAIN_EXAMPLES)
    )
    parser.add_argument(
        "--optimizer",
        default="zoo_nesterov",
        help="any zoo_* optimizer (default: zoo_nesterov)",
    )
    parser.add_argument("--min-lr", type=float, default=1e-5)
    parser.add_argument("--max-lr", type=float, default=10.0)
    parser.add_argument(
        "--range-steps",
        type=int,
        default=200,
        help="batches of the range test (default: 200)",
    )
    args = parser.parse_args(argv)
    args = _common.finish_args(args, TRAIN_EXAMPLES[args.dataset])
    if args.smoke:
        args.range_steps = min(args.range_steps, 10)
    print(
        f"Learning-rate range test of {args.optimizer} on {args.dataset} "
        f"({args.min_lr:g} to {args.max_lr:g} over {args.range_steps} "
        f"batches, keras_optim_zoo.callbacks.find_learning_rate), then "
        f"{args.epochs} epoch(s) at the suggested rate; data made offline."
    )

    import keras
    import tensorflow as tf

    import keras_optim_zoo
    from keras_optim_zoo.callbacks import find_learning_rate

    def scale(x, y):
        # digits8x8 pixels are 0..16; MNIST-1D values are already small.
        divisor = 16.0 if x.dtype == tf.uint8 else 1.0
        return tf.cast(x, "float32") / divisor, y

    train = _common.load_split(
        args.dataset, "train", args, shuffle=True, prepare=scale
    )
    test = _common.load_split(
        args.dataset, "test", args, shuffle=False, prepare=scale
    )
    keras.utils.set_random_seed(args.seed)
    model = build_model(train.element_spec[0].shape[1:])
    model.compile(
        optimizer=keras_optim_zoo.get(args.optimizer),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    os.makedirs(args.out, exist_ok=True)
    plot = os.path.join(args.out, "lr_range.png")
    result = find_learning_rate(
        model,
        train,
        min_lr=args.min_lr,
        max_lr=args.max_lr,
        steps=args.range_steps,
        epochs=1,
        steps_per_epoch=args.range_steps,
        plot_path=plot,
        shuffle=False,  # tf.data shuffles
        verbose=0 if args.quiet else 1,
    )
    print(
        f"range test: {len(result.losses)} batches"
        f"{' (stopped: diverged)' if result.diverged else ''}; minimum of "
        f"the smoothed loss at {result.min_loss_lr:.3g}; suggested "
        f"learning rate {result.suggested_lr:.3g}; wrote {plot}"
    )
    model.optimizer.learning_rate = float(result.suggested_lr)
    history = model.fit(
        train,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=test,
        shuffle=False,  # tf.data shuffles
        verbose=0 if args.quiet else 1,
    )
    print(
        f"test accuracy at {result.suggested_lr:.3g}: "
        f"{history.history['val_accuracy'][-1]:.4f}"
    )
    _common.save(
        model,
        history,
        args,
        extra={
            "range_test": {
                "learning_rates": [float(v) for v in result.learning_rates],
                "losses": [float(v) for v in result.losses],
                "smoothed": [float(v) for v in result.smoothed],
                "diverged": bool(result.diverged),
                "suggested_lr": float(result.suggested_lr),
                "min_loss_lr": float(result.min_loss_lr),
            }
        },
    )
    return 0


main = _common.entry(_main)


if __name__ == "__main__":
    sys.exit(main())
