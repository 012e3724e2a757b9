"""Command line: `python -m keras_optim_zoo compare --help`."""

import argparse
import json
import os
import sys

DEMO_OPTIMIZERS = [
    "zoo_sgd:learning_rate=0.1",
    "zoo_momentum",
    "zoo_nesterov",
    "zoo_rmsprop",
    "zoo_adam",
]


def _compare(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_optim_zoo compare",
        description=(
            "Train the same model (same initial weights, same data order) "
            "under several optimizers and seeds; print a table and write "
            "JSON and Markdown results."
        ),
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=DEMO_OPTIMIZERS,
        help="zoo_* names, name:key=value,... or JSON config dicts "
        "(default: SGD at 0.1, momentum, Nesterov, RMSprop, Adam)",
    )
    parser.add_argument(
        "--dataset",
        default="mnist1d",
        help="TFDS dataset with supervised (x, y); mnist1d and digits8x8 "
        "are built offline (default: mnist1d)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="TFDS data directory (default: $TFDS_DATA_DIR "
        "or ~/tensorflow_datasets)",
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--model", default="mlp")
    parser.add_argument(
        "--out",
        default="runs/compare",
        help="directory for results.json and results.md",
    )
    parser.add_argument(
        "--progress-bars",
        action="store_true",
        help="show Keras progress bars for every epoch",
    )
    args = parser.parse_args(argv)

    from keras_optim_zoo import compare, data

    print(f"Loading {args.dataset} through tfds.load ...", flush=True)
    train = data.as_arrays(args.dataset, "train", args.data_dir)
    test = data.as_arrays(args.dataset, "test", args.data_dir)
    print(
        f"{len(train[0])} training and {len(test[0])} validation examples;"
        f" model {args.model}; {args.epochs} epochs of batch "
        f"{args.batch_size}; seeds {args.seeds}",
        flush=True,
    )
    results = compare.compare(
        args.optimizers,
        (train, test),
        model=args.model,
        seeds=args.seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=1 if args.progress_bars else 0,
        progress=lambda line: print(line, flush=True),
    )
    print()
    print(compare.format_table(results))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"args": vars(args), "results": results}, f, indent=1)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(compare.format_table(results, markdown=True) + "\n")
    print(f"\nwrote {args.out}/results.json and results.md")
    return 0


COMMANDS = {"compare": _compare}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m keras_optim_zoo {compare} [--help]")
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
