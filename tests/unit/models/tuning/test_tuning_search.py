"""Search space, objective, pruning and Optuna storage of the tuner, offline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import optuna
import pandas as pd
import pytest

from bullpen.models import train
from bullpen.models.tuning import cv, search


def test_default_trial_params_lie_inside_the_search_space(
    memory_study: Callable[..., optuna.Study],
) -> None:
    study = memory_study()
    study.enqueue_trial(search.default_trial_params())
    trial = study.ask()

    sampled = search.suggest_params(trial)

    # Outside a distribution Optuna would silently sample a random value instead.
    assert sampled == search.default_trial_params()
    assert set(sampled) == set(search.TUNED_KEYS)
    for key in ("learning_rate", "num_leaves", "min_data_in_leaf", "max_bin", "lambda_l2"):
        assert sampled[key] == train.DEFAULT_PARAMS[key]


def test_reported_values_never_rise_and_trials_record_their_folds(
    eval_season: int, memory_study: Callable[..., optuna.Study], frame: pd.DataFrame
) -> None:
    folds = cv.season_folds(frame["season"], eval_season, 2)
    objective = search.make_objective(frame, train.MONEYLINE, folds)
    study = memory_study()
    study.enqueue_trial({**search.default_trial_params(), "learning_rate": 0.005})

    study.optimize(objective, n_trials=1)

    trial = study.trials[0]
    steps = sorted(trial.intermediate_values)
    values = [trial.intermediate_values[step] for step in steps]
    # Nothing before the pruner's warm-up: a report no decision reads is a wasted transaction.
    first = cv.PRUNE_WARMUP_ROUNDS
    assert steps == list(range(first, steps[-1] + 1, cv.REPORT_EVERY))
    # A trial's best reported value is its latest: what MedianPruner compares must be current.
    assert values == sorted(values, reverse=True)
    data = cv.prepare_folds(frame, train.MONEYLINE, folds)
    baselines = [data.seasons[f.valid_season].baseline for f in folds]
    assert values[-1] >= np.mean(np.array(trial.user_attrs["fold_best_log_loss"]) - baselines)
    assert trial.value == pytest.approx(np.mean(trial.user_attrs["fold_log_loss"]))
    assert len(trial.user_attrs["fold_rounds"]) == 2


def test_median_pruner_stops_a_reckless_trial_early(
    eval_season: int,
    reckless: dict[str, Any],
    memory_study: Callable[..., optuna.Study],
    frame: pd.DataFrame,
) -> None:
    folds = cv.season_folds(frame["season"], eval_season, 2)
    objective = search.make_objective(frame, train.MONEYLINE, folds)
    study = memory_study(search.SnapshotMedianPruner(n_startup_trials=1, n_warmup_steps=30))
    study.enqueue_trial(search.default_trial_params())
    study.enqueue_trial(reckless)

    study.optimize(objective, n_trials=2)

    defaults, reckless = study.trials
    assert defaults.state == optuna.trial.TrialState.COMPLETE
    assert reckless.state == optuna.trial.TrialState.PRUNED
    assert reckless.last_step < defaults.last_step


def test_split_trials_is_exact_and_even() -> None:
    assert search.split_trials(20, 2) == [10, 10]
    assert search.split_trials(7, 3) == [3, 2, 2]
    assert search.split_trials(2, 4) == [1, 1]
    with pytest.raises(ValueError):
        search.split_trials(5, 0)


def test_threads_per_worker_counts_only_the_cores_the_process_may_use() -> None:
    """A worker pinned to one core (taskset, a CPU-limited container) gets one LightGBM thread,
    not one per core of the machine (extra OpenMP threads spin against each other)."""
    import subprocess
    import sys

    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
        "from bullpen.models.tuning import search;"
        "print(search.usable_cpus(), search.threads_per_worker(1))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_threads_per_worker_shares_the_cores() -> None:
    assert search.threads_per_worker(2, cpus=2) == 1
    assert search.threads_per_worker(1, cpus=2) == 2
    assert search.threads_per_worker(4, cpus=2) == 1


def test_optuna_storage_url_uses_psycopg_and_its_own_schema() -> None:
    url = search.optuna_storage_url("postgresql://postgres:@/bullpen?host=/tmp/bp-x/pgdata")

    parsed = urlparse(url)
    assert parsed.scheme == "postgresql+psycopg"
    assert parsed.path == "/bullpen"
    assert parse_qs(parsed.query) == {
        "host": ["/tmp/bp-x/pgdata"],
        "options": [f"-csearch_path={search.OPTUNA_SCHEMA}"],
    }


def test_study_name_changes_with_features_and_folds() -> None:
    folds = cv.season_folds(range(2010, 2020), 2019, 3)
    name = search.study_name(train.MONEYLINE, folds)

    assert name.startswith("moneyline-cv2016-2018-")
    assert search.study_name(train.MONEYLINE, folds) == name  # stable: reruns resume
    fewer = replace(train.MONEYLINE, features=train.MONEYLINE.features[:-1])
    assert search.study_name(fewer, folds) != name
    assert search.study_name(train.MONEYLINE, folds[1:]) != name
    assert search.spec_signature(train.TOTALS) != search.spec_signature(train.MONEYLINE)


def _reports(rng: np.random.Generator, last_step: int) -> dict[int, float]:
    """Intermediate values every 10 steps, some missing and some NaN, as real reports can be."""
    values = {}
    for step in range(10, last_step + 1, 10):
        if rng.uniform() < 0.1:
            continue
        values[step] = float("nan") if rng.uniform() < 0.05 else float(rng.normal())
    return values


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_snapshot_median_pruner_decides_as_optuna_median_pruner(direction: str) -> None:
    rng = np.random.default_rng(5)
    decisions = 0
    for _ in range(60):
        study = optuna.create_study(direction=direction)
        for _ in range(int(rng.integers(0, 9))):
            study.add_trial(
                optuna.trial.create_trial(
                    value=float(rng.normal()),
                    intermediate_values=_reports(rng, int(rng.integers(10, 150))),
                )
            )
        startup, warmup = int(rng.integers(0, 6)), int(rng.choice([0, 20, 30]))
        ours = search.SnapshotMedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
        optunas = optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
        reports = _reports(rng, 150)
        for last in sorted(reports):
            running = optuna.trial.create_trial(
                state=optuna.trial.TrialState.RUNNING,
                intermediate_values={s: v for s, v in reports.items() if s <= last},
            )
            assert ours.prune(study, running) == optunas.prune(study, running)
            decisions += optunas.prune(study, running)
    assert decisions > 20  # the comparison covered pruning decisions, not only "keep going"


def test_snapshot_median_pruner_reads_the_completed_trials_once_per_trial() -> None:
    study = optuna.create_study()
    for value in (0.1, 0.2, 0.3):
        study.add_trial(
            optuna.trial.create_trial(value=value, intermediate_values={30: value, 40: value})
        )
    reads = []
    real_get_trials = study.get_trials
    study.get_trials = lambda *a, **k: reads.append(1) or real_get_trials(*a, **k)  # type: ignore[method-assign]
    pruner = search.SnapshotMedianPruner(n_startup_trials=1, n_warmup_steps=30)
    trial = study.ask()
    trial.report(0.15, 30)
    trial.report(0.15, 40)

    for _ in range(5):
        assert not pruner.prune(study, study._storage.get_trial(trial._trial_id))
    assert len(reads) == 1
    trial.report(0.5, 50)  # no completed trial reached step 50: no median to compare with
    assert not pruner.prune(study, study._storage.get_trial(trial._trial_id))
