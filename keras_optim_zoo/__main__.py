"""Command line: `python -m keras_optim_zoo {compare,paths,plot-schedule}`.

- `compare`: train one model under several optimizers and seeds; table,
  JSON with per-step curves, Markdown, and a PNG of the curves.
- `paths`: optimizer paths on 2-D test surfaces (PNG, optionally GIF).
- `plot-schedule`: a learning-rate schedule over N steps, as a PNG.

Each subcommand has `--help`.
"""

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

_CONFIG_HELP = (
    "Optimizer configurations: zoo_* names, name:key=value,... (lists in "
    "brackets, e.g. milestones=[400, 800]) or JSON config dicts, whose "
    "learning_rate may be a schedule config, e.g. "
    '\'{"class_name": "zoo_adam", "config": {"learning_rate": '
    '{"class_name": "zoo_warmup_cosine", "config": {"peak_learning_rate": '
    '0.01, "warmup_steps": 100, "decay_steps": 1200}}}}\''
)


def _parsed_or_exit(parser, parse, text):
    """`parse(text)`, or argparse's usage and the error, exit status 2."""
    try:
        return parse(text)
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        parser.error(f"{text!r}: {message}")


def _compare(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_optim_zoo compare",
        description=(
            "Train the same model (same initial weights, same data order) "
            "under several optimizers and seeds; print a table and write "
            "results.json (per-epoch and per-step curves), results.md and "
            "a PNG of the curves (loss, accuracy, learning rate applied)."
        ),
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=DEMO_OPTIMIZERS,
        help=_CONFIG_HELP + " (default: SGD at 0.1, momentum, Nesterov, "
        "RMSprop, Adam)",
    )
    parser.add_argument(
        "--schedule",
        default=None,
        help="learning-rate schedule for every optimizer (replaces their "
        "learning_rate): name:key=value,... or a JSON config, e.g. "
        "zoo_warmup_cosine:peak_learning_rate=0.01,warmup_steps=100,"
        "decay_steps=1200 (one epoch is ceil(examples / batch size) steps)",
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
    parser.add_argument("--model", default="mlp", help="(default: mlp)")
    parser.add_argument(
        "--train-examples",
        type=int,
        default=None,
        help="use only the first N training examples (default: all)",
    )
    parser.add_argument(
        "--out",
        default="runs/compare",
        help="directory for results.json, results.md and compare.png "
        "(default: runs/compare)",
    )
    parser.add_argument(
        "--progress-bars",
        action="store_true",
        help="show Keras progress bars for every epoch",
    )
    args = parser.parse_args(argv)

    from keras_optim_zoo import compare, data
    from keras_optim_zoo.compare import plots

    # Bad configurations fail here, with argparse's usage, not mid-run.
    for text in args.optimizers:
        _parsed_or_exit(parser, compare.parse_config, text)
    schedule = None
    if args.schedule:
        schedule = _parsed_or_exit(
            parser, compare.parse_schedule, args.schedule
        )
    print(f"Loading {args.dataset} through tfds.load ...", flush=True)
    train = data.as_arrays(args.dataset, "train", args.data_dir)
    test = data.as_arrays(args.dataset, "test", args.data_dir)
    if args.train_examples:
        train = tuple(a[: args.train_examples] for a in train)
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
        schedule=schedule,
        verbose=1 if args.progress_bars else 0,
        progress=lambda line: print(line, flush=True),
    )
    print()
    print(compare.format_table(results))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"args": vars(args), "results": results}, f)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(compare.format_table(results, markdown=True) + "\n")
    png = os.path.join(args.out, "compare.png")
    plots.plot_comparison(
        results,
        png,
        title=f"{args.dataset}, {args.model}, batch {args.batch_size}, "
        f"seeds {args.seeds} (mean ± std)",
    )
    print(f"\nwrote {args.out}/results.json, results.md and compare.png")
    return 0


def _paths(argv):
    from keras_optim_zoo.compare import paths

    parser = argparse.ArgumentParser(
        prog="python -m keras_optim_zoo paths",
        description=(
            "Run real zoo optimizers on 2-D test surfaces (a keras.Variable "
            "moved by apply_gradients) and draw their paths on contour "
            "plots. Without a learning_rate, each default optimizer gets "
            "the surface's default rate."
        ),
    )
    parser.add_argument(
        "--surfaces",
        nargs="+",
        default=list(paths.SURFACES),
        choices=list(paths.SURFACES),
        help="(default: all)",
    )
    parser.add_argument(
        "--optimizers",
        nargs="+",
        default=list(paths.DEFAULT_OPTIMIZERS),
        help=_CONFIG_HELP + " (default: SGD, momentum, Nesterov, RMSprop, "
        "Adam)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps (default: per surface)",
    )
    parser.add_argument(
        "--out", default="runs/paths.png", help="(default: runs/paths.png)"
    )
    parser.add_argument(
        "--gif",
        default=None,
        help="also write an animated GIF of the first surface to this file",
    )
    parser.add_argument("--gif-frames", type=int, default=60)
    args = parser.parse_args(argv)

    from keras_optim_zoo import compare

    for text in args.optimizers:
        _parsed_or_exit(parser, compare.parse_config, text)
    traces = {}
    for name in args.surfaces:
        print(f"{name}: ", end="", flush=True)
        traces[name] = paths.run_paths(name, args.optimizers, args.steps)
        finals = ", ".join(
            f"{label} -> ({p[-1][0]:.3g}, {p[-1][1]:.3g})"
            for label, p in traces[name]
        )
        print(finals, flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    paths.plot_paths(traces, args.out)
    print(f"wrote {args.out}")
    if args.gif:
        first = args.surfaces[0]
        paths.animate_paths(
            first, traces[first], args.gif, frames=args.gif_frames
        )
        print(f"wrote {args.gif}")
    return 0


def _plot_schedule(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_optim_zoo plot-schedule",
        description="Plot a learning-rate schedule over N steps to a PNG.",
    )
    parser.add_argument(
        "schedule",
        help="name:key=value,... or a JSON config, e.g. "
        "zoo_one_cycle:max_learning_rate=0.1,total_steps=1000",
    )
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--out", required=True, help="output .png file")
    parser.add_argument("--log", action="store_true", help="logarithmic y axis")
    args = parser.parse_args(argv)

    from keras_optim_zoo import compare
    from keras_optim_zoo.compare import paths

    schedule = _parsed_or_exit(parser, compare.parse_schedule, args.schedule)
    values = paths.plot_schedule(schedule, args.steps, args.out, log=args.log)
    print(
        f"step 0: {values[0]:.6g}, max {values.max():.6g} at step "
        f"{int(values.argmax())}, step {args.steps - 1}: {values[-1]:.6g}"
    )
    print(f"wrote {args.out}")
    return 0


COMMANDS = {
    "compare": _compare,
    "paths": _paths,
    "plot-schedule": _plot_schedule,
}


def main(argv=None):
    """Runs a subcommand; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(
            "usage: python -m keras_optim_zoo {compare,paths,plot-schedule}"
            " [--help]"
        )
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
