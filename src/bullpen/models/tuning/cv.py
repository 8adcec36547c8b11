"""Walk-forward cross-validation for the tuning search: season folds, the held-out season,
and CV that scores each fold as `train_model` would, with early stopping replayed round by round."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.train import DEFAULT_PARAMS, ModelSpec, _lgb_params, base_margin_logit, labelled

# Reporting every round made storage writes dominate (TOOLCHAIN.md); every 10th is cheap.
REPORT_EVERY = 10
# No pruning in the first rounds: a small learning rate has barely moved by round 10 and would
# be cut for being slow rather than bad. Replaying the median rule on the complete CV curves of
# 80 moneyline and 50 totals trials (bench/pruning_replay.py) kept the same best trial with any
# warm-up from 10 to 40 rounds. Nothing is reported before it either: a report is a Postgres
# transaction, and one that no pruning decision reads is pure cost.
PRUNE_WARMUP_ROUNDS = 20


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


# -- folds ----------------------------------------------------------------------------------------


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


def held_out_season(eval_season: int) -> int:
    """The season a study for `eval_season` holds out to confirm its best trial: the last one
    before `eval_season`. The study's folds all precede it."""
    return eval_season - 1


# -- cross-validation -------------------------------------------------------------------------


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
