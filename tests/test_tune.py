"""`tune`: the search, its budget, its storage, and crashes.

On `tests.tune_fixtures` (three Gaussian classes, a 16-unit MLP), with
budgets of a few trials of 3 epochs. The PostgreSQL tests use the real
server of the CI machine (`tools/test_database.py` creates the database;
`make test` runs it first).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

import keras_optim_zoo
from keras_optim_zoo import tune
from keras_optim_zoo.tune import pruning, space, storage
from tools.test_database import database_url

MODEL = "tests.tune_fixtures:model"
DATA = "tests.tune_fixtures:data"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(
    trials=4,
    epochs=3,
    seeds=[1, 2],
    range_test_steps=20,
    batch_sizes=[50],
    plots=False,
    progress=lambda line: None,
)

pytestmark = pytest.mark.slow


def _states(url_or_dir, name, optimizer, stage="search"):
    store = storage.open_storage(
        url_or_dir if "://" in url_or_dir else None, url_or_dir
    )
    study = optuna.load_study(
        study_name=f"{name}.{optimizer}.{stage}", storage=store
    )
    return study.get_trials(deepcopy=False)


def _table(summary):
    return [
        (e["optimizer"], e["best"]["params"], e["values"])
        for e in summary["candidates"]
    ]


def test_in_process_run_ranks_and_respects_the_budget(tmp_path):
    out = str(tmp_path / "run")
    summary = tune.tune(
        MODEL, DATA, optimizers=["zoo_adam", "zoo_momentum"], out=out, **SMALL
    )
    for e in summary["candidates"]:
        assert e["cost"]["trials"] == 4  # the same budget for each
        assert len(e["values"]) == 2  # one per confirmation seed
        assert e["mean"] > 0.8 and e["rank"] >= 1
        assert e["lr_range"][0] < e["lr_suggested"] < e["lr_range"][1]
        trials = _states(out, "tune", e["optimizer"])
        assert len([t for t in trials if t.state != TrialState.FAIL]) == 4
        # The range test's suggestion and the default rate come first.
        cls = space.optimizer_class(e["optimizer"])
        first = [t.params["learning_rate"] for t in trials[:2]]
        assert first == pytest.approx(
            [e["lr_suggested"], cls.default_learning_rate]
        )
    with open(os.path.join(out, "results.json")) as f:
        assert json.load(f)["candidates"][0]["optimizer"]
    md = open(os.path.join(out, "results.md")).read()
    assert "zoo_adam" in md and "python -m keras_optim_zoo compare" in md
    [command] = summary["compare_commands"]
    assert "--model tests.tune_fixtures:model" in command
    # Running again finds the studies done: nothing more is trained.
    again = tune.tune(
        MODEL, DATA, optimizers=["zoo_adam", "zoo_momentum"], out=out, **SMALL
    )
    assert _table(again) == _table(summary)


def test_a_diverging_trial_is_recorded_not_a_crash(tmp_path):
    # SGD at a rate of 1e4 diverges at once.
    out = str(tmp_path / "run")
    w = tune.worker
    plan = w.Plan(
        optimizers=["zoo_sgd"],
        trials=1,
        epochs=2,
        seeds=[1],
        batch_sizes=[50],
        schedules=["cosine"],  # a schedule's config as the learning rate
        out=out,
        range_test_steps=20,
    )
    from keras_optim_zoo.compare import sources

    worker = w.Worker(
        plan,
        sources.resolve_model(MODEL),
        sources.resolve_data(DATA),
        log=lambda line: None,
    )
    study = worker._study("zoo_sgd", "search")
    study.set_user_attr("lr_suggested", 1e4)
    study.set_user_attr("lr_range", [1e3, 1e5])
    worker.run()
    [trial] = _states(out, "tune", "zoo_sgd")
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["diverged"] is True


def test_journal_two_worker_processes_share_the_budget(tmp_path):
    out = str(tmp_path / "run")
    summary = tune.tune(
        MODEL,
        DATA,
        optimizers=["zoo_adam", "zoo_rmsprop"],
        out=out,
        workers=2,
        **SMALL,
    )
    for e in summary["candidates"]:
        trials = _states(out, "tune", e["optimizer"])
        live = [t for t in trials if t.state != TrialState.FAIL]
        assert len(live) == 4
        assert all(
            t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in live
        )
        hosts = {t.user_attrs["worker"]["pid"] for t in live}
        assert len(e["values"]) == 2
    assert hosts  # trials record their worker


def _cli(out, *extra, storage_url=None):
    command = [
        sys.executable,
        "-m",
        "keras_optim_zoo",
        "tune",
        "--model",
        MODEL,
        "--data",
        DATA,
        "--optimizers",
        "zoo_adam",
        "--trials",
        "4",
        "--epochs",
        "3",
        "--seeds",
        "1",
        "2",
        "--batch-sizes",
        "50",
        "--range-test-steps",
        "20",
        "--out",
        out,
        *extra,
    ]
    if storage_url:
        command += ["--storage", storage_url]
    return command


def _wait_for_running(out, name, optimizer, min_number, url=None, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            trials = _states(url or out, name, optimizer)
        except KeyError:
            trials = []
        running = [
            t
            for t in trials
            if t.state == TrialState.RUNNING
            and t.number >= min_number
            and t.intermediate_values  # mid-trial: an epoch reported
        ]
        if running:
            return running[0]
        time.sleep(0.2)
    raise AssertionError("no trial started")


def test_sigkill_mid_trial_then_restart_gives_the_same_table(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT}
    clean = str(tmp_path / "clean")
    subprocess.run(
        _cli(clean), check=True, env=env, cwd=ROOT, capture_output=True
    )
    crashed = str(tmp_path / "crashed")
    proc = subprocess.Popen(
        _cli(crashed),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    victim = _wait_for_running(crashed, "tune", "zoo_adam", min_number=2)
    assert victim.user_attrs["worker"]["pid"] == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run(
        _cli(crashed), check=True, env=env, cwd=ROOT, capture_output=True
    )
    trials = _states(crashed, "tune", "zoo_adam")
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [victim.number]
    retry = [
        t for t in trials if t.system_attrs.get("failed_trial") == victim.number
    ]
    assert len(retry) == 1 and retry[0].params == victim.params
    assert retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    with open(os.path.join(clean, "results.json")) as f:
        a = json.load(f)
    with open(os.path.join(crashed, "results.json")) as f:
        b = json.load(f)
    assert _table(a) == _table(b)


@pytest.fixture
def postgres():
    url = database_url()
    try:
        storage.open_storage(url)
    except storage.StorageUnavailableError as error:
        pytest.fail(f"{error} (run `python -m tools.test_database` first)")
    return url


def test_postgres_workers_one_killed_mid_trial(tmp_path, postgres):
    name = f"test-{uuid.uuid4().hex[:8]}"
    out = str(tmp_path / "run")
    env = {**os.environ, "PYTHONPATH": ROOT}
    command = _cli(
        out, "--workers", "3", "--study-name", name, storage_url=postgres
    )
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    victim = _wait_for_running(out, name, "zoo_adam", 0, url=postgres)
    assert victim.user_attrs["worker"]["pid"] != proc.pid  # a worker process
    os.kill(victim.user_attrs["worker"]["pid"], signal.SIGKILL)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    assert "restarting it" in output
    trials = _states(postgres, name, "zoo_adam")
    live = [t for t in trials if t.state != TrialState.FAIL]
    assert len(live) == 4  # the budget across workers, not multiplied
    assert all(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in live
    )
    retried = [
        t for t in trials if t.system_attrs.get("failed_trial") == victim.number
    ]
    assert len(retried) == 1 and retried[0].params == victim.params
    confirm = _states(postgres, name, "zoo_adam", "confirm")
    done = sorted(
        t.params["seed"] for t in confirm if t.state == TrialState.COMPLETE
    )
    assert done == [1, 2]
    # The tables and plots come from the storage alone.
    with open(os.path.join(out, "results.json")) as f:
        assert json.load(f)["candidates"][0]["runs"][0]["steps"]["loss"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizers": ["zoo_nope"]}, "Unknown optimizer 'zoo_nope'"),
        ({"model": "tests.tune_fixtures:not_a_model"}, "not a keras.Model"),
        ({"data": "tests.tune_fixtures:unlabelled"}, "label"),
        ({"trials": 0}, "trials"),
        ({"schedules": ["linear"]}, "schedules"),
        ({"min_epochs": 4}, "`min_epochs`.*at most epochs"),
        ({"min_epochs": 0}, "`min_epochs`"),
        ({"workers": 2, "data": None}, "workers"),
    ],
)
def test_bad_input_fails_before_training(tmp_path, kwargs, match):
    kwargs = {"model": MODEL, "data": DATA, **kwargs}
    if kwargs["data"] is None:
        from tests import tune_fixtures

        kwargs["data"] = tune_fixtures.data()
    model, data = kwargs.pop("model"), kwargs.pop("data")
    start = time.time()
    with pytest.raises(ValueError, match=match):
        tune.tune(model, data, out=str(tmp_path), **{**SMALL, **kwargs})
    assert time.time() - start < 30
    assert not os.path.exists(tmp_path / "results.json")


def test_an_unreachable_storage_fails_before_training(tmp_path):
    url = "postgresql://nobody@127.0.0.1:1/none"
    with pytest.raises(storage.StorageUnavailableError, match="127.0.0.1:1"):
        tune.tune(MODEL, DATA, storage_url=url, out=str(tmp_path), **SMALL)
    assert "***" in storage.describe("postgresql://u:secret@h/db")


def test_pruner_ignores_failed_trials_and_needs_competitors():
    study = optuna.create_study(direction="maximize")
    pruner = pruning.EpochHalving(max_epochs=9)
    assert pruner.rungs() == [1, 3]
    # The grace period: the first rung, and the default rule.
    assert pruning.EpochHalving(100, min_epochs=10).rungs() == [10, 30, 90]
    assert [pruning.default_min_epochs(e) for e in (9, 20, 100)] == [1, 2, 10]

    def trial(value, state=TrialState.COMPLETE):
        study.add_trial(
            optuna.create_trial(
                state=state,
                value=value if state == TrialState.COMPLETE else None,
                intermediate_values={1: value},
            )
        )

    trial(0.9, TrialState.FAIL)
    trial(0.5)
    current = optuna.create_trial(
        state=TrialState.COMPLETE, value=0.1, intermediate_values={1: 0.1}
    )
    assert not pruner.prune(study, current)  # 2 live values < eta
    trial(0.6)
    assert pruner.prune(study, current)  # 3 values, keeps the best 1
    best = optuna.create_trial(
        state=TrialState.COMPLETE, value=0.7, intermediate_values={1: 0.7}
    )
    assert not pruner.prune(study, best)  # the failed 0.9 does not count


def test_batch_size_scaling_follows_the_declaration():
    sgd = space.Space(
        "zoo_momentum",
        (1e-3, 1),
        ["momentum"],
        False,
        ("constant",),
        (100, 400),
    )
    adam = space.Space(
        "zoo_adam", (1e-4, 1e-1), ["beta_1"], False, ("constant",), (100, 400)
    )
    params = {
        "learning_rate": 0.01,
        "one_minus_momentum": 0.1,
        "one_minus_beta_1": 0.1,
        "batch_size": 400,
    }
    overrides, batch = sgd.configuration(params, lambda b: 10, 2)
    assert batch == 400 and overrides["learning_rate"] == pytest.approx(0.04)
    assert overrides["momentum"] == pytest.approx(0.9)
    overrides, _ = adam.configuration(params, lambda b: 10, 2)
    assert overrides["learning_rate"] == pytest.approx(0.02)
    cosine, _ = adam.configuration(
        {**params, "schedule": "cosine"}, lambda b: 10, 3
    )
    assert cosine["learning_rate"]["config"]["decay_steps"] == 30
    # The overrides build the optimizer (the schedule's config included).
    built = keras_optim_zoo.get("zoo_adam", **cosine)
    schedule = keras_optim_zoo.core.base.learning_rate_object(built)
    assert type(schedule).__name__ == "Cosine"


def test_mysql_storage_holds_a_study():
    # CI's MariaDB (root, no password, database `test`), through pymysql.
    url = os.environ.get(
        "KERAS_OPTIM_ZOO_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1/test"
    )
    store = storage.open_storage(url)
    name = f"test-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(storage=store, study_name=name)
    study.enqueue_trial({"x": 1.0})
    study.optimize(lambda t: t.suggest_float("x", 0, 2) ** 2, n_trials=1)
    again = optuna.load_study(study_name=name, storage=store)
    assert again.best_value == 1.0
    optuna.delete_study(study_name=name, storage=store)
