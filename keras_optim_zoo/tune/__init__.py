"""Tuning: which optimizer, learning rate and batch size for *this* model?

`tune(model, data, ...)` (and `python -m keras_optim_zoo tune`) searches
each candidate optimizer in a study of its own with the same budget, on
Optuna: a learning-rate range test seeds each candidate's range and first
trials, TPE searches the learning rate (log scale), the optimizer's key
hyper-parameters (`1 - momentum` or `1 - beta_1` on a log scale) and
weight decay, optionally the schedule and the batch size (the learning
rate follows the batch size by the optimizer's declared rule), and
successive halving prunes over epochs (`pruning.EpochHalving`). Each
candidate's best configuration is then re-run over several seeds without
pruning, and the candidates are ranked
by mean, with their spread, range, steps and time to a target and the
tuning cost; those whose mean ± std overlap are tied.

Studies live in the run directory (a journal file) or in a database
shared by several machines (`storage="postgresql://..."`). Worker
processes (`workers=N`) share the budget; a worker killed mid-trial loses
nothing (its trial is failed and its configuration re-queued).
"""

from keras_optim_zoo._requires import require

require("optuna", "keras_optim_zoo.tune", "tune")
require("tensorflow", "keras_optim_zoo.tune", "tensorflow")


import json
import math
import os
import subprocess
import sys
import time

import optuna

from keras_optim_zoo.compare.runner import GUIDE_OPTIMIZERS
from keras_optim_zoo.core.hyper import invalid
from keras_optim_zoo.tune import report, space, storage
from keras_optim_zoo.tune.worker import Plan, Worker

# The five optimizers of the guide and strong modern ones.
DEFAULT_OPTIMIZERS = (
    *GUIDE_OPTIMIZERS,
    "zoo_adamw",
    "zoo_lion",
    "zoo_schedule_free_adamw",
)

__all__ = ["DEFAULT_OPTIMIZERS", "Plan", "tune"]


def _rungs(plan):
    from keras_optim_zoo.tune import pruning

    return pruning.EpochHalving(plan.epochs, min_epochs=plan.first_rung).rungs()


def _positive_int(name, value, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise invalid(name, value, f"an int >= {low}")
    return value


def _validate(optimizers, trials, epochs, seeds, workers, direction):
    optimizers = list(optimizers)
    if not optimizers:
        raise invalid("optimizers", optimizers, "at least one zoo name")
    for name in optimizers:
        if not isinstance(name, str):
            raise invalid("optimizers", name, "zoo optimizer names")
        space.optimizer_class(name)
    if len(set(optimizers)) != len(optimizers):
        raise invalid("optimizers", optimizers, "distinct names")
    _positive_int("trials", trials)
    _positive_int("epochs", epochs)
    _positive_int("workers", workers)
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise invalid("seeds", seeds, "one or more distinct ints")
    for s in seeds:
        _positive_int("seeds", s, low=0)
    if direction not in (None, "maximize", "minimize"):
        raise invalid("direction", direction, "'maximize' or 'minimize'")
    return optimizers, seeds


def _objective(training, data, model_source, objective, direction):
    """The metric to optimise and its direction, checked on the model."""
    names = training.validation_metrics(data, model_source)
    if objective is None:
        objective = "val_accuracy" if "val_accuracy" in names else "val_loss"
    if objective not in names:
        raise invalid("objective", objective, "one of " + ", ".join(names))
    if direction is None:
        lower = any(w in objective for w in ("loss", "error", "mae", "mse"))
        direction = "minimize" if lower else "maximize"
    return objective, direction


def tune(
    model,
    data,
    *,
    optimizers=DEFAULT_OPTIMIZERS,
    trials=12,
    epochs=10,
    seeds=(1, 2, 3),
    search_seed=0,
    batch_sizes=(100,),
    schedules=("constant",),
    weight_decay=True,
    objective=None,
    direction=None,
    target=None,
    workers=1,
    storage_url=None,
    study_name="tune",
    out="runs/tune",
    sampler_seed=0,
    range_test_steps=100,
    min_epochs=None,
    data_dir=None,
    train_examples=None,
    keep_weights=False,
    loss=None,
    metrics=None,
    plots=True,
    progress=print,
    quiet=True,
):
    """Tunes each candidate optimizer on `model` and `data`; ranks them.

    Args:
        model: A built-in model name (`"mlp"`, `"cnn"`, `"cnn1d"`), a
            `"module:function"` or `"path/to/file.py:function"` string, a
            `.keras` file, or a Python callable returning a Keras model.
        data: A TFDS name, a `"module:function"` string, or
            `(train, val)` as NumPy `(x, y)` pairs or `tf.data.Dataset`s.
        optimizers: Candidate zoo names. Defaults to `DEFAULT_OPTIMIZERS`.
        trials: Search trials per candidate (the same budget for each).
        epochs: Epochs per trial and per confirmation run.
        seeds: Confirmation seeds (distinct from `search_seed`, so the
            ranking is not biased by the selection). Defaults to 1, 2, 3.
        search_seed: Seed of every search trial. Defaults to `0`.
        batch_sizes: Batch sizes to search; the first is the reference
            of the learning rate. Defaults to `(100,)` (not searched).
        schedules: Any of `"constant"`, `"cosine"`, `"warmup_cosine"`;
            more than one is searched. Defaults to `("constant",)`.
        weight_decay: Whether to search weight decay. Defaults to `True`.
        objective: Validation metric to optimise, e.g. `"val_accuracy"`
            (the default for classification) or `"val_loss"` (regression).
        direction: `"maximize"` or `"minimize"`; inferred from the name.
        target: The objective level for steps/time to target; defaults to
            the worst candidate's mean (a level every candidate reaches).
        workers: Worker processes (more than one needs `model` and `data`
            as strings that a fresh process can resolve). Defaults to 1,
            in this process.
        storage_url: `None` (a journal file in `out`), or a database URL
            (`postgresql://...`, `mysql+pymysql://...`) shared by machines.
        study_name: Prefix of the studies (the same on every machine).
        out: Run directory (results.json, results.md, PNGs, the journal).
        sampler_seed: Seeds the samplers. Defaults to `0`.
        range_test_steps: Steps of each candidate's range test.
        min_epochs: The pruning's grace period: no search trial is pruned
            before this many epochs (the first rung; the next ones are 3
            and 9 times it). `None`: a tenth of `epochs`, at least 1.
        data_dir, train_examples, keep_weights, loss, metrics: As
            `compare` takes them.
        plots: Whether to write the PNGs. Defaults to `True`.
        progress: Called with each line of progress.
        quiet: Silence Optuna's own log lines (our progress lines say
            the same, once per trial). Defaults to `True`.

    Returns:
        The summary dict written to `results.json` (`candidates` ranked,
        each with `mean`, `std`, `min`, `max`, `rank`, `tied`, `cost`,
        `best` configuration and the confirmation `runs`), plus
        `compare_commands`.

    Raises:
        ValueError: For a bad argument (named, with what is allowed), an
            unknown optimizer, a model function that returns no model, a
            dataset without labels; `storage.StorageUnavailableError` for
            an unreachable database. All before any training.
    """
    from keras_optim_zoo.compare import sources
    from keras_optim_zoo.tune import training

    optimizers, seeds = _validate(
        optimizers, trials, epochs, seeds, workers, direction
    )
    _positive_int("search_seed", search_seed, low=0)
    _positive_int("range_test_steps", range_test_steps, low=2)
    if min_epochs is not None:
        _positive_int("min_epochs", min_epochs)
        if min_epochs > epochs:
            raise invalid(
                "min_epochs", min_epochs, f"at most epochs ({epochs})"
            )
    schedules, batch_sizes = space.validate_choices(schedules, batch_sizes)
    as_spec = isinstance(model, str) and (isinstance(data, str) or data is None)
    if workers > 1 and not as_spec:
        raise invalid(
            "workers",
            workers,
            "1 when `model` or `data` are Python objects (worker processes "
            "need them as 'module:function' strings, file paths or names)",
        )
    store = storage.open_storage(storage_url, out)  # unreachable: fails here
    model_source = sources.resolve_model(
        model, keep_weights=keep_weights, loss=loss, metrics=metrics
    )
    resolved = sources.resolve_data(
        data, data_dir, train_examples=train_examples
    )
    objective, direction = _objective(
        training, resolved, model_source, objective, direction
    )
    plan = Plan(
        optimizers=optimizers,
        trials=trials,
        epochs=epochs,
        seeds=seeds,
        search_seed=search_seed,
        batch_sizes=list(batch_sizes),
        schedules=list(schedules),
        weight_decay=bool(weight_decay),
        objective=objective,
        direction=direction,
        study_name=study_name,
        storage=storage_url,
        out=out,
        sampler_seed=sampler_seed,
        range_test_steps=range_test_steps,
        min_epochs=min_epochs,
        model=model if isinstance(model, str) else None,
        data=data if isinstance(data, str) else None,
        data_dir=data_dir,
        train_examples=train_examples,
        keep_weights=keep_weights,
        loss=loss,
        metrics=list(metrics) if metrics else None,
    )
    os.makedirs(out, exist_ok=True)
    if quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    progress(
        f"tuning {len(optimizers)} optimizers x {trials} trials of "
        f"{epochs} epochs on {plan.objective} ({direction}); then "
        f"{len(seeds)} confirmation seeds each; pruning at epochs "
        f"{', '.join(map(str, _rungs(plan))) or 'none'}; storage "
        f"{storage.describe(storage_url) if storage_url else out}"
    )
    if workers == 1:
        Worker(plan, model_source, resolved, log=progress).run()
    else:
        run_processes(plan, workers, progress)
    summary = report.candidate_results(
        plan, store, lambda b: training.steps_per_epoch(resolved, b)
    )
    if target is not None:
        summary = report.summarise(plan, summary["candidates"], target)
    summary["compare_commands"] = report.compare_commands(plan, summary)
    summary["plan"] = json.loads(plan.to_json())
    write_outputs(summary, out, plots=plots)
    progress("")
    progress(report.format_table(summary))
    progress("")
    progress("reproduce the winners with:")
    for command in summary["compare_commands"]:
        progress("  " + command)
    progress(f"wrote {out}/results.json, results.md, curves.png, tuning.png")
    return summary


def run_processes(plan, workers, progress):
    """Starts `workers` worker processes on this machine; waits for them.

    A worker that dies (killed, out of memory) is restarted once per
    death until the studies are done; its trial is re-queued.
    """
    path = os.path.join(plan.out, "plan.json")
    with open(path, "w") as f:
        f.write(plan.to_json())
    command = [sys.executable, "-m", "keras_optim_zoo.tune.process", path]
    procs = {i: subprocess.Popen([*command, str(i)]) for i in range(workers)}
    restarts = 0
    while procs:
        time.sleep(0.5)
        for i, proc in list(procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del procs[i]
            if code != 0 and restarts < 10 * workers:
                restarts += 1
                progress(f"worker {i} exited with {code}; restarting it")
                procs[i] = subprocess.Popen([*command, str(i)])


def write_outputs(summary, out, *, plots=True):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1, default=_json_default)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(report.format_table(summary, markdown=True) + "\n\n")
        f.write("Reproduce the winners:\n\n```\n")
        f.write("\n".join(summary["compare_commands"]) + "\n```\n")
    if plots:
        from keras_optim_zoo.compare import plots as compare_plots

        results = report.as_compare_results(summary)
        if results:
            compare_plots.plot_comparison(
                results,
                os.path.join(out, "curves.png"),
                title="best configuration of each optimizer, mean ± std "
                "over the confirmation seeds",
            )
        report.plot_tuning(summary, os.path.join(out, "tuning.png"))


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(type(value).__name__)
