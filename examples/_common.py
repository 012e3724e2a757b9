"""What every example shares: options, data loading, saving.

Not an example itself. Each example script puts this folder on `sys.path`
(it is there anyway when the script is run as `python examples/x.py`).
"""

import argparse
import json
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SMOKE_STEPS = 3
"""Training steps per epoch (and validation steps) under `--smoke`."""


def parser(prog, description, *, epochs, batch_size, out):
    """An `ArgumentParser` with the options every example has.

    `--data-dir`, `--epochs`, `--batch-size`, `--steps-per-epoch`,
    `--smoke` (1 epoch of a few steps, for tests), `--out` and `--quiet`
    (no progress bars).
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="TFDS data directory (default: $TFDS_DATA_DIR or "
        "~/tensorflow_datasets)",
    )
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="training steps per epoch (default: one pass over the data)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"1 epoch of {SMOKE_STEPS} steps and {SMOKE_STEPS} validation "
        "steps, to check that everything runs",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", default=out, help=f"output directory (default: {out})"
    )
    p.add_argument(
        "--quiet", action="store_true", help="no Keras progress bars"
    )
    return p


def finish_args(args, train_examples):
    """Applies `--smoke` and fills in `steps_per_epoch`.

    Adds `validation_steps` (`None`: the whole test split) and
    `total_steps`.
    """
    if args.smoke:
        args.epochs = 1
        args.steps_per_epoch = SMOKE_STEPS
        args.validation_steps = SMOKE_STEPS
    else:
        args.validation_steps = None
    if args.steps_per_epoch is None:
        args.steps_per_epoch = math.ceil(train_examples / args.batch_size)
    args.total_steps = args.epochs * args.steps_per_epoch
    return args


def load_split(name, split, args, *, shuffle, prepare=None):
    """A batched `tf.data` split of `(x, y)` through `keras_optim_zoo.data`.

    The training split (`shuffle=True`) is shuffled and repeated, so that
    `fit` runs exactly `steps_per_epoch` steps per epoch, whatever the
    split's size (under `tfds.testing.mock_data` it is small). The test
    split is read once, or for `validation_steps` batches.

    Raises:
        keras_optim_zoo.data.DatasetUnavailableError: Offline, with no
            prepared copy in the data directory (at once, with the fix).
    """
    import tensorflow as tf

    from keras_optim_zoo import data

    ds = data.load(name, split, args.data_dir, as_supervised=True)
    if prepare is not None:
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(10_000, seed=args.seed).repeat()
    ds = ds.batch(args.batch_size)
    if not shuffle and args.validation_steps:
        ds = ds.take(args.validation_steps)
    return ds.prefetch(tf.data.AUTOTUNE)


def save(model, history, args, extra=None):
    """Writes `model.keras` and `history.json` (per-epoch logs) to `--out`.

    Returns the two paths.
    """
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "model.keras")
    history_path = os.path.join(args.out, "history.json")
    model.save(model_path)
    record = {
        "args": {k: v for k, v in vars(args).items()},
        "history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
        **(extra or {}),
    }
    with open(history_path, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {model_path} and {history_path}")
    return model_path, history_path


def run(main_fn, argv):
    """Calls `main_fn(argv)`; a missing dataset becomes a message and 1."""
    from keras_optim_zoo.data import DatasetUnavailableError

    try:
        return main_fn(argv)
    except DatasetUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def entry(main_fn):
    """The example's `main(argv=None)`: runs `main_fn`, returns the status.

    A dataset that is neither prepared nor downloadable gives status 1 and
    the instructions on stderr, at once.
    """

    def main(argv=None):
        return run(main_fn, sys.argv[1:] if argv is None else argv)

    main.__doc__ = entry.__doc__.split(":", 1)[1].strip()
    return main


def downloads_note(name):
    """The line an example that needs a download prints first."""
    return (
        f"Needs the TFDS dataset {name!r}: it is read from --data-dir (or "
        "$TFDS_DATA_DIR) if prepared there, else DOWNLOADED by TFDS when "
        "its hosts are reachable; offline it stops at once with "
        "instructions."
    )
