"""Command line: `python -m keras_optim_zoo <command> [options]`.

Run it without arguments (or with `--help`) for the list of commands; each
command has `--help`. The commands are quiet: TensorFlow's start-up log
lines, TFDS progress bars and library warnings are held back
(`keras_optim_zoo._quiet`); `--verbose` shows them.
"""

import argparse
import json
import math
import os
import sys

from keras_optim_zoo import _quiet

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

_VERBOSE_HELP = (
    "show TensorFlow's own log lines (C++ start-up notices, XLA), TFDS "
    "progress bars and library warnings, which are hidden by default"
)


def add_verbose_option(parser):
    """Adds `--verbose` (see `keras_optim_zoo._quiet`) to a parser."""
    parser.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)


def _parsed_or_exit(parser, parse, text):
    """`parse(text)`, or argparse's usage and the error, exit status 2."""
    try:
        return parse(text)
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        parser.error(f"{text!r}: {message}")


def _finite_or_none(value):
    """JSON without NaN/Infinity: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _compare(argv):
    """Train one model under several optimizers and seeds; table and plots."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_optim_zoo compare",
        description=(
            "Train the same model (same initial weights, same data order) "
            "under several optimizers and seeds; print a table and write "
            "results.json (per-epoch and per-step curves), results.md and "
            "a PNG of the curves (loss, accuracy, learning rate applied). "
            "The model and the data may be your own: --model "
            "mypkg.models:build --data mypkg.data:load."
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
        "--model",
        default="mlp",
        help="a built-in (mlp: the MNIST-1D paper's MLP; cnn: a small CNN "
        "for 8x8 images; cnn1d: the MNIST-1D paper's 1-D CNN), "
        "module:function or path/to/file.py:function (returns a "
        "keras.Model, compiled or not; takes no arguments or (input_shape, "
        "num_outputs)), or a saved path/to/model.keras (default: mlp)",
    )
    parser.add_argument(
        "--keep-weights",
        action="store_true",
        help="with a .keras model: start every run from its saved weights "
        "(default: re-drawn per seed by its layers' initializers)",
    )
    parser.add_argument(
        "--data",
        "--dataset",
        dest="data",
        default="mnist1d",
        help="a TFDS dataset with supervised (x, y), train and test (or "
        "validation) splits (mnist1d and digits8x8 are built offline), or "
        "module:function / path/to/file.py:function returning (train, "
        "val): NumPy (x, y) arrays or tf.data datasets of (x, y) "
        "(default: mnist1d)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="TFDS data directory (default: $TFDS_DATA_DIR "
        "or ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--loss",
        default=None,
        help="loss for every run: a keras.losses name (mse, huber, "
        "sparse_categorical_crossentropy; cross-entropies infer "
        "from_logits from the model), name:key=value,... or a JSON config "
        "(default: the model's own compile, else cross-entropy for "
        "integer labels and mean squared error for float targets)",
    )
    parser.add_argument(
        "--metrics",
        nargs="+",
        default=None,
        help="metrics for every run, keras.metrics names (default: the "
        "model's own, else accuracy for classification and mae for "
        "regression); the table has a column pair for each",
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
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
    add_verbose_option(parser)
    args = parser.parse_args(argv)
    _quiet.apply(args.verbose)

    from keras_optim_zoo import compare
    from keras_optim_zoo.compare import plots, sources

    # Bad configurations, models and data fail here, with argparse's
    # usage, not mid-run.
    for text in args.optimizers:
        _parsed_or_exit(parser, compare.parse_config, text)
    schedule = None
    if args.schedule:
        schedule = _parsed_or_exit(
            parser, compare.parse_schedule, args.schedule
        )
    try:
        source = sources.resolve_model(
            args.model,
            keep_weights=args.keep_weights,
            loss=args.loss,
            metrics=args.metrics,
        )
    except (sources.SourceError, ValueError) as error:
        parser.error(str(error))
    data = _load_data(parser, args, sources)
    try:
        parameters = source.check(data)
    except sources.SourceError as error:
        parser.error(str(error))
    print(
        f"{data.describe()}; model {source.label}, {parameters:,} "
        f"parameters; {args.epochs} epochs of batch {args.batch_size}; "
        f"seeds {args.seeds}",
        flush=True,
    )
    results = compare.compare(
        args.optimizers,
        data,
        model=source,
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
        json.dump(
            _finite_or_none({"args": vars(args), "results": results}),
            f,
            allow_nan=False,
        )
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(compare.format_table(results, markdown=True) + "\n")
    written = "results.json, results.md"
    try:
        plots.plot_comparison(
            results,
            os.path.join(args.out, "compare.png"),
            title=f"{args.data}, {args.model}, batch {args.batch_size}, "
            f"seeds {args.seeds} (mean ± std)",
        )
        written += " and compare.png"
    except KeyError:  # a figure that draws accuracy only, runs without it
        if all("accuracy" in r["metrics"] for r in results):
            raise
        metrics = ", ".join(results[0]["metrics"]) or "no metrics"
        written += (
            " (no compare.png: its panels draw accuracy; these runs have "
            f"{metrics})"
        )
    print(f"\nwrote {args.out}/{written}")
    return 0


def _load_data(parser, args, sources):
    """`sources.resolve_data` for the command line, with our own lines."""
    import tensorflow_datasets as tfds

    from keras_optim_zoo import data as zoo_data

    spec = args.data
    if sources.is_callable_spec(spec):
        print(f"Loading data from {spec} ...", flush=True)
    else:
        first_use = ""
        try:
            builder = tfds.builder(
                spec, data_dir=zoo_data.default_data_dir(args.data_dir)
            )
            if not builder.is_prepared():
                first_use = f" (first use: preparing it in {builder.data_dir})"
        except Exception:  # resolve_data below reports it
            pass
        print(f"Loading {spec} through tfds.load{first_use} ...", flush=True)
    try:
        with _quiet.library_output(args.verbose):
            return sources.resolve_data(
                spec, args.data_dir, train_examples=args.train_examples
            )
    except zoo_data.DatasetUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except (
        sources.SourceError,
        tfds.core.registered.DatasetNotFoundError,
    ) as error:
        parser.error(str(error))


def _paths(argv):
    """Optimizer paths on 2-D test surfaces, as a PNG (optionally a GIF)."""
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
    add_verbose_option(parser)
    args = parser.parse_args(argv)
    _quiet.apply(args.verbose)

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
    """A learning-rate schedule over N steps, as a PNG."""
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
    add_verbose_option(parser)
    args = parser.parse_args(argv)
    _quiet.apply(args.verbose)

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


def _tune(argv):
    """Tune each optimizer on your model and data (Optuna), rank them."""
    from keras_optim_zoo.tune import cli

    return cli.main(argv)


COMMANDS = {
    "compare": _compare,
    "tune": _tune,
    "paths": _paths,
    "plot-schedule": _plot_schedule,
}
"""Subcommands: name -> `function(argv) -> exit status`. The first line of
each function's docstring is its line in the top-level help."""


def usage():
    """The top-level help: the commands, one line each."""
    width = max(map(len, COMMANDS)) + 2
    lines = [
        f"usage: python -m keras_optim_zoo {{{','.join(COMMANDS)}}} "
        "[options] [--verbose]",
        "",
        "XLA-compiled optimizers for Keras 3, and tools to compare and "
        "choose them.",
        "",
        "commands:",
    ]
    for name, function in COMMANDS.items():
        summary = (function.__doc__ or "").strip().splitlines()
        lines.append(f"  {name:{width}}{summary[0] if summary else ''}")
    lines += [
        "",
        "Each command has --help (python -m keras_optim_zoo compare --help).",
        "--verbose shows TensorFlow's own log lines, hidden by default.",
    ]
    return "\n".join(lines)


def main(argv=None):
    """Runs a subcommand; returns the exit status.

    No arguments: the help, status 2. `--help`: the help, status 0. An
    unknown command: the help, status 2.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--verbose":  # also accepted before the command
        argv = argv[1:] + ["--verbose"]
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(usage())
        if argv:
            print(f"\nerror: unknown command {argv[0]!r}")
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
