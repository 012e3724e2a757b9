"""Train one model under several optimizers, fairly, and tabulate results.

Fair means: for a given seed every configuration starts from the same
initial weights and sees the training examples in the same order; only the
optimizer differs.

Every run records, per training step, the training loss of that batch and
the learning rate the optimizer applied to it (`StepRecorder`), and per
epoch the training and validation loss and accuracy.
"""

import ast
import json
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import keras_optim_zoo
from keras_optim_zoo import schedules


def _mlp(input_shape, classes, hidden=(100, 100)):
    # The MNIST-1D paper's MLP: two hidden ReLU layers of 100 units.
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(classes))
    return keras.Sequential(layers)


MODELS = {"mlp": _mlp}


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


def _one_run(
    identifier,
    overrides,
    data,
    model_fn,
    seed,
    epochs,
    batch_size,
    verbose,
):
    (x, y), (x_val, y_val) = data
    keras.utils.set_random_seed(seed)
    model = model_fn(x.shape[1:], int(max(y.max(), y_val.max())) + 1)
    optimizer = keras_optim_zoo.get(identifier, **overrides)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    order = np.random.default_rng(seed)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    recorder = StepRecorder(len(x), batch_size)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = order.permutation(len(x))  # the same for every optimizer
        h = model.fit(
            x[perm],
            y[perm],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            validation_data=(x_val, y_val),
            callbacks=[recorder],
            verbose=verbose,
        )
        for key in history:
            history[key].append(float(h.history[key][0]))
    return {
        "seed": seed,
        "history": history,
        "steps": {
            "loss": recorder.loss,
            "learning_rate": recorder.learning_rate,
        },
        "wall_s": time.perf_counter() - start,
        "final_val_accuracy": history["val_accuracy"][-1],
        "best_val_accuracy": max(history["val_accuracy"]),
        "final_val_loss": history["val_loss"][-1],
        "best_val_loss": min(history["val_loss"]),
    }


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
):
    """Trains `model` once per configuration and seed.

    Args:
        configs: Strings as `parse_config` takes them.
        data: `((x_train, y_train), (x_val, y_val))` NumPy arrays, integer
            labels.
        model: A key of `MODELS`.
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

    Returns:
        A list of `{"label", "runs", "summary"}` dicts, one per config.
        Each run has `history` (per epoch: `loss`, `accuracy`, `val_loss`,
        `val_accuracy`), `steps` (per step: `loss`, `learning_rate`),
        `wall_s`, and the final and best validation metrics.
    """
    parsed = [parse_config(c) for c in configs]
    if isinstance(schedule, str):
        schedule_label = schedule.strip()
        schedule = parse_schedule(schedule)
    elif schedule is not None:
        schedule_label = describe(keras.saving.serialize_keras_object(schedule))
    results = []
    for label, identifier, overrides in parsed:
        if schedule is not None:
            overrides = {**overrides, "learning_rate": schedule}
            label += " @ " + schedule_label
        runs = []
        for seed in seeds:
            run = _one_run(
                identifier,
                overrides,
                data,
                MODELS[model],
                seed,
                epochs,
                batch_size,
                verbose,
            )
            runs.append(run)
            progress(
                f"{label:40} seed {seed}: val accuracy "
                f"{run['final_val_accuracy']:.3f} "
                f"(best {run['best_val_accuracy']:.3f}) in "
                f"{run['wall_s']:.1f} s"
            )
        results.append(
            {
                "label": label,
                "steps_per_epoch": -(-len(data[0][0]) // batch_size),
                "runs": runs,
                "summary": _summary(runs),
            }
        )
    return results


def _summary(runs):
    out = {}
    for key in (
        "final_val_accuracy",
        "best_val_accuracy",
        "final_val_loss",
        "best_val_loss",
        "wall_s",
    ):
        values = [r[key] for r in runs]
        out[key] = {
            "mean": statistics.fmean(values),
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
        }
    return out


def format_table(results, markdown=False):
    """The results as a text (or Markdown) table, best first.

    Cells are `mean ± std` over the seeds (population standard deviation).
    """
    rows = sorted(
        results, key=lambda r: -r["summary"]["final_val_accuracy"]["mean"]
    )
    head = [
        "optimizer",
        "final val acc",
        "best val acc",
        "final val loss",
        "best val loss",
        "time s",
    ]

    def cell(stat, fmt):
        return f"{stat['mean']:{fmt}} ± {stat['std']:{fmt}}"

    body = [
        [
            r["label"].replace("|", "\\|") if markdown else r["label"],
            cell(r["summary"]["final_val_accuracy"], ".3f"),
            cell(r["summary"]["best_val_accuracy"], ".3f"),
            cell(r["summary"]["final_val_loss"], ".3f"),
            cell(r["summary"]["best_val_loss"], ".3f"),
            cell(r["summary"]["wall_s"], ".1f"),
        ]
        for r in rows
    ]
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
