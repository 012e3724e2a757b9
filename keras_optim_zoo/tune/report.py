"""The tuning run's results, read from the storage alone.

Everything here is computed from the studies (their trials, parameters,
and the `run` user attribute each trial stores: per-epoch history, wall
time, and for confirmation runs the per-step curves), so the tables and
plots can be regenerated from the storage after the workers are gone.
"""

import json
import math
import shlex
import statistics

import optuna
from optuna.trial import TrialState

from keras_optim_zoo.tune import worker as workers


def _sign(direction):
    return 1.0 if direction == "maximize" else -1.0


def candidate_results(plan, storage, steps_per_epoch_of):
    """One dict per candidate: search cost, best parameters, confirmation.

    `steps_per_epoch_of(batch_size)` converts epochs to steps.
    """
    out = []
    for optimizer in plan.optimizers:
        search = optuna.load_study(
            study_name=plan.study(optimizer, "search"), storage=storage
        )
        trials = search.get_trials(deepcopy=False)
        states = [t.state for t in trials]
        diverged = sum(1 for t in trials if t.user_attrs.get("diverged"))
        epochs = 0
        tuning_s = 0.0
        points = []
        for t in trials:
            run = t.user_attrs.get("run")
            if run is None:  # failed: interrupted, or surplus to the budget
                continue
            epochs += len(run["history"].get(plan.objective, []))
            tuning_s += run.get("wall_s", 0.0)
            last = (run["history"].get(plan.objective) or [float("nan")])[-1]
            points.append(
                {
                    "number": t.number,
                    "learning_rate": t.params.get("learning_rate"),
                    "value": t.value
                    if t.state == TrialState.COMPLETE
                    else last,
                    "state": "diverged"
                    if t.user_attrs.get("diverged")
                    else t.state.name.lower(),
                }
            )
        best = workers.best_trial(search)
        entry = {
            "optimizer": optimizer,
            "lr_suggested": search.user_attrs.get("lr_suggested"),
            "lr_range": search.user_attrs.get("lr_range"),
            "cost": {
                "trials": sum(s in workers.FINISHED for s in states),
                "complete": states.count(TrialState.COMPLETE),
                "pruned": states.count(TrialState.PRUNED) - diverged,
                "diverged": diverged,
                "failed": states.count(TrialState.FAIL),
                "epochs": epochs,
                "wall_s": tuning_s,
            },
            "trials": points,
            "best": None,
            "runs": [],
        }
        if best is not None:
            run = best.user_attrs["run"]
            entry["best"] = {
                "trial": best.number,
                "value": best.value,
                "params": best.params,
                "overrides": run["overrides"],
                "batch_size": run["batch_size"],
            }
            confirm = optuna.load_study(
                study_name=plan.study(optimizer, "confirm"), storage=storage
            )
            for t in sorted(
                confirm.get_trials(
                    deepcopy=False, states=(TrialState.COMPLETE,)
                ),
                key=lambda t: t.params["seed"],
            ):
                entry["runs"].append(t.user_attrs["run"])
            entry["steps_per_epoch"] = steps_per_epoch_of(run["batch_size"])
        out.append(entry)
    return summarise(plan, out)


def summarise(plan, entries, target=None):
    """Adds the statistics over seeds, the target, ranks and ties."""
    sign = _sign(plan.direction)
    for e in entries:
        values = [r["history"][plan.objective][-1] for r in e["runs"]]
        e["values"] = values
        if values:
            e["mean"] = statistics.fmean(values)
            e["std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
            e["min"], e["max"] = min(values), max(values)
    done = [e for e in entries if e["values"]]
    if target is None and done:
        # The level every candidate reaches on average: the worst mean.
        target = min((e["mean"] for e in done), key=lambda m: sign * m)
    for e in done:
        reached = []
        for r in e["runs"]:
            curve = r["history"][plan.objective]
            epoch = next(
                (
                    k + 1
                    for k, v in enumerate(curve)
                    if sign * v >= sign * target - 1e-12
                ),
                None,
            )
            reached.append(epoch)
        hits = [k for k in reached if k is not None]
        e["target_reached"] = f"{len(hits)}/{len(reached)}"
        if hits:
            epoch = statistics.fmean(hits)
            e["steps_to_target"] = epoch * e["steps_per_epoch"]
            e["time_to_target_s"] = statistics.fmean(
                r["wall_s"] * k / len(r["history"][plan.objective])
                for r, k in zip(e["runs"], reached)
                if k is not None
            )
    done.sort(key=lambda e: -sign * e["mean"])
    rank = 0
    for i, e in enumerate(done):
        if i == 0 or not _overlap(done[i - 1], e):
            rank = i + 1
        e["rank"] = rank
    for e in entries:
        e["tied"] = sum(1 for o in done if o.get("rank") == e.get("rank")) > 1
    return {
        "objective": plan.objective,
        "direction": plan.direction,
        "target": target,
        "candidates": done + [e for e in entries if not e["values"]],
    }


def _overlap(a, b):
    """Whether the mean +- std intervals of two candidates overlap."""
    return (
        a["mean"] - a["std"] <= b["mean"] + b["std"]
        and b["mean"] - b["std"] <= a["mean"] + a["std"]
    )


def _describe_params(entry):
    best = entry["best"]
    parts = []
    for key, value in best["overrides"].items():
        if isinstance(value, dict):
            inner = value["config"]
            lr = inner.get(
                "initial_learning_rate", inner.get("peak_learning_rate")
            )
            parts.append(f"{value['class_name']}({lr:.3g})")
        elif isinstance(value, float):
            parts.append(f"{key}={value:.3g}")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts) + f", batch {best['batch_size']}"


def format_table(summary, markdown=False):
    """The ranked table: mean ± std, range, target, cost; ties marked."""
    objective = summary["objective"]
    head = [
        "rank",
        "optimizer",
        f"{objective} mean ± std",
        "range",
        "steps to target",
        "time to target s",
        "trials (pruned, diverged)",
        "best configuration",
    ]
    body = []
    for e in summary["candidates"]:
        cost = e["cost"]
        spent = f"{cost['trials']} ({cost['pruned']}, {cost['diverged']})"
        if not e["values"]:
            body.append(
                ["-", e["optimizer"], "no result", "", "", "", spent, ""]
            )
            continue
        rank = f"{e['rank']}" + ("=" if e["tied"] else "")
        steps = e.get("steps_to_target")
        seconds = e.get("time_to_target_s")
        body.append(
            [
                rank,
                e["optimizer"],
                f"{e['mean']:.4f} ± {e['std']:.4f}",
                f"{e['min']:.4f}–{e['max']:.4f}",
                ("-" if steps is None else f"{steps:.0f}")
                + f" ({e['target_reached']})",
                "-" if seconds is None else f"{seconds:.1f}",
                spent,
                _describe_params(e),
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += [
            "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
            for row in body
        ]
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        fmt = "  ".join(f"{{:{w}}}" for w in widths)
        lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
        lines += [fmt.format(*row) for row in body]
    target = summary["target"]
    if target is not None:
        lines.append("")
        lines.append(
            f"target: {objective} {target:.4f} (steps and time: mean over "
            "the seeds that reach it); '=' marks optimizers whose mean ± std "
            "overlap (tied)."
        )
    return "\n".join(lines)


def compare_commands(plan, summary):
    """`python -m keras_optim_zoo compare` lines that re-run the winners
    (one per batch size), with their exact configurations as JSON."""
    by_batch = {}
    for e in summary["candidates"]:
        if e["best"] is None:
            continue
        config = {
            "class_name": e["optimizer"],
            "config": e["best"]["overrides"],
        }
        by_batch.setdefault(e["best"]["batch_size"], []).append(
            json.dumps(config, sort_keys=True)
        )
    commands = []
    for batch, configs in by_batch.items():
        words = ["python", "-m", "keras_optim_zoo", "compare"]
        if plan.model:
            words += ["--model", plan.model]
        if plan.data:
            words += ["--data", plan.data]
        if plan.train_examples:
            words += ["--train-examples", str(plan.train_examples)]
        words += ["--epochs", str(plan.epochs), "--batch-size", str(batch)]
        words += ["--seeds", *map(str, plan.seeds), "--optimizers", *configs]
        commands.append(" ".join(shlex.quote(w) for w in words))
    return commands


def as_compare_results(summary):
    """The confirmation runs in `compare`'s result format (for its plots)."""
    return [
        {
            "label": e["optimizer"],
            "runs": e["runs"],
            "steps_per_epoch": e["steps_per_epoch"],
        }
        for e in summary["candidates"]
        if e["runs"]
    ]


def plot_tuning(summary, path):
    """Learning-rate sensitivity per candidate and the optimisation history
    (best so far against trial number), in one PNG."""
    from keras_optim_zoo.compare import plots

    candidates = summary["candidates"]
    fig = plots.new_figure(12, 4.5)
    sens, hist = fig.subplots(1, 2)
    sign = _sign(summary["direction"])
    markers = {"complete": "o", "pruned": "x", "diverged": "v"}
    for i, e in enumerate(candidates):
        color = f"C{i % 10}"
        for state, marker in markers.items():
            pts = [
                p
                for p in e["trials"]
                if p["state"] == state
                and p["learning_rate"]
                and p["value"] is not None
                and math.isfinite(p["value"])
            ]
            if pts:
                sens.scatter(
                    [p["learning_rate"] for p in pts],
                    [p["value"] for p in pts],
                    color=color,
                    marker=marker,
                    s=18,
                    label=e["optimizer"] if state == "complete" else None,
                )
        ordered = sorted(e["trials"], key=lambda p: p["number"])
        finite = [
            p
            for p in ordered
            if p["value"] is not None and math.isfinite(p["value"])
        ]
        hist.scatter(
            [p["number"] for p in finite],
            [p["value"] for p in finite],
            color=color,
            s=10,
            alpha=0.5,
        )
        best, xs, ys = None, [], []
        for p in ordered:
            if p["state"] == "complete" and (
                best is None or sign * p["value"] > sign * best
            ):
                best = p["value"]
            if best is not None:
                xs.append(p["number"])
                ys.append(best)
        if xs:
            hist.plot(
                xs,
                ys,
                drawstyle="steps-post",
                color=color,
                label=e["optimizer"],
            )
    sens.set_xscale("log")
    sens.set(
        title="learning-rate sensitivity (o complete, x pruned: last "
        "reported epoch)",
        xlabel="learning rate (at the reference batch size)",
        ylabel=summary["objective"],
    )
    hist.set(
        title="optimisation history: each trial (dots), best complete "
        "so far (line)",
        xlabel="trial",
        ylabel=summary["objective"],
    )
    for ax in (sens, hist):
        ax.grid(alpha=0.3)
    sens.legend(fontsize=8)
    fig.savefig(path)
    return path
