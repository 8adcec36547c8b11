"""Optuna studies on Postgres: the search space, the objective, the pruner, and the runner that
lets K workers (threads, processes or machines) add trials to one study."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import sqlalchemy

from bullpen.db import urls
from bullpen.models.train import DEFAULT_PARAMS, ModelSpec, labelled
from bullpen.models.tuning.cv import (
    PRUNE_WARMUP_ROUNDS,
    DatasetCache,
    Fold,
    cross_validate,
    prepare_folds,
    season_folds,
)

# Bump when the search space or the objective changes: such trials must not share a study.
# 2: EarlyStopping fixed a fold's round count that version 1 could move past its patience.
STUDY_VERSION = 2
# Optuna's tables live in this schema of the bullpen database (created by migration 0003).
OPTUNA_SCHEMA = "optuna"
# Complete trials before the median rule applies. Optuna's default is 5; in the replay that set
# cv.PRUNE_WARMUP_ROUNDS (bench/pruning_replay.py) 3 lost nothing and, in a study of 20-40
# trials, two fewer forced complete trials are ~10% of its time.
PRUNE_STARTUP_TRIALS = 3
# The keys the search chooses; everything else comes from DEFAULT_PARAMS.
TUNED_KEYS = (
    "learning_rate",
    "num_leaves",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "lambda_l1",
    "lambda_l2",
    "max_bin",
    "extra_trees",
)
_L1_FLOOR = 1e-3  # log-scale floor standing in for "no L1" (the defaults use none)


@dataclass(frozen=True)
class StudyRef:
    """Enough to find a study again from any machine that can reach the database."""

    storage_url: str
    name: str
    model: str
    eval_season: int
    folds: tuple[Fold, ...]


@dataclass(frozen=True)
class WorkerSummary:
    worker: int
    trials: tuple[int, ...]  # trial numbers this worker ran
    seconds: float
    host: str = ""


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """Sample one configuration: ranges for ~25k rows of noisy outcomes.

    Monotone constraints are not searched: they come from the ModelSpec, where a feature's
    direction is known (e.g. the market's implied probability).
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 50, 2000, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", _L1_FLOOR, 100.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 100.0, log=True),
        "max_bin": trial.suggest_categorical("max_bin", [15, 31, 63, 127, 255]),
        "extra_trees": trial.suggest_categorical("extra_trees", [False, True]),
    }


def default_trial_params() -> dict[str, Any]:
    """DEFAULT_PARAMS as a point of the search space (enqueued as a study's first trial)."""
    defaults = {key: DEFAULT_PARAMS.get(key) for key in TUNED_KEYS}
    defaults["lambda_l1"] = max(float(defaults["lambda_l1"] or 0.0), _L1_FLOOR)
    defaults["extra_trees"] = bool(defaults["extra_trees"])
    return defaults


def spec_signature(spec: ModelSpec) -> str:
    """Hash of what a model sees (features, constraints, base margin) and of STUDY_VERSION."""
    payload = {
        "features": spec.features,
        "monotone": sorted(spec.monotone.items()),
        "base_margin": spec.base_margin,
        "target": spec.target,
        "study_version": STUDY_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]


def study_name(spec: ModelSpec, folds: Sequence[Fold]) -> str:
    """E.g. `moneyline-cv2016-2018-1a2b3c4d`: new folds or a new feature set start a new study."""
    seasons = [f.valid_season for f in folds]
    return f"{spec.name}-cv{seasons[0]}-{seasons[-1]}-{spec_signature(spec)}"


def split_trials(n_trials: int, workers: int) -> list[int]:
    """Trials per worker, as even as possible; workers that would get none are dropped."""
    if n_trials < 0 or workers < 1:
        raise ValueError(f"need n_trials >= 0 and workers >= 1, got {n_trials}, {workers}")
    shares = [n_trials // workers + (1 if i < n_trials % workers else 0) for i in range(workers)]
    return [share for share in shares if share > 0]


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """LightGBM threads for each of `workers` concurrent trials: share the cores this process may
    run on (its CPU affinity, e.g. a pinned or CPU-limited worker), at least one."""
    return max(1, (cpus or usable_cpus()) // max(1, workers))


def usable_cpus() -> int:
    """Cores this process may use: os.cpu_count() counts the machine's, and OpenMP threads beyond
    the allowed cores spin against each other."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no sched_getaffinity on this platform
        return os.cpu_count() or 1


def make_objective(
    frame: pd.DataFrame,
    spec: ModelSpec,
    folds: Sequence[Fold],
    *,
    num_threads: int = 1,
    seed: int = 7,
    report_from: int = PRUNE_WARMUP_ROUNDS,
) -> Callable[[optuna.Trial], float]:
    """Objective: mean out-of-sample log loss over the walk-forward folds (lower is better).
    Intermediate values are reported from round `report_from` (the pruner's warm-up) on."""
    prepared = prepare_folds(frame, spec, folds)
    cache: DatasetCache = {}

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial)
        result = cross_validate(
            prepared,
            spec,
            params,
            trial=trial,
            num_threads=num_threads,
            seed=seed,
            report_from=report_from,
            cache=cache,
        )
        trial.set_user_attr("fold_log_loss", list(result.fold_log_loss))
        trial.set_user_attr("fold_rounds", list(result.fold_rounds))
        trial.set_user_attr("fold_best_log_loss", list(result.fold_best_log_loss))
        return result.mean_log_loss

    return objective


class SnapshotMedianPruner(optuna.pruners.BasePruner):
    """Optuna's `MedianPruner` rule, reading the study's completed trials once per trial.

    `MedianPruner` asks the study for its completed trials at every check, and on Postgres that
    re-reads every running trial with all its rows: ~30 ms, more than the ten boosting rounds
    between two checks cost. Completed trials never change, so one read per trial gives the same
    decisions; a trial that completes while this one runs counts from the next trial on.

    The rule, as `MedianPruner(n_startup_trials, n_warmup_steps)`: from step `n_warmup_steps` on
    and once `n_startup_trials` trials are complete, prune when the trial's best value so far is
    worse than the median of the completed trials' values at the same step.
    """

    def __init__(
        self, n_startup_trials: int = PRUNE_STARTUP_TRIALS, n_warmup_steps: int = 0
    ) -> None:
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self._snapshot: tuple[int | None, list[optuna.trial.FrozenTrial]] = (None, [])

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        number, completed = self._snapshot
        if number != trial.number:
            completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            self._snapshot = (trial.number, completed)
        if not completed or len(completed) < self.n_startup_trials:
            return False
        at_step = [t.intermediate_values[step] for t in completed if step in t.intermediate_values]
        best = np.array(list(trial.intermediate_values.values()), dtype=float)
        if np.isnan(best).all():
            return True
        if not at_step or np.isnan(at_step).all():
            return False
        median = float(np.nanmedian(at_step))
        if study.direction == optuna.study.StudyDirection.MAXIMIZE:
            return float(np.nanmax(best)) < median
        return float(np.nanmin(best)) > median


# -- studies on Postgres ----------------------------------------------------------------------


def optuna_storage_url(database_url: str) -> str:
    """SQLAlchemy URL of the bullpen database with Optuna's tables in their own schema."""
    parsed = urlparse(urls.sqlalchemy_url(database_url))
    query = dict(parse_qsl(parsed.query))
    search_path = f"-csearch_path={OPTUNA_SCHEMA}"
    query["options"] = f"{query['options']} {search_path}" if "options" in query else search_path
    return parsed._replace(query=urlencode(query)).geturl()


def make_storage(storage_url: str) -> optuna.storages.RDBStorage:
    """RDB storage with heartbeats: a trial whose worker died is marked FAIL when the study is
    next optimised, instead of staying RUNNING for ever."""
    return optuna.storages.RDBStorage(
        storage_url,
        engine_kwargs={"pool_pre_ping": True, "pool_size": 2},
        heartbeat_interval=60,
        grace_period=300,
    )


def make_study(
    storage_url: str | optuna.storages.RDBStorage,
    name: str,
    *,
    seed: int | None = None,
    pruning: bool = True,
    n_startup_trials: int = PRUNE_STARTUP_TRIALS,
    n_warmup_steps: int = PRUNE_WARMUP_ROUNDS,
) -> optuna.Study:
    """Create or load (resume) study `name`.

    Sampler and pruner live in this process, not in the database: every worker builds its own,
    and gives TPE a different seed (see `run_trials`) so two workers do not propose the same
    configuration. `constant_liar` keeps running trials from attracting duplicates.
    """
    storage = make_storage(storage_url) if isinstance(storage_url, str) else storage_url
    pruner: optuna.pruners.BasePruner = (
        SnapshotMedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)
        if pruning
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        storage=storage,
        study_name=name,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True),
        pruner=pruner,
        load_if_exists=True,
    )


def prepare_study(
    storage_url: str,
    frame: pd.DataFrame,
    spec: ModelSpec,
    eval_season: int,
    n_folds: int = 3,
    *,
    name: str | None = None,
    num_threads: int = 1,
) -> StudyRef:
    """Create (or find) the study for `spec`, score the defaults once and enqueue them as a trial.

    Only seasons before `eval_season` are looked at. Idempotent: a rerun resumes the study.
    """
    frame = frame[frame["season"] < eval_season]
    folds = season_folds(labelled(frame, spec)["season"].unique(), eval_season, n_folds)
    name = name or study_name(spec, folds)
    storage = make_storage(storage_url)
    # Runs on several machines may prepare one new study at once: one scores the defaults, the
    # others wait for it and find them (a session lock, released with the connection).
    lock_key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    try:
        with storage.engine.connect() as locked:
            locked.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": lock_key})
            _prepare_locked(storage, name, frame, spec, eval_season, folds, num_threads)
    finally:
        storage.engine.dispose()
    return StudyRef(storage_url, name, spec.name, eval_season, tuple(folds))


def _prepare_locked(
    storage: optuna.storages.RDBStorage,
    name: str,
    frame: pd.DataFrame,
    spec: ModelSpec,
    eval_season: int,
    folds: Sequence[Fold],
    num_threads: int,
) -> None:
    study = make_study(storage, name)
    if "default_cv_log_loss" not in study.user_attrs:
        defaults = cross_validate(
            prepare_folds(frame, spec, folds), spec, {}, num_threads=num_threads
        )
        attrs = {
            "model": spec.name,
            "spec_signature": spec_signature(spec),
            "eval_season": eval_season,
            "valid_seasons": [f.valid_season for f in folds],
            "default_cv_log_loss": defaults.mean_log_loss,
            "default_fold_log_loss": list(defaults.fold_log_loss),
            "default_fold_rounds": list(defaults.fold_rounds),
            "default_fold_best_log_loss": list(defaults.fold_best_log_loss),
        }
        for key, value in attrs.items():
            study.set_user_attr(key, value)
    if not study.trials:
        # TPE starts from the hand-picked defaults instead of only random points.
        study.enqueue_trial(default_trial_params(), skip_if_exists=True)


def run_trials(
    ref: StudyRef,
    frame: pd.DataFrame,
    spec: ModelSpec,
    n_trials: int,
    *,
    worker: int = 0,
    run: str = "",
    seed: int | None = None,
    num_threads: int = 1,
    pruning: bool = True,
    n_startup_trials: int = PRUNE_STARTUP_TRIALS,
    n_warmup_steps: int = PRUNE_WARMUP_ROUNDS,
) -> WorkerSummary:
    """Add `n_trials` trials to the study; safe to run in several threads, processes or machines
    at once (each trial's number and state are assigned by the database). Each trial records
    the host, the run (e.g. a flow-run id) and the worker slot that ran it."""
    started = time.perf_counter()
    host = socket.gethostname()
    frame = frame[frame["season"] < ref.eval_season]
    objective = make_objective(
        frame, spec, ref.folds, num_threads=num_threads, report_from=n_warmup_steps
    )
    storage = make_storage(ref.storage_url)
    mine: list[int] = []
    try:
        study = make_study(
            storage,
            ref.name,
            seed=None if seed is None else seed + worker,
            pruning=pruning,
            n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps,
        )

        def tagged(trial: optuna.Trial) -> float:
            # Who ran each trial: shows in trials.csv that workers really ran side by side.
            trial.set_user_attr("worker", worker)
            trial.set_user_attr("thread", threading.current_thread().name)
            trial.set_user_attr("host", host)
            if run:
                trial.set_user_attr("run", run)
            mine.append(trial.number)
            return objective(trial)

        study.optimize(
            tagged,
            n_trials=n_trials,
            catch=(lgb.basic.LightGBMError,),
            gc_after_trial=False,
        )
    finally:
        storage.engine.dispose()
    return WorkerSummary(worker, tuple(mine), time.perf_counter() - started, host)


@contextmanager
def open_study(storage_url: str, name: str) -> Iterator[optuna.Study]:
    """The stored study, for reading (no sampler seed, no pruner); its connections are closed
    on exit."""
    storage = make_storage(storage_url)
    try:
        yield optuna.load_study(study_name=name, storage=storage)
    finally:
        storage.engine.dispose()
