"""`python -m keras_optim_zoo tune`: the command line of `tune`."""

import argparse


def parser():
    p = argparse.ArgumentParser(
        prog="python -m keras_optim_zoo tune",
        description=(
            "Tune each candidate optimizer on your model and data with the "
            "same budget (Optuna: range test, TPE, successive halving), "
            "re-run each one's best configuration over several seeds, and "
            "rank them. Writes results.json, results.md, curves.png and "
            "tuning.png to --out. Run the same command on several machines "
            "with one --storage database and --study-name to share a study."
        ),
    )
    p.add_argument(
        "--model",
        default="mlp",
        help="mlp, cnn, cnn1d, module:function, path/to/file.py:function or "
        "a .keras file (default: mlp)",
    )
    p.add_argument(
        "--data",
        "--dataset",
        dest="data",
        default="mnist1d",
        help="TFDS name (mnist1d and digits8x8 build offline) or "
        "module:function returning (train, val) (default: mnist1d)",
    )
    p.add_argument("--data-dir", default=None, help="TFDS data directory")
    p.add_argument("--train-examples", type=int, default=None)
    p.add_argument("--keep-weights", action="store_true")
    p.add_argument("--loss", default=None)
    p.add_argument("--metrics", nargs="+", default=None)
    p.add_argument(
        "--optimizers",
        nargs="+",
        default=None,
        help="zoo names (default: SGD, momentum, Nesterov, RMSprop, Adam, "
        "AdamW, Lion, schedule-free AdamW)",
    )
    p.add_argument("--trials", type=int, default=12, help="per optimizer")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[1, 2, 3],
        help="confirmation seeds (default: 1 2 3; search trials use "
        "--search-seed)",
    )
    p.add_argument("--search-seed", type=int, default=0)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[100])
    p.add_argument(
        "--schedules",
        nargs="+",
        default=["constant"],
        help="any of constant, cosine, warmup_cosine (default: constant)",
    )
    p.add_argument(
        "--no-weight-decay",
        action="store_true",
        help="do not search weight decay",
    )
    p.add_argument("--objective", default=None)
    p.add_argument("--target", type=float, default=None)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--storage",
        default=None,
        help="postgresql://... or mysql+pymysql://... (default: a journal "
        "file in --out)",
    )
    p.add_argument("--study-name", default="tune")
    p.add_argument("--sampler-seed", type=int, default=0)
    p.add_argument("--range-test-steps", type=int, default=100)
    p.add_argument(
        "--min-epochs",
        type=int,
        default=None,
        help="pruning grace period: no trial is pruned before this many "
        "epochs (default: a tenth of --epochs, at least 1)",
    )
    p.add_argument("--out", default="runs/tune")
    from keras_optim_zoo.__main__ import add_verbose_option

    add_verbose_option(p)
    return p


def main(argv):
    args = parser().parse_args(argv)
    from keras_optim_zoo import _quiet
    from keras_optim_zoo import tune as tuning

    _quiet.apply(args.verbose)
    from keras_optim_zoo.tune.storage import StorageUnavailableError

    try:
        tuning.tune(
            args.model,
            args.data,
            optimizers=args.optimizers or tuning.DEFAULT_OPTIMIZERS,
            trials=args.trials,
            epochs=args.epochs,
            seeds=args.seeds,
            search_seed=args.search_seed,
            batch_sizes=args.batch_sizes,
            schedules=args.schedules,
            weight_decay=not args.no_weight_decay,
            objective=args.objective,
            target=args.target,
            workers=args.workers,
            storage_url=args.storage,
            study_name=args.study_name,
            out=args.out,
            sampler_seed=args.sampler_seed,
            range_test_steps=args.range_test_steps,
            min_epochs=args.min_epochs,
            data_dir=args.data_dir,
            train_examples=args.train_examples,
            keep_weights=args.keep_weights,
            loss=args.loss,
            metrics=args.metrics,
            quiet=not args.verbose,
        )
    except (ValueError, KeyError, StorageUnavailableError) as error:
        message = error.args[0] if error.args else str(error)
        parser().error(message)
    return 0
