"""Hyper-parameter search for the LightGBM models: walk-forward season folds, Optuna on Postgres."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlparse

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from bullpen.db import engine
from bullpen.models.assess import comparable_games
from bullpen.models.evaluate import log_loss_per_game, score_probabilities
from bullpen.models.train import (
    DEFAULT_PARAMS,
    SPECS,
    ModelSpec,
    _lgb_params,
    base_margin_logit,
    labelled,
    train_model,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

# Bump when the search space or the objective changes: such trials must not share a study.
# 2: EarlyStopping fixed a fold's round count that version 1 could move past its patience.
STUDY_VERSION = 2
# Optuna's tables live in this schema of the bullpen database (created by migration 0003).
OPTUNA_SCHEMA = "optuna"
EXPERIMENT = "bullpen-hyperopt"
# Reporting every round made storage writes dominate (TOOLCHAIN.md); every 10th is cheap.
REPORT_EVERY = 10
# No pruning in the first rounds: a small learning rate has barely moved by round 10 and would
# be cut for being slow rather than bad. Replaying the median rule on the complete CV curves of
# 80 moneyline and 50 totals trials (bench/pruning_replay.py) kept the same best trial with any
# warm-up from 10 to 40 rounds. Nothing is reported before it either: a report is a Postgres
# transaction, and one that no pruning decision reads is pure cost.
PRUNE_WARMUP_ROUNDS = 20
# Complete trials before the median rule applies. Optuna's default is 5; in the same replay 3
# lost nothing and, in a study of 20-40 trials, two fewer forced complete trials are ~10% of
# its time.
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
class Fold:
    """Train on every season in `train_seasons` (all earlier ones), validate on `valid_season`."""

    train_seasons: tuple[int, ...]
    valid_season: int


@dataclass(frozen=True)
class CVResult:
    """Per fold: the log loss `train_model` would get on the validation season, the rounds it
    would train (early stopping on the season before), and the optimistic best round's loss."""

    fold_log_loss: tuple[float, ...]
    fold_rounds: tuple[int, ...]
    fold_best_log_loss: tuple[float, ...]

    @property
    def mean_log_loss(self) -> float:
        return float(np.mean(self.fold_log_loss))


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


@dataclass(frozen=True)
class TunedParams:
    """A study's best trial, as persisted in `tuned_params` and logged to MLflow."""

    study: str
    model: str
    spec_signature: str
    eval_season: int
    valid_seasons: tuple[int, ...]
    best_trial: int
    params: dict[str, Any]
    cv_log_loss: float
    default_cv_log_loss: float
    fold_log_loss: tuple[float, ...]
    default_fold_log_loss: tuple[float, ...]
    n_complete: int
    n_pruned: int
    n_failed: int
    mlflow_run_id: str | None = None
    # Both parameter sets trained as train-models trains and scored on `eval_season`, the
    # season the study held out (None until `confirm_on_held_out_season` ran).
    confirm_log_loss: float | None = None
    default_confirm_log_loss: float | None = None

    @property
    def beats_defaults(self) -> bool:
        return decide_use_tuned(
            self.cv_log_loss,
            self.default_cv_log_loss,
            self.confirm_log_loss,
            self.default_confirm_log_loss,
        )


# -- folds and search space -------------------------------------------------------------------


class TooFewSeasons(ValueError):
    """The database holds too few seasons before the evaluation season for the folds asked."""


def season_folds(
    seasons: Iterable[int], eval_season: int, n_folds: int = 3, min_train_seasons: int = 2
) -> list[Fold]:
    """Walk-forward folds over the last `n_folds` seasons before `eval_season`.

    Each fold trains on all seasons before its validation season and never on a later one; the
    evaluation season and anything after it are in no fold at all. Its last training season is
    where `train_model` would pick the number of rounds, hence two training seasons at least.

    Raises:
        TooFewSeasons: when there are too few seasons before `eval_season` for `n_folds` folds.
    """
    before = sorted({int(s) for s in seasons if int(s) < eval_season})
    candidates = before[min_train_seasons:]
    if n_folds < 1 or len(candidates) < n_folds:
        found = ", ".join(map(str, before)) or "none"
        raise TooFewSeasons(
            f"{n_folds} folds need {n_folds + min_train_seasons} seasons before {eval_season}, "
            f"found {found}"
        )
    return [Fold(tuple(s for s in before if s < v), v) for v in candidates[-n_folds:]]


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
    """LightGBM threads for each of `workers` concurrent trials: share the cores, at least one."""
    return max(1, (cpus or os.cpu_count() or 1) // max(1, workers))


def held_out_season(eval_season: int) -> int:
    """The season a study for `eval_season` holds out to confirm its best trial: the last one
    before `eval_season`. The study's folds all precede it."""
    return eval_season - 1


def decide_use_tuned(
    cv_log_loss: float,
    default_cv_log_loss: float,
    confirm_log_loss: float | None,
    default_confirm_log_loss: float | None,
) -> bool:
    """Tuned parameters replace the defaults only when they are strictly better both in CV and
    on the held-out season the search never scored.

    CV alone always says yes: the best of N trials is scored on the folds that chose it. On
    2018 and 2019, three seeds each, adopting on CV alone cost 0.00011 (moneyline) and 0.00033
    (totals) of log loss on average against the defaults; with the confirmation 0.00003 and
    0.00016 (bench/tuning_rules.py).
    """
    if confirm_log_loss is None or default_confirm_log_loss is None:
        return False
    return (
        math.isfinite(cv_log_loss)
        and cv_log_loss < default_cv_log_loss
        and math.isfinite(confirm_log_loss)
        and confirm_log_loss < default_confirm_log_loss
    )


def confirm_on_held_out_season(
    frame: pd.DataFrame, spec: ModelSpec, tuned: TunedParams
) -> TunedParams:
    """Score the tuned and the default parameters on the season the study held out, each
    trained as train-models would train for that season (on every earlier season)."""
    season = tuned.eval_season
    history = frame[frame["season"] < season]
    games = comparable_games(frame[frame["season"] == season], spec)
    if games.empty:
        raise TooFewSeasons(f"no {spec.name} games with market lines in {season} to confirm on")

    def score(params: dict[str, Any] | None) -> float:
        fitted = train_model(history, spec, params)
        return score_probabilities(games[spec.target], fitted.predict(games)).log_loss

    return replace(
        tuned, confirm_log_loss=score(tuned.params), default_confirm_log_loss=score(None)
    )


# -- cross-validation and pruning -------------------------------------------------------------


@dataclass(frozen=True)
class SeasonData:
    """Labelled rows to fit on (every season before `season`) and to validate on (`season`)."""

    season: int
    train: pd.DataFrame
    valid: pd.DataFrame
    baseline: float  # log loss before any tree: the base margin, or the training base rate


@dataclass(frozen=True)
class CVData:
    """The folds and, for each season a fold validates or picks its rounds on, its rows."""

    folds: tuple[Fold, ...]
    seasons: dict[int, SeasonData]


def prepare_folds(frame: pd.DataFrame, spec: ModelSpec, folds: Sequence[Fold]) -> CVData:
    """Slice the labelled rows once; seasons from the first fold's validation season on are only
    ever validated on by folds that train on earlier seasons."""
    data = labelled(frame, spec)
    needed = sorted({f.valid_season for f in folds} | {f.train_seasons[-1] for f in folds})
    seasons = {}
    for season in needed:
        train = data[data["season"] < season]
        valid = data[data["season"] == season]
        if train.empty or valid.empty:
            raise ValueError(f"season {season} has no labelled {spec.target} rows to use")
        y = valid[spec.target].to_numpy(float)
        if spec.base_margin:
            p0 = 1.0 / (1.0 + np.exp(-base_margin_logit(valid, spec.base_margin)))
        else:
            p0 = np.full(len(valid), float(train[spec.target].mean()))
        baseline = float(log_loss_per_game(y, p0).mean())
        seasons[season] = SeasonData(season, train, valid, baseline)
    return CVData(tuple(folds), seasons)


# Binned datasets per (season, max_bin): only max_bin changes the binning here
# (feature_pre_filter is off), so a worker builds each once instead of once per trial.
DatasetCache = dict[tuple[int, int], tuple[lgb.Dataset, lgb.Dataset]]


def _season_datasets(
    data: SeasonData,
    spec: ModelSpec,
    max_bin: int,
    num_threads: int,
    cache: DatasetCache | None,
) -> tuple[lgb.Dataset, lgb.Dataset]:
    key = (data.season, max_bin)
    if cache is not None and key in cache:
        return cache[key]
    # num_threads on every LightGBM call: LightGBM keeps it in a process-wide variable, and a
    # call without it resets that to all cores while another worker's booster is mid-round with
    # buffers for one thread (a segfault, seen with two workers).
    params = {
        "max_bin": max_bin,
        "feature_pre_filter": False,
        "verbosity": -1,
        "num_threads": num_threads,
    }
    train_set = _binned(data.train, spec, params).construct()
    valid_set = _binned(data.valid, spec, params, reference=train_set).construct()
    if cache is not None:
        cache[key] = (train_set, valid_set)
    return train_set, valid_set


def _binned(
    frame: pd.DataFrame,
    spec: ModelSpec,
    params: dict[str, Any],
    reference: lgb.Dataset | None = None,
) -> lgb.Dataset:
    """As `train._dataset`: the base margin's logit is the init score."""
    return lgb.Dataset(
        frame[list(spec.features)].to_numpy(float),
        label=frame[spec.target].to_numpy(float),
        init_score=base_margin_logit(frame, spec.base_margin) if spec.base_margin else None,
        feature_name=list(spec.features),
        params=params,
        reference=reference,
        free_raw_data=False,
    )


class EarlyStopping:
    """LightGBM's `early_stopping` callback as state, fed one validation loss per round.

    Once `patience` rounds pass without a better loss, `best_round` is final: that is where
    `lgb.train` would have stopped. A booster that keeps running after that (a season that is
    also validated on by a later fold) may reach a lower loss later; it moves `best`, the
    optimistic score, but never `best_round`.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.curve: list[float] = []  # validation loss after each round
        self.best = math.inf  # the lowest loss of any round so far
        self.best_round = 0
        self.patience_over = False

    def add(self, loss: float) -> None:
        self.curve.append(loss)
        self.best = min(self.best, loss)
        if self.patience_over:
            return
        if self.best_round == 0 or loss < self.curve[self.best_round - 1]:
            self.best_round = len(self.curve)
        elif len(self.curve) - self.best_round >= self.patience:
            self.patience_over = True


class _SeasonRun(EarlyStopping):
    """A booster fit on the seasons before one season and validated on it, a round at a time."""

    def __init__(
        self,
        data: SeasonData,
        datasets: tuple[lgb.Dataset, lgb.Dataset],
        lgb_params: dict[str, Any],
        patience: int,
    ) -> None:
        super().__init__(patience)
        self.data = data
        self.booster = lgb.Booster(params=lgb_params, train_set=datasets[0])
        self.booster.add_valid(datasets[1], "valid")

    def step(self) -> None:
        self.booster.update()
        self.add(float(self.booster.eval_valid()[0][2]))


def cross_validate(
    data: CVData,
    spec: ModelSpec,
    params: dict[str, Any],
    *,
    trial: optuna.Trial | None = None,
    num_threads: int = 1,
    seed: int = 7,
    report_every: int = REPORT_EVERY,
    report_from: int = PRUNE_WARMUP_ROUNDS,
    cache: DatasetCache | None = None,
) -> CVResult:
    """Walk-forward CV that scores each fold as `train_model` would do on it, out of sample.

    `train_model` on the seasons before s picks its rounds R by early stopping on its last
    season p, then fits all seasons before s for R rounds. Here one booster per season (fit on
    the seasons before it) gives both: the booster validated on p yields R, the booster
    validated on s is scored at round R. So the round count is never chosen on the season it is
    scored on, unlike scoring each fold at its own best round (kept as `fold_best_log_loss`).

    The boosters advance in lock-step, one round each. With `trial`, every `report_every`
    rounds from round `report_from` on, the mean over folds of (best validation log loss so
    far - the fold's baseline) is reported: it never rises, which the median rule's comparison
    of a trial's best value with others' values at the same step assumes, and the baseline
    keeps a hard season from looking like a bad configuration.

    Raises:
        optuna.TrialPruned: when the trial's pruner stops it.
    """
    params = {**DEFAULT_PARAMS, **params}
    lgb_params = {
        **_lgb_params(spec, params, seed),
        "num_threads": num_threads,
        "feature_pre_filter": False,
    }
    patience = int(params["early_stopping_rounds"])
    max_bin = int(params["max_bin"])
    runs = {
        season: _SeasonRun(
            season_data,
            _season_datasets(season_data, spec, max_bin, num_threads, cache),
            lgb_params,
            patience,
        )  # fmt: skip
        for season, season_data in data.seasons.items()
    }
    probe_of = {f.valid_season: f.train_seasons[-1] for f in data.folds}
    probes = set(probe_of.values())

    def finished(season: int, run: _SeasonRun) -> bool:
        if season in probes and not run.patience_over:
            return False
        if season in probe_of:
            probe = runs[probe_of[season]]
            return probe.patience_over and len(run.curve) >= probe.best_round
        return True

    for rounds in range(1, int(params["num_boost_round"]) + 1):
        active = [run for season, run in runs.items() if not finished(season, run)]
        if not active:
            break
        for run in active:
            run.step()
        if trial is not None and rounds % report_every == 0 and rounds >= report_from:
            gains = [runs[f.valid_season].best - runs[f.valid_season].data.baseline
                     for f in data.folds]  # fmt: skip
            trial.report(float(np.mean(gains)), rounds)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at round {rounds}")
    chosen = [max(1, runs[probe_of[f.valid_season]].best_round) for f in data.folds]
    return CVResult(
        tuple(runs[f.valid_season].curve[r - 1] for f, r in zip(data.folds, chosen, strict=True)),
        tuple(chosen),
        tuple(runs[f.valid_season].best for f in data.folds),
    )


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
    parsed = urlparse(engine.sqlalchemy_url(database_url))
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
    try:
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
    finally:
        storage.engine.dispose()
    return StudyRef(storage_url, name, spec.name, eval_season, tuple(folds))


def run_trials(
    ref: StudyRef,
    frame: pd.DataFrame,
    spec: ModelSpec,
    n_trials: int,
    *,
    worker: int = 0,
    seed: int | None = None,
    num_threads: int = 1,
    pruning: bool = True,
    n_startup_trials: int = PRUNE_STARTUP_TRIALS,
    n_warmup_steps: int = PRUNE_WARMUP_ROUNDS,
) -> WorkerSummary:
    """Add `n_trials` trials to the study; safe to run in several threads, processes or machines
    at once (each trial's number and state are assigned by the database)."""
    started = time.perf_counter()
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
    return WorkerSummary(worker, tuple(mine), time.perf_counter() - started)


@contextmanager
def open_study(storage_url: str, name: str) -> Iterator[optuna.Study]:
    """The stored study, for reading (no sampler seed, no pruner); its connections are closed
    on exit."""
    storage = make_storage(storage_url)
    try:
        yield optuna.load_study(study_name=name, storage=storage)
    finally:
        storage.engine.dispose()


def summarise_study(study: optuna.Study) -> TunedParams:
    """The best complete trial next to the defaults' CV score, from the study's records.

    Raises:
        ValueError: when no trial has completed yet.
    """
    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ValueError(f"study {study.study_name} has no complete trial")
    best = min(complete, key=lambda t: (float(t.value), t.number))  # type: ignore[arg-type]
    attrs = study.user_attrs
    return TunedParams(
        study=study.study_name,
        model=str(attrs["model"]),
        spec_signature=str(attrs["spec_signature"]),
        eval_season=int(attrs["eval_season"]),
        valid_seasons=tuple(int(s) for s in attrs["valid_seasons"]),
        best_trial=best.number,
        params=dict(best.params),
        cv_log_loss=float(best.value),  # type: ignore[arg-type]
        default_cv_log_loss=float(attrs["default_cv_log_loss"]),
        fold_log_loss=tuple(best.user_attrs.get("fold_log_loss", ())),
        default_fold_log_loss=tuple(attrs["default_fold_log_loss"]),
        n_complete=len(complete),
        n_pruned=states.count(optuna.trial.TrialState.PRUNED),
        n_failed=states.count(optuna.trial.TrialState.FAIL),
    )


# -- persistence: tuned_params table and MLflow -----------------------------------------------


def write_tuned_params(database_url: str, tuned: TunedParams) -> None:
    """Upsert the study's best (one row per study; a resumed study updates its row)."""
    with engine.connect(database_url) as conn, conn.transaction():
        conn.execute(
            """
            INSERT INTO tuned_params (study, model, spec_signature, eval_season, valid_seasons,
                best_trial, params, cv_log_loss, default_cv_log_loss, n_complete, n_pruned,
                mlflow_run_id, confirm_log_loss, default_confirm_log_loss)
            VALUES (%(study)s, %(model)s, %(spec_signature)s, %(eval_season)s,
                %(valid_seasons)s, %(best_trial)s, %(params)s, %(cv_log_loss)s,
                %(default_cv_log_loss)s, %(n_complete)s, %(n_pruned)s, %(mlflow_run_id)s,
                %(confirm_log_loss)s, %(default_confirm_log_loss)s)
            ON CONFLICT (study) DO UPDATE SET
                best_trial = EXCLUDED.best_trial, params = EXCLUDED.params,
                cv_log_loss = EXCLUDED.cv_log_loss,
                default_cv_log_loss = EXCLUDED.default_cv_log_loss,
                confirm_log_loss = EXCLUDED.confirm_log_loss,
                default_confirm_log_loss = EXCLUDED.default_confirm_log_loss,
                n_complete = EXCLUDED.n_complete, n_pruned = EXCLUDED.n_pruned,
                mlflow_run_id = COALESCE(EXCLUDED.mlflow_run_id, tuned_params.mlflow_run_id),
                updated_at = now()
            """,
            {
                **asdict(tuned),
                "valid_seasons": list(tuned.valid_seasons),
                "params": json.dumps(tuned.params),
            },
        )


def fetch_tuned_params(database_url: str, spec: ModelSpec, eval_season: int) -> TunedParams | None:
    """The latest study's best for `spec` whose held-out season precedes `eval_season`, if any
    (so its folds and its confirmation season do too).

        Studies of another feature set or search space (other `spec_signature`) are ignored.
    """
    from psycopg.rows import dict_row

    with engine.connect(database_url, row_factory=dict_row) as conn:
        if conn.execute("SELECT to_regclass('tuned_params') AS t").fetchone() == {"t": None}:
            return None  # migration 0003 not applied yet: nothing was ever tuned here
        row = conn.execute(
            """
            SELECT study, model, spec_signature, eval_season, valid_seasons, best_trial, params,
                cv_log_loss, default_cv_log_loss, n_complete, n_pruned, mlflow_run_id,
                confirm_log_loss, default_confirm_log_loss
            FROM tuned_params
            WHERE model = %s AND spec_signature = %s AND eval_season < %s
            ORDER BY updated_at DESC, study
            LIMIT 1
            """,
            (spec.name, spec_signature(spec), eval_season),
        ).fetchone()
    if row is None:
        return None
    # jsonb reorders keys; present them in the search space's order.
    params = {key: row["params"][key] for key in sorted(row["params"], key=_param_order)}
    return TunedParams(
        **{**row, "valid_seasons": tuple(row["valid_seasons"]), "params": params},
        fold_log_loss=(),
        default_fold_log_loss=(),
        n_failed=0,
    )


def _param_order(key: str) -> tuple[int, str]:
    return (TUNED_KEYS.index(key) if key in TUNED_KEYS else len(TUNED_KEYS), key)


def load_tuned_params(database_url: str, model: str, eval_season: int) -> dict[str, Any] | None:
    """Parameters for `train_model` when a study's best beat the defaults in CV and on the
    season it held out, else None (defaults).

    Only studies whose held-out season precedes `eval_season` count, so a model judged on a
    season never gets parameters chosen or confirmed by looking at that season.
    """
    tuned = fetch_tuned_params(database_url, SPECS[model], eval_season)
    if tuned is None or not tuned.beats_defaults:
        return None
    return tuned.params


def publish_best(
    ref: StudyRef, frame: pd.DataFrame, database_url: str, tracking_uri: str, experiment_id: str
) -> TunedParams:
    """Confirm the study's best trial on its held-out season (in `frame`), log it to MLflow and
    upsert it into `tuned_params`."""
    import tempfile

    with open_study(ref.storage_url, ref.name) as study, tempfile.TemporaryDirectory() as tmp:
        tuned = confirm_on_held_out_season(frame, SPECS[ref.model], summarise_study(study))
        run_id = log_study_to_mlflow(tracking_uri, experiment_id, study, tuned, Path(tmp))
    tuned = replace(tuned, mlflow_run_id=run_id)
    write_tuned_params(database_url, tuned)
    return tuned


def describe_run(tuned: TunedParams, workers: Sequence[WorkerSummary]) -> dict[str, Any]:
    """Small JSON-able summary of one flow run for one model."""
    return {
        "study": tuned.study,
        "trials_this_run": sum(len(w.trials) for w in workers),
        "workers": len(workers),
        "seconds": round(max((w.seconds for w in workers), default=0.0), 1),
        "n_complete": tuned.n_complete,
        "n_pruned": tuned.n_pruned,
        "best_trial": tuned.best_trial,
        "cv_log_loss": tuned.cv_log_loss,
        "default_cv_log_loss": tuned.default_cv_log_loss,
        "confirm_season": tuned.eval_season,
        "confirm_log_loss": tuned.confirm_log_loss,
        "default_confirm_log_loss": tuned.default_confirm_log_loss,
        "beats_defaults": tuned.beats_defaults,
        "mlflow_run_id": tuned.mlflow_run_id,
        "params": tuned.params,
    }


def log_study_to_mlflow(
    tracking_uri: str, experiment_id: str, study: optuna.Study, tuned: TunedParams, workdir: Path
) -> str:
    """One MLflow run per publication of a study: best params, CV metrics, history and
    parameter-importance plots and every trial as CSV. Returns the run id."""
    from mlflow.entities import Metric, Param, RunTag

    from bullpen.registry import mlflow_store

    client = mlflow_store.client(tracking_uri)
    run = client.create_run(experiment_id, run_name=f"{tuned.study}-best")
    run_id = run.info.run_id
    try:
        metrics = {
            "cv_log_loss": tuned.cv_log_loss,
            "default_cv_log_loss": tuned.default_cv_log_loss,
            "cv_gain_vs_default": tuned.default_cv_log_loss - tuned.cv_log_loss,
            "n_complete": tuned.n_complete,
            "n_pruned": tuned.n_pruned,
            "n_failed": tuned.n_failed,
            "best_trial": tuned.best_trial,
        }
        if tuned.confirm_log_loss is not None and tuned.default_confirm_log_loss is not None:
            metrics["confirm_log_loss"] = tuned.confirm_log_loss
            metrics["default_confirm_log_loss"] = tuned.default_confirm_log_loss
        for season, loss, default in zip(
            tuned.valid_seasons, tuned.fold_log_loss, tuned.default_fold_log_loss, strict=False
        ):
            metrics[f"cv_log_loss_{season}"] = loss
            metrics[f"default_cv_log_loss_{season}"] = default
        params = {
            **{k: v for k, v in DEFAULT_PARAMS.items() if k not in tuned.params},
            **tuned.params,
            "study": tuned.study,
            "valid_seasons": ",".join(str(s) for s in tuned.valid_seasons),
            "eval_season": tuned.eval_season,
        }
        tags = {
            "bullpen.model": tuned.model,
            "bullpen.study": tuned.study,
            "bullpen.spec_signature": tuned.spec_signature,
            "bullpen.beats_defaults": str(tuned.beats_defaults).lower(),
        }
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for path in write_study_artifacts(study, workdir):
            client.log_artifact(run_id, str(path))
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def write_study_artifacts(study: optuna.Study, workdir: Path) -> list[Path]:
    """trials.csv (the whole history), optimization_history.png, param_importances.png."""
    workdir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    paths = [_write_trials_csv(trials, workdir / "trials.csv")]
    paths.append(_plot_history(trials, workdir / "optimization_history.png"))
    try:
        importances = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as exc:  # too few complete trials to judge
        log.info("no parameter importances for %s: %s", study.study_name, exc)
    else:
        paths.append(_plot_importances(importances, workdir / "param_importances.png"))
    return paths


def _write_trials_csv(trials: Sequence[optuna.trial.FrozenTrial], path: Path) -> Path:
    names = sorted({name for t in trials for name in t.params})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", "seconds", "last_step", "worker", *names])
        for t in trials:
            seconds = (
                (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start
                else ""
            )
            writer.writerow(
                [t.number, t.state.name, "" if t.value is None else t.value, seconds,
                 "" if t.last_step is None else t.last_step, t.user_attrs.get("worker", ""),
                 *(t.params.get(name, "") for name in names)]
            )  # fmt: skip
    return path


def _plot_history(trials: Sequence[optuna.trial.FrozenTrial], path: Path) -> Path:
    figure = _new_figure()
    axes = figure.subplots()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    numbers = [t.number for t in done]
    values = [float(t.value) for t in done]  # type: ignore[arg-type]
    axes.scatter(numbers, values, s=14, label="complete trial")
    if values:
        axes.step(numbers, np.minimum.accumulate(values), where="post", color="tab:red",
                  label="best so far")  # fmt: skip
    pruned = [t.number for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    for number in pruned:
        axes.axvline(number, color="grey", alpha=0.15)
    axes.set(xlabel="trial", ylabel="mean CV log loss",
             title=f"Optimisation history ({len(pruned)} pruned trials shaded)")  # fmt: skip
    axes.legend(loc="upper right")
    return _save(figure, path)


def _plot_importances(importances: dict[str, float], path: Path) -> Path:
    figure = _new_figure()
    axes = figure.subplots()
    names = list(importances)[::-1]
    axes.barh(names, [importances[n] for n in names], color="tab:blue")
    axes.set(xlabel="importance (PED-ANOVA, normalised)", title="Parameter importances")
    return _save(figure, path)


def _new_figure() -> Figure:
    # Figure without pyplot: no global state, safe beside other threads drawing plots.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(7, 4.5), dpi=100, layout="tight")


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, format="png")
    return path
