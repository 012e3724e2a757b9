"""One tuning worker: takes the next trial of any candidate and runs it.

A worker is a loop over the candidates' studies, the same in every process
and on every machine:

1. Recover the trials of dead workers (`storage.recover_stale_trials`).
2. Search: pick the candidate with the fewest trials of its budget so far
   (ties in the order given), run one trial, repeat until every
   candidate's budget is spent. The first trial of a candidate runs its
   learning-rate range test (kept in the study, so every worker reuses
   it) and enqueues the range test's suggestion and the optimizer's
   default rate.
3. Confirm: once every search trial has finished, enqueue each
   candidate's best configuration once per confirmation seed (in a study
   of its own, `<study>.<optimizer>.confirm`) and run those trials, with
   no pruning.

The budget is per candidate and counts trials across all workers: a trial
whose rank among the study's live trials (running, waiting or finished,
not failed) is beyond the budget is failed as surplus before it trains.
A trial whose loss becomes NaN or infinite is recorded as diverged
(pruned, with the `diverged` user attribute), not as a crash.
"""

import dataclasses
import hashlib
import json
import math
import socket
import time

import optuna
from optuna.trial import TrialState

from keras_optim_zoo.tune import pruning
from keras_optim_zoo.tune import space as spaces
from keras_optim_zoo.tune import storage as storages

LIVE = (
    TrialState.RUNNING,
    TrialState.WAITING,
    TrialState.COMPLETE,
    TrialState.PRUNED,
)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclasses.dataclass
class Plan:
    """Everything a worker needs, the same for every worker (JSON-able).

    Attributes:
        optimizers: Candidate zoo names.
        trials: Search trials per candidate.
        epochs: Epochs per trial (the pruner's maximum resource).
        min_epochs: The pruner's grace period (its first rung), or `None`
            for `pruning.default_min_epochs(epochs)`.
        seeds: Confirmation seeds.
        search_seed: The seed of every search trial's initial weights and
            data order (the same for all, so trials compare fairly).
        batch_sizes: Batch sizes searched; the first is the reference.
        schedules: Schedules searched; the first is the default.
        weight_decay: Whether weight decay is searched.
        objective: The validation metric optimised (`val_accuracy`, ...).
        direction: `"maximize"` or `"minimize"`.
        study_name: Prefix of the studies' names.
        storage: Database URL, or `None` for the run directory's journal.
        out: The run directory.
        sampler_seed: Seeds the sampler (with the worker's index and the
            number of finished trials, so a restarted worker repeats the
            same suggestions and different workers make different ones).
        range_test_steps: Steps of each candidate's range test.
        model, data: How the worker processes find the model and data
            (`module:function`, file paths, built-in or TFDS names), with
            `data_dir`, `train_examples`, `keep_weights`, `loss` and
            `metrics` as `compare` takes them. `None` when the run is
            in-process with Python objects.
    """

    optimizers: list
    trials: int
    epochs: int
    seeds: list
    search_seed: int = 0
    batch_sizes: list = (100,)
    schedules: list = ("constant",)
    weight_decay: bool = True
    objective: str = "val_accuracy"
    direction: str = "maximize"
    study_name: str = "tune"
    storage: str | None = None
    out: str = "runs/tune"
    sampler_seed: int = 0
    range_test_steps: int = 100
    min_epochs: int | None = None
    heartbeat_interval: int = storages.HEARTBEAT_INTERVAL
    grace_period: int = storages.GRACE_PERIOD
    model: str | None = None
    data: str | None = None
    data_dir: str | None = None
    train_examples: int | None = None
    keep_weights: bool = False
    loss: str | None = None
    metrics: list | None = None

    @property
    def first_rung(self):
        """The epoch of the pruner's first rung (its grace period)."""
        if self.min_epochs is None:
            return pruning.default_min_epochs(self.epochs)
        return self.min_epochs

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))

    def study(self, optimizer, stage="search"):
        return f"{self.study_name}.{optimizer}.{stage}"


class SurplusTrial(Exception):
    """This trial is beyond its candidate's budget (another worker's race)."""


class Pruned(Exception):
    """Raised from the epoch callback to stop a trial the pruner prunes."""


def _seed(*parts):
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


class Worker:
    """Runs trials of a plan until none is left.

    Args:
        plan: The `Plan`.
        model_source, data: The resolved model and `(train, val)` data
            (`keras_optim_zoo.compare.sources`).
        index: This worker's index among the workers started together
            (part of the sampler's seed).
        log: Called with a line of text per finished trial.
    """

    def __init__(self, plan, model_source, data, *, index=0, log=print):
        from keras_optim_zoo.tune import training

        self.plan = plan
        self.model_source = model_source
        self.data = data
        self.index = index
        self.log = log
        self.runner = training
        self.storage = storages.open_storage(
            plan.storage,
            plan.out,
            heartbeat_interval=plan.heartbeat_interval,
            grace_period=plan.grace_period,
        )
        self.direction = plan.direction
        self.studies = {}

    # -- studies ---------------------------------------------------------

    def _study(self, optimizer, stage):
        key = (optimizer, stage)
        if key not in self.studies:
            pruner = (
                pruning.EpochHalving(
                    self.plan.epochs,
                    min_epochs=self.plan.first_rung,
                )
                if stage == "search"
                else optuna.pruners.NopPruner()
            )
            self.studies[key] = optuna.create_study(
                storage=self.storage,
                study_name=self.plan.study(optimizer, stage),
                direction=self.direction,
                pruner=pruner,
                load_if_exists=True,
            )
        return self.studies[key]

    def _sampler(self, study, optimizer):
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        return optuna.samplers.TPESampler(
            seed=_seed(
                self.plan.sampler_seed,
                socket.gethostname(),
                self.index,
                optimizer,
                finished,
            ),
            n_startup_trials=max(2, self.plan.trials // 3),
            multivariate=True,
        )

    def _space(self, optimizer, study):
        cls = spaces.optimizer_class(optimizer)
        attrs = study.user_attrs
        if "lr_range" not in attrs:
            suggested = self._range_test(optimizer)
            low, high = spaces.range_from_suggestion(
                suggested, cls.default_learning_rate
            )
            study.set_user_attr("lr_suggested", suggested)
            study.set_user_attr("lr_range", [low, high])
            attrs = study.user_attrs
        space = spaces.Space(
            optimizer=optimizer,
            lr_range=tuple(attrs["lr_range"]),
            betas=spaces.key_betas(cls),
            weight_decay=self.plan.weight_decay,
            schedules=tuple(self.plan.schedules),
            batch_sizes=tuple(self.plan.batch_sizes),
        )
        if "enqueued" not in attrs:
            rates = (attrs.get("lr_suggested"), cls.default_learning_rate)
            rates = [r for r in rates if r and math.isfinite(r)]
            for lr in rates[: self.plan.trials]:
                study.enqueue_trial(space.defaults(lr), skip_if_exists=True)
            study.set_user_attr("enqueued", True)
        return space

    def _range_test(self, optimizer):
        """The range test's suggested rate at the reference batch size."""
        result = self.runner.range_test(
            optimizer,
            self.data,
            self.model_source,
            seed=self.plan.search_seed,
            batch_size=self.plan.batch_sizes[0],
            steps=self.plan.range_test_steps,
        )
        suggested = result.suggested_lr
        self.log(
            f"{optimizer}: range test suggests learning rate {suggested:.3g}"
            if suggested
            else f"{optimizer}: range test gave no suggestion"
        )
        return float(suggested) if suggested else None

    def _steps_per_epoch(self, batch):
        return self.runner.steps_per_epoch(self.data, batch)

    # -- scheduling ------------------------------------------------------

    def _live(self, study):
        return study.get_trials(deepcopy=False, states=LIVE)

    def next_task(self):
        """`("search" | "confirm", optimizer)`, `("wait", None)` or None."""
        waiting_on_others = False
        counts = []
        for position, optimizer in enumerate(self.plan.optimizers):
            study = self._study(optimizer, "search")
            storages.recover_stale_trials(study, self.storage)
            live = self._live(study)
            pending = [t for t in live if t.state == TrialState.WAITING]
            if len(live) < self.plan.trials or pending:
                counts.append((len(live) - len(pending), position, optimizer))
            elif any(t.state == TrialState.RUNNING for t in live):
                waiting_on_others = True
        if counts:
            return "search", min(counts)[2]
        if waiting_on_others:
            return "wait", None
        for optimizer in self.plan.optimizers:
            study = self._study(optimizer, "confirm")
            storages.recover_stale_trials(study, self.storage)
            self._enqueue_confirmation(optimizer, study)
            states = [t.state for t in self._live(study)]
            if TrialState.WAITING in states:
                return "confirm", optimizer
            if TrialState.RUNNING in states:
                waiting_on_others = True
        return ("wait", None) if waiting_on_others else None

    def _enqueue_confirmation(self, optimizer, study):
        """Enqueues the best configuration for each seed not yet queued."""
        best = best_trial(self._study(optimizer, "search"))
        if best is None:
            return
        queued = {fixed(t).get("seed") for t in self._live(study)}
        for seed in self.plan.seeds:
            if seed not in queued:
                study.enqueue_trial(
                    {"seed": seed},
                    user_attrs={
                        "params": best.params,
                        "search_trial": best.number,
                    },
                    skip_if_exists=True,
                )

    def run(self):
        """Works until every study is done; returns the trials it ran."""
        ran = 0
        while True:
            task, optimizer = self.next_task() or (None, None)
            if task is None:
                return ran
            if task == "wait":
                time.sleep(1.0)
                continue
            if task == "search":
                self._search_one(optimizer)
            else:
                self._confirm_one(optimizer)
            ran += 1

    # -- trials ----------------------------------------------------------

    def _start(self, trial, study):
        """Claims the trial; raises `SurplusTrial` if another has its place:
        a search trial ranked beyond the budget among the live ones, or a
        confirmation run of a seed that an earlier trial already has."""
        trial.set_user_attr("worker", storages.worker_identity())
        live = sorted(self._live(study), key=lambda t: t.number)
        earlier = [t for t in live if t.number < trial.number]
        if study.study_name.endswith(".search"):
            if len(earlier) >= self.plan.trials:
                raise SurplusTrial(trial.number)
        else:
            seed = fixed(study.trials[trial.number]).get("seed")
            if seed in {fixed(t).get("seed") for t in earlier}:
                raise SurplusTrial(trial.number)

    def _search_one(self, optimizer):
        study = self._study(optimizer, "search")
        space = self._space(optimizer, study)
        study.sampler = self._sampler(study, optimizer)

        ran = []

        def objective(trial):
            ran.append(trial.number)
            self._start(trial, study)
            params = space.suggest(trial)
            return self._train(
                optimizer, space, params, self.plan.search_seed, trial
            )

        study.optimize(
            objective, n_trials=1, catch=(SurplusTrial,), gc_after_trial=True
        )
        self._report(optimizer, study, ran[0])

    def _confirm_one(self, optimizer):
        study = self._study(optimizer, "confirm")
        search = self._study(optimizer, "search")
        space = self._space(optimizer, search)

        def objective(trial):
            self._start(trial, study)
            seed = trial.suggest_categorical("seed", list(self.plan.seeds))
            params = trial.user_attrs["params"]
            return self._train(optimizer, space, params, seed, trial)

        study.sampler = optuna.samplers.RandomSampler(seed=0)
        study.optimize(objective, n_trials=1, catch=(SurplusTrial,))
        done = study.get_trials(deepcopy=False, states=FINISHED)
        seeds = sorted(t.params["seed"] for t in done)
        self.log(
            f"[{optimizer} confirm] seeds done: {seeds} of {self.plan.seeds}"
        )

    def _train(self, optimizer, space, params, seed, trial):
        """Trains one configuration; reports each epoch to the pruner."""
        overrides, batch = space.configuration(
            params, self._steps_per_epoch, self.plan.epochs
        )
        objective = self.plan.objective
        prune = trial.study.study_name.endswith(".search")
        seen = {"history": {}}

        def on_epoch_end(epoch, history):
            seen["history"] = {k: list(v) for k, v in history.items()}
            value = history[objective][-1]
            if not math.isfinite(value):
                return  # the runner stops and reports it diverged
            trial.report(value, epoch + 1)
            if prune and trial.should_prune():
                raise Pruned(epoch + 1)

        record = {
            "batch_size": batch,
            "overrides": overrides,
            "seed": seed,
            "diverged": False,
            "pruned_at": None,
        }
        start = time.perf_counter()
        try:
            run = self.runner.train_run(
                optimizer,
                overrides,
                self.data,
                self.model_source,
                seed,
                self.plan.epochs,
                batch,
                on_epoch_end=on_epoch_end,
            )
        except Pruned as stop:
            record["pruned_at"] = stop.args[0]
            record["history"] = seen["history"]
            record["wall_s"] = time.perf_counter() - start
            trial.set_user_attr("run", record)
            message = f"pruned at epoch {stop.args[0]}"
            raise optuna.TrialPruned(message) from None
        record["history"] = run["history"]
        record["wall_s"] = run["wall_s"]
        record["diverged"] = bool(run.get("diverged"))
        if not prune:
            record["steps"] = run["steps"]
        trial.set_user_attr("run", record)
        if record["diverged"]:
            trial.set_user_attr("diverged", True)
            raise optuna.TrialPruned("diverged")
        return float(run["history"][objective][-1])

    def _report(self, optimizer, study, number):
        trial = study.trials[number]
        done = len(study.get_trials(deepcopy=False, states=FINISHED))
        best = best_trial(study)
        run = trial.user_attrs.get("run") or {}
        if trial.state == TrialState.COMPLETE:
            outcome = f"{self.plan.objective} {trial.value:.4f}"
        elif trial.user_attrs.get("diverged"):
            outcome = "diverged"
        elif trial.state == TrialState.PRUNED:
            outcome = f"pruned at epoch {run.get('pruned_at')}"
        else:
            outcome = trial.state.name.lower()
        lr = trial.params.get("learning_rate")
        self.log(
            f"[{optimizer} {done}/{self.plan.trials}] trial {number}: "
            f"{outcome}"
            + (f" (lr {lr:.3g})" if lr else "")
            + (f"; best {best.value:.4f}" if best is not None else "")
        )


def fixed(trial):
    """A trial's parameters, or its enqueued ones while it waits."""
    return trial.params or trial.system_attrs.get("fixed_params", {})


def best_trial(study):
    """The best complete trial, or None."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
    return max(complete, key=lambda t: (sign * t.value, -t.number))
