"""Where a tuning run's studies live, and how interrupted trials come back.

- Embedded (the default): Optuna's journal file storage in the run
  directory (`<out>/study.journal`), no server. Worker processes on one
  machine share it through the file's lock.
- A database: `postgresql://...` or `mysql+pymysql://...` (Optuna's
  `RDBStorage`), with the same study name on every machine: Optuna's
  documented way to distribute a study.

A worker killed mid-trial (SIGKILL included) leaves its trial RUNNING.
Such a trial is failed and its configuration re-queued (Optuna's
`RetryHeartbeatStaleTrialCallback`, which keeps the parameters and the
user attributes) by whichever worker looks next:

- on the same machine, as soon as the worker's process is gone (each
  trial records its host and process id);
- on another machine (a database only), once its heartbeat is older than
  the grace period (Optuna's heartbeat, recorded every
  `heartbeat_interval` seconds while the trial runs).
"""

import os
import socket
import warnings

import optuna
from optuna.storages import (
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from keras_optim_zoo.core.hyper import invalid

JOURNAL = "study.journal"
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 60
MAX_RETRY = 3
_SCHEMES = ("postgresql", "mysql", "sqlite")


class StorageUnavailableError(RuntimeError):
    """The storage URL names a database that cannot be reached."""


def _retry():
    # Optuna (5.0) still marks the callback and `fail_stale_trials`
    # experimental; they are its documented way to re-queue stale trials.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)


def describe(url):
    """The URL without its password, for messages."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def open_storage(
    storage=None,
    out=".",
    *,
    heartbeat_interval=HEARTBEAT_INTERVAL,
    grace_period=GRACE_PERIOD,
):
    """The Optuna storage of `storage` (a URL, or `None` for the journal).

    Raises:
        ValueError: For a URL of another kind.
        StorageUnavailableError: When the database cannot be reached (the
            message names the URL, without its password, and the cause).
    """
    if storage is None:
        os.makedirs(out, exist_ok=True)
        return JournalStorage(JournalFileBackend(os.path.join(out, JOURNAL)))
    if not isinstance(storage, str):
        raise invalid("storage", storage, "a database URL or None")
    scheme = storage.split("://", 1)[0].split("+", 1)[0]
    if "://" not in storage or scheme not in _SCHEMES:
        raise invalid(
            "storage",
            storage,
            "None (a journal file in the run directory) or a database URL "
            "such as postgresql://user@host/db or mysql+pymysql://user@host/db",
        )
    try:
        with warnings.catch_warnings():  # the heartbeat is "experimental"
            warnings.simplefilter(
                "ignore", optuna.exceptions.ExperimentalWarning
            )
            return RDBStorage(
                storage,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=_retry(),
                engine_kwargs={"pool_pre_ping": True},
            )
    except Exception as error:  # the drivers' errors differ by database
        raise StorageUnavailableError(
            f"Cannot open the study storage {describe(storage)}: "
            f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
        ) from None


def worker_identity():
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is gone too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def recover_stale_trials(study, storage):
    """Fails and re-queues the trials of dead workers; returns how many.

    Trials of this host whose process is gone are failed at once; with a
    database, Optuna's heartbeat check also fails those of other hosts.
    `storage` is the study's storage (as `open_storage` returned it).
    """
    recovered = 0
    host = socket.gethostname()
    retry = _retry()
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker") or {}
        if worker.get("host") != host or _alive(int(worker.get("pid", -1))):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            study_id, trial.number
        )
        try:
            if not storage.set_trial_state_values(
                trial_id, state=TrialState.FAIL
            ):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        retry(study, storage.get_trial(trial_id))
        recovered += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return recovered
