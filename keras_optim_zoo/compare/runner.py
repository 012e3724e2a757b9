"""Train one model under several optimizers, fairly, and tabulate results.

Fair means: for a given seed every configuration starts from the same
initial weights and sees the training examples in the same order; only the
optimizer differs.
"""

import ast
import json
import statistics
import time

import keras
import numpy as np

import keras_optim_zoo


def _mlp(input_shape, classes, hidden=(100, 100)):
    # The MNIST-1D paper's MLP: two hidden ReLU layers of 100 units.
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(classes))
    return keras.Sequential(layers)


MODELS = {"mlp": _mlp}


def parse_config(text):
    """An optimizer configuration from the command line.

    Accepts `"zoo_adam"`, `"zoo_sgd:learning_rate=0.1,momentum=0.5"`, or a
    JSON config dict `'{"class_name": "zoo_sgd", "config": {...}}'`.
    Returns `(label, identifier, overrides)`.
    """
    text = text.strip()
    if text.startswith("{"):
        config = json.loads(text)
        label = config.get("class_name", "?")
        args = config.get("config", {})
        if args:
            label += ":" + ",".join(f"{k}={v}" for k, v in args.items())
        return label, config, {}
    name, _, rest = text.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(
                f"Invalid optimizer setting {item!r} in {text!r}: expected "
                "key=value, e.g. zoo_sgd:learning_rate=0.1"
            )
        try:
            overrides[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            overrides[key.strip()] = value.strip()
    keras_optim_zoo.get(name, **overrides)  # validate now, not mid-run
    return text, name, overrides


def _one_run(
    identifier, overrides, data, model_fn, seed, epochs, batch_size, verbose
):
    (x, y), (x_val, y_val) = data
    keras.utils.set_random_seed(seed)
    model = model_fn(x.shape[1:], int(y.max()) + 1)
    optimizer = keras_optim_zoo.get(identifier, **overrides)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    order = np.random.default_rng(seed)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
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
            verbose=verbose,
        )
        for key in history:
            history[key].append(float(h.history[key][0]))
    return {
        "seed": seed,
        "history": history,
        "wall_s": time.perf_counter() - start,
        "final_val_accuracy": history["val_accuracy"][-1],
        "best_val_accuracy": max(history["val_accuracy"]),
        "final_val_loss": history["val_loss"][-1],
    }


def compare(
    configs,
    data,
    *,
    model="mlp",
    seeds=(0,),
    epochs=10,
    batch_size=100,
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
        verbose: Keras `fit` verbosity (1 shows progress bars).
        progress: Called with a line of text after each run.

    Returns:
        A list of `{"label", "runs", "summary"}` dicts, one per config.
    """
    parsed = [parse_config(c) for c in configs]
    results = []
    for label, identifier, overrides in parsed:
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
            {"label": label, "runs": runs, "summary": _summary(runs)}
        )
    return results


def _summary(runs):
    out = {}
    for key in (
        "final_val_accuracy",
        "best_val_accuracy",
        "final_val_loss",
        "wall_s",
    ):
        values = [r[key] for r in runs]
        out[key] = {
            "mean": statistics.fmean(values),
            "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
        }
    return out


def format_table(results, markdown=False):
    """The results as a text (or Markdown) table, best first."""
    rows = sorted(
        results, key=lambda r: -r["summary"]["final_val_accuracy"]["mean"]
    )
    head = [
        "optimizer",
        "final val acc",
        "best val acc",
        "final val loss",
        "time s",
    ]

    def cell(stat, fmt):
        return f"{stat['mean']:{fmt}} ± {stat['std']:{fmt}}"

    body = [
        [
            r["label"],
            cell(r["summary"]["final_val_accuracy"], ".3f"),
            cell(r["summary"]["best_val_accuracy"], ".3f"),
            cell(r["summary"]["final_val_loss"], ".3f"),
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
