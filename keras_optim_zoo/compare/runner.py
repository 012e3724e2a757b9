"""Train one model under several optimizers, fairly, and tabulate results.

Fair means: for a given seed every configuration starts from the same
initial weights and sees the training examples in the same order; only the
optimizer differs.

Every run records, per training step, the training loss of that batch and
the learning rate the optimizer applied to it (`StepRecorder`), and per
epoch the training and validation loss and the model's metrics (accuracy
for classification, mean absolute error for regression, or the model's
own).

The model and the data come from `sources` (built-in models, your own
`module:function` or `.keras` file; TFDS names, your own data function,
NumPy arrays or `tf.data` datasets). `train_run` is one run, reused by
`tune` for each trial.
"""

import ast
import json
import math
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import keras_optim_zoo
from keras_optim_zoo import schedules
from keras_optim_zoo.callbacks.evaluation import SwapEvaluationWeights
from keras_optim_zoo.compare import sources
from keras_optim_zoo.compare.models import BUILTIN as MODELS  # noqa: F401

# The five optimizers of the practitioner's guide this package follows:
# the default candidates of `paths`, and the first of `tune`'s.
GUIDE_OPTIMIZERS = (
    "zoo_sgd",
    "zoo_momentum",
    "zoo_nesterov",
    "zoo_rmsprop",
    "zoo_adam",
)


def split_arguments(text):
    """Splits `"a=1,b=[1, 2],c=x"` at the commas outside brackets.

    Returns a `{key: value}` dict; values are Python literals where they
    parse as one (`0.1`, `[100, 200]`, `True`), else strings.

    Raises:
        ValueError: For an item without `=`.
    """
    items, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    out = {}
    for item in filter(str.strip, items):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(
                f"Invalid setting {item!r} in {text!r}: expected key=value, "
                "e.g. zoo_sgd:learning_rate=0.1"
            )
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def describe(config):
    """A short label for a config dict: `name(key=value, ...)`.

    Nested config dicts (a schedule as learning rate) are described the
    same way, so a JSON config reads as
    `zoo_adam(learning_rate=zoo_warmup_cosine(peak_learning_rate=0.01, ...))`.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        return repr(config) if isinstance(config, str) else str(config)
    name = config["class_name"]
    registered = getattr(
        _lookup_any(config.get("registered_name") or name),
        "registered_name",
        None,
    )
    args = {
        k: v
        for k, v in (config.get("config") or {}).items()
        if k != "name" or v != name
    }
    inner = ", ".join(f"{k}={describe(v)}" for k, v in args.items())
    return f"{registered or name}({inner})"


def _lookup_any(name):
    if isinstance(name, str) and ">" in name:
        name = name.split(">", 1)[1]
    for kind in ("optimizer", "schedule"):
        try:
            return keras_optim_zoo.core.registry.lookup(kind, name)
        except KeyError:
            pass
    return None


def parse_config(text):
    """An optimizer configuration from the command line.

    Accepts `"zoo_adam"`, `"zoo_sgd:learning_rate=0.1,momentum=0.5"`, or a
    JSON config dict `'{"class_name": "zoo_sgd", "config": {...}}'`, whose
    `learning_rate` may be a schedule's config dict, e.g.
    `{"class_name": "zoo_warmup_cosine", "config": {...}}` (what
    `keras.saving.serialize_keras_object` writes works too).
    Returns `(label, identifier, overrides)`.

    Raises:
        KeyError: For an unknown optimizer or schedule name.
        ValueError: For a malformed setting or an invalid value.
    """
    text = text.strip()
    if text.startswith("{"):
        config = json.loads(text)
        keras_optim_zoo.get(config)  # validate now, not mid-run
        return describe(config), config, {}
    name, _, rest = text.partition(":")
    overrides = split_arguments(rest)
    keras_optim_zoo.get(name, **overrides)  # validate now, not mid-run
    return text, name, overrides


def parse_schedule(text):
    """A schedule from `"name:key=value,..."` or a JSON config dict.

    Examples: `"zoo_warmup_cosine:peak_learning_rate=0.01,warmup_steps=100,
    decay_steps=1200"`, `"zoo_multistep:initial_learning_rate=0.1,
    milestones=[400, 800]"`, or
    `'{"class_name": "zoo_cosine", "config": {...}}'`.

    Raises:
        KeyError: For an unknown schedule name (the message lists close
            names).
        ValueError: For a malformed setting or an invalid value.
    """
    text = text.strip()
    if text.startswith("{"):
        return schedules.get(json.loads(text))
    name, _, rest = text.partition(":")
    return schedules.get(name.strip(), **split_arguments(rest))


class StepRecorder(keras.callbacks.Callback):
    """Records each training step's batch loss and applied learning rate.

    The learning rate is read from `optimizer.learning_rate` before each
    step, which for a schedule is the schedule at `optimizer.iterations`,
    the value that step applies.

    Keras reports at each batch end the running mean of the loss over the
    epoch, weighted by batch size; the loss of the batch itself is
    recovered from two consecutive running means:
    `loss_k = (n_k * mean_k - n_{k-1} * mean_{k-1}) / b_k`, with `b_k` the
    batch's size and `n_k` the examples seen so far in the epoch. This
    needs the batch sizes, so the training data must be arrays (or a
    dataset) of `num_examples` examples batched by `batch_size`.

    Args:
        num_examples: Training examples per epoch.
        batch_size: Examples per batch (the last batch may be smaller).

    Attributes:
        loss: Training loss of each step's batch.
        learning_rate: Learning rate applied at each step.
    """

    def __init__(self, num_examples, batch_size):
        super().__init__()
        self.num_examples = int(num_examples)
        self.batch_size = int(batch_size)
        self.loss = []
        self.learning_rate = []
        self._seen = 0
        self._total = 0.0

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        # A schedule evaluated eagerly costs ~5 ms a step; traced once, it
        # costs a fraction of that. Same value: it is the same read.
        self._read_rate = tf.function(lambda: optimizer.learning_rate)

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0
        self._total = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.learning_rate.append(float(self._read_rate()))

    def on_train_batch_end(self, batch, logs=None):
        size = min(self.batch_size, self.num_examples - self._seen)
        if size <= 0:  # More batches than expected: take the mean as is.
            size, self._seen = self.batch_size, 0
        seen = self._seen + size
        total = float(logs["loss"]) * seen
        self.loss.append((total - self._total) / size)
        self._seen, self._total = seen, total


def train_run(
    identifier,
    overrides,
    data,
    model_source,
    seed,
    epochs,
    batch_size,
    *,
    on_epoch_end=None,
    verbose=0,
):
    """One training run: a fresh model, one optimizer, one seed.

    Clears the Keras session, sets the seed, builds the model (so its
    initial weights depend on the seed only), then trains epoch by epoch
    on the examples in the order `np.random.default_rng(seed)` gives (the
    same for every optimizer), validating after each epoch.

    Optimizers with an evaluation point (schedule-free, ASGD) are
    validated there (`SwapEvaluationWeights`), as their authors evaluate
    them; the training weights are put back after each validation.

    Training stops at the first epoch whose training loss (any batch) or
    validation loss is NaN or infinite: the run is returned with
    `diverged=True` instead of raising.

    Args:
        identifier: Optimizer name or config dict (`keras_optim_zoo.get`).
        overrides: Keyword arguments for the optimizer (a dict).
        data: A `sources.Data`, or anything `sources.resolve_data` takes
            (e.g. `((x, y), (x_val, y_val))`).
        model_source: A `sources.ModelSource`, or anything
            `sources.resolve_model` takes (e.g. `"mlp"`).
        seed: Seed of the initial weights and of the data order.
        epochs: Epochs to train at most.
        batch_size: Examples per step.
        on_epoch_end: Optional `f(epoch, history)`, called after each
            finished epoch (0-based) with the history so far (a dict of
            lists, as in the returned record); it may raise to stop the
            run (pruning), and the exception propagates.
        verbose: Keras `fit` verbosity.

    Returns:
        A dict: `seed`; `history` (per epoch: `loss`, each metric, and
        their `val_` values); `steps` (per step: `loss`, `learning_rate`);
        `metrics` (the metric names, without `loss`); `epochs` (finished);
        `diverged`; `wall_s` (training and validation time); and
        `final_val_<m>` / `best_val_<m>` for each metric and the loss
        (best: the highest for accuracy-like metrics, the lowest for
        losses and errors, over the finite values).
    """
    if not isinstance(data, sources.Data):
        data = sources.resolve_data(data)
    if not isinstance(model_source, sources.ModelSource):
        model_source = sources.resolve_model(model_source)
    keras.backend.clear_session()
    model = model_source.build(
        data.input_shape, data.task.num_outputs, seed, sample=data.sample()
    )
    optimizer = keras_optim_zoo.get(identifier, **dict(overrides or {}))
    model_source.compile(model, optimizer, data.task)
    order = np.random.default_rng(seed)
    recorder = StepRecorder(data.num_train, batch_size)
    callbacks = [recorder, _StopWhenNotFinite()]
    if getattr(optimizer, "has_evaluation_point", False):
        # Schedule-free and ASGD are validated at their evaluation point
        # (the average), as their authors evaluate them; training runs on.
        callbacks.append(SwapEvaluationWeights())
    validation = data.validation_data(batch_size)
    history, names, diverged = {}, None, False
    start = time.perf_counter()
    for epoch in range(epochs):
        seen = len(recorder.loss)
        h = model.fit(
            **data.fit_arguments(order, batch_size),
            epochs=1,
            validation_data=validation,
            callbacks=callbacks,
            verbose=verbose,
        )
        if names is None:
            names = _metric_names(model, h.history)
            history = {
                key: []
                for key in ["loss", *names, "val_loss"]
                + [f"val_{m}" for m in names]
            }
        for key in history:
            history[key].append(float(h.history.get(key, [math.nan])[0]))
        diverged = not (
            all(math.isfinite(v) for v in recorder.loss[seen:])
            and math.isfinite(history["loss"][-1])
            and math.isfinite(history["val_loss"][-1])
        )
        if diverged:
            break
        if on_epoch_end is not None:
            on_epoch_end(epoch, {k: list(v) for k, v in history.items()})
    wall_s = time.perf_counter() - start
    record = {
        "seed": seed,
        "history": history,
        "steps": {
            "loss": recorder.loss,
            "learning_rate": recorder.learning_rate,
        },
        "metrics": list(names or []),
        "epochs": len(history.get("loss", [])),
        "diverged": diverged,
        "wall_s": wall_s,
    }
    for name in [*(names or []), "loss"]:
        values = history.get(f"val_{name}", [])
        finite = [v for v in values if math.isfinite(v)]
        pick = min if sources.metric_direction(name) == "min" else max
        record[f"final_val_{name}"] = values[-1] if values else math.nan
        record[f"best_val_{name}"] = pick(finite) if finite else math.nan
    return record


class _StopWhenNotFinite(keras.callbacks.Callback):
    """`TerminateOnNaN` (NaN or infinite batch loss), without its print."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True


def _metric_names(model, logs):
    """The metric names of `logs`, in the order the model compiled them."""
    keys = [k for k in logs if not k.startswith("val_") and k != "loss"]
    keys = [k for k in keys if k != "learning_rate"]
    order = []
    try:
        for metric in model._compile_metrics.metrics:  # compile order
            if metric.name in keys and metric.name not in order:
                order.append(metric.name)
    except (AttributeError, TypeError):
        pass
    return order + [k for k in keys if k not in order]


def compare(
    configs,
    data,
    *,
    model="mlp",
    seeds=(0,),
    epochs=10,
    batch_size=100,
    schedule=None,
    verbose=0,
    progress=print,
    loss=None,
    metrics=None,
    keep_weights=False,
    data_dir=None,
    train_examples=None,
):
    """Trains `model` once per configuration and seed.

    Everything is checked before the first run: the configurations, the
    data (labels, lengths), and the model (built once: it must be a
    `keras.Model` whose outputs fit the labels).

    Args:
        configs: Strings as `parse_config` takes them.
        data: What `sources.resolve_data` takes: `((x, y), (x_val,
            y_val))` NumPy arrays, `(train_ds, val_ds)` `tf.data`
            datasets, a TFDS name, `module:function`,
            `path/to/file.py:function`, a callable, or a `sources.Data`.
        model: What `sources.resolve_model` takes: a built-in name
            (`"mlp"`, `"cnn"`, `"cnn1d"`), `module:function`,
            `path/to/file.py:function`, `path/to/model.keras`, a callable,
            a `keras.Model` or a `sources.ModelSource`. Defaults to
            `"mlp"`.
        seeds: Seeds; each gives its own initial weights and data order,
            shared by all configurations.
        epochs: Epochs per run.
        batch_size: Examples per step.
        schedule: Optional learning-rate schedule used by every
            configuration (it replaces their `learning_rate`): a
            `LearningRateSchedule`, or a string as `parse_schedule` takes
            it. Defaults to `None` (each configuration's own rate).
        verbose: Keras `fit` verbosity (1 shows progress bars).
        progress: Called with a line of text after each run.
        loss, metrics, keep_weights: Passed to `sources.resolve_model`.
        data_dir, train_examples: Passed to `sources.resolve_data`.

    Returns:
        A list of `{"label", "metrics", "steps_per_epoch", "runs",
        "diverged", "summary"}` dicts, one per config. Each run is what
        `train_run` returns; a diverged run's history and steps are padded
        with NaN to the full length, so a configuration's curves stay
        aligned. `summary` holds the mean and standard deviation over the
        runs that did not diverge of `final_val_<m>`, `best_val_<m>` (each
        metric, then the loss) and `wall_s`; `diverged` counts the others.
    """
    parsed = [parse_config(c) for c in configs]
    if isinstance(schedule, str):
        schedule_label = schedule.strip()
        schedule = parse_schedule(schedule)
    elif schedule is not None:
        schedule_label = describe(keras.saving.serialize_keras_object(schedule))
    data = sources.resolve_data(data, data_dir, train_examples=train_examples)
    source = sources.resolve_model(
        model, keep_weights=keep_weights, loss=loss, metrics=metrics
    )
    source.check(data)
    results = []
    for label, identifier, overrides in parsed:
        if schedule is not None:
            overrides = {**overrides, "learning_rate": schedule}
            label += " @ " + schedule_label
        runs = []
        for seed in seeds:
            run = train_run(
                identifier,
                overrides,
                data,
                source,
                seed,
                epochs,
                batch_size,
                verbose=verbose,
            )
            runs.append(run)
            progress(_run_line(label, run))
        steps_per_epoch = -(-data.num_train // batch_size)
        for run in runs:
            _pad(run, epochs, epochs * steps_per_epoch)
        names = runs[0]["metrics"]
        results.append(
            {
                "label": label,
                "metrics": names,
                "steps_per_epoch": steps_per_epoch,
                "runs": runs,
                "diverged": sum(r["diverged"] for r in runs),
                "summary": _summary(runs, names),
            }
        )
    return results


def _run_line(label, run):
    head = f"{label:40} seed {run['seed']}: "
    if run["diverged"]:
        return (
            head + f"diverged in epoch {run['epochs']} (step "
            f"{len(run['steps']['loss'])}: loss not finite) after "
            f"{run['wall_s']:.1f} s"
        )
    name = (run["metrics"] or ["loss"])[0]
    return (
        head + f"val {_spoken(name)} {run[f'final_val_{name}']:.3f} "
        f"(best {run[f'best_val_{name}']:.3f}) in {run['wall_s']:.1f} s"
    )


def _spoken(name):
    return name.replace("_", " ")


def _pad(run, epochs, steps):
    for values in run["history"].values():
        values.extend([math.nan] * (epochs - len(values)))
    for values in run["steps"].values():
        values.extend([math.nan] * (steps - len(values)))


def _summary(runs, names):
    kept = [r for r in runs if not r["diverged"]]
    out = {}
    keys = [
        f"{kind}_val_{name}"
        for name in [*names, "loss"]
        for kind in ("final", "best")
    ]
    for key in [*keys, "wall_s"]:
        values = [r[key] for r in kept]
        out[key] = {
            "mean": statistics.fmean(values) if values else math.nan,
            "std": statistics.pstdev(values)
            if len(values) > 1
            else (0.0 if values else math.nan),
        }
    return out


_SHORT = {"accuracy": "acc", "binary_accuracy": "binary acc"}


def format_table(results, markdown=False):
    """The results as a text (or Markdown) table, best first.

    Columns: for each metric of the runs (accuracy for classification,
    mae for regression, or the model's own), then for the loss, the final
    and the best validation value, and the time. Cells are `mean ± std`
    over the seeds (population standard deviation) that did not diverge;
    a `diverged` column counts the others when there are any. Rows are
    sorted by the first metric's final value (highest first for
    accuracy-like metrics, lowest first for losses and errors).
    """
    names = []
    for result in results:
        for name in result.get("metrics", ["accuracy"]):
            if name not in names:
                names.append(name)
    key_name = (names or ["loss"])[0]
    sign = -1 if sources.metric_direction(key_name) == "max" else 1

    def order(result):
        value = (
            result["summary"]
            .get(f"final_val_{key_name}", {})
            .get("mean", math.nan)
        )
        return (math.isnan(value), sign * value if not math.isnan(value) else 0)

    rows = sorted(results, key=order)
    columns = [
        (
            f"{kind} val {_SHORT.get(name, _spoken(name))}",
            f"{kind}_val_{name}",
            ".3f",
        )
        for name in [*names, "loss"]
        for kind in ("final", "best")
    ]
    columns.append(("time s", "wall_s", ".1f"))
    any_diverged = any(r.get("diverged") for r in results)
    head = ["optimizer"] + [c[0] for c in columns]
    if any_diverged:
        head.append("diverged")

    def cell(stat, fmt):
        if stat is None:
            return "-"
        if math.isnan(stat["mean"]):
            return "diverged"
        return f"{stat['mean']:{fmt}} ± {stat['std']:{fmt}}"

    body = []
    for r in rows:
        row = [r["label"].replace("|", "\\|") if markdown else r["label"]]
        row += [cell(r["summary"].get(key), fmt) for _, key, fmt in columns]
        if any_diverged:
            row.append(f"{r.get('diverged', 0)}/{len(r['runs'])}")
        body.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    if markdown:
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*row) for row in body]
    return "\n".join(lines)
