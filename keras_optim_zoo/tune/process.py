"""A worker process: `python -m keras_optim_zoo.tune.process PLAN INDEX`.

Started by `tune(workers=N)` (or by hand, on any machine that reaches the
plan's database): resolves the plan's model and data, then runs trials
until the studies are done.
"""

import sys


def main(argv=None):
    path, index = (sys.argv[1:] if argv is None else argv)[:2]
    import optuna

    from keras_optim_zoo.tune.worker import Plan, Worker

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    with open(path) as f:
        plan = Plan.from_json(f.read())
    from keras_optim_zoo.compare import sources

    model = sources.resolve_model(
        plan.model,
        keep_weights=plan.keep_weights,
        loss=plan.loss,
        metrics=plan.metrics,
    )
    data = sources.resolve_data(
        plan.data, plan.data_dir, train_examples=plan.train_examples
    )
    prefix = f"[worker {index}] "
    Worker(
        plan,
        model,
        data,
        index=int(index),
        log=lambda line: print(prefix + line, flush=True),
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
