"""Walk-forward folds, search space, CV objective and pruning of the tuner, offline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import pytest

from bullpen.models import train, tune
from bullpen.models.evaluate import log_loss_per_game

SEASONS = [2014, 2015, 2016, 2017, 2018]
EVAL_SEASON = 2018
# An aggressive corner of the search space: deep, fast, unregularised trees that chase noise.
RECKLESS = {
    "learning_rate": 0.2,
    "num_leaves": 64,
    "min_data_in_leaf": 50,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "lambda_l1": 1e-3,
    "lambda_l2": 1e-3,
    "max_bin": 255,
    "extra_trees": False,
}


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Games whose outcomes follow the market price exactly: the features carry no signal."""
    rng = np.random.default_rng(3)
    n = 700
    parts = []
    for season in SEASONS:
        part = pd.DataFrame(
            rng.normal(size=(n, len(train.MONEYLINE_FEATURES))),
            columns=list(train.MONEYLINE_FEATURES),
        )
        part["mkt_open_home_prob"] = rng.uniform(0.3, 0.75, n)
        part["elo_prob"] = rng.uniform(0.4, 0.6, n)
        part["home_win"] = (rng.uniform(size=n) < part["mkt_open_home_prob"]).astype(float)
        part["season"] = season
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _memory_study(pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    return optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=pruner or optuna.pruners.NopPruner(),
    )


@pytest.mark.parametrize(
    ("seasons", "eval_season", "n_folds"),
    [
        (range(2010, 2021), 2019, 3),
        (range(2010, 2021), 2019, 7),
        ([2012, 2010, 2011, 2015, 2013], 2014, 2),  # unsorted, with a later season present
        ([2016, 2017, 2018, 2019], 2019, 1),
        ([2015, 2016, 2017, 2018, 2019], 2019, 2),
    ],
)
def test_season_folds_never_train_on_a_later_season(
    seasons: list[int], eval_season: int, n_folds: int
) -> None:
    folds = tune.season_folds(seasons, eval_season, n_folds)

    assert len(folds) == n_folds
    earlier = sorted(s for s in seasons if s < eval_season)
    assert [f.valid_season for f in folds] == earlier[-n_folds:]
    for fold in folds:
        assert len(fold.train_seasons) >= 2  # the last one picks train_model's rounds
        assert max(fold.train_seasons) < fold.valid_season < eval_season
        # Expanding window: every earlier season, nothing later.
        assert list(fold.train_seasons) == [s for s in earlier if s < fold.valid_season]


def test_season_folds_reject_too_few_seasons() -> None:
    with pytest.raises(tune.TooFewSeasons, match="3 folds need 5 seasons before 2019"):
        tune.season_folds([2015, 2016, 2017, 2018, 2019, 2020], 2019, 3)


def test_cross_validate_never_reads_the_evaluation_season(frame: pd.DataFrame) -> None:
    folds = tune.season_folds(frame["season"], EVAL_SEASON, 2)
    scrambled = frame.copy()
    later = scrambled["season"] >= EVAL_SEASON
    scrambled.loc[later, "home_win"] = 1.0 - scrambled.loc[later, "home_win"]
    scrambled.loc[later, list(train.MONEYLINE_FEATURES)] = np.nan

    honest = tune.cross_validate(
        tune.prepare_folds(frame, train.MONEYLINE, folds), train.MONEYLINE, {}
    )
    other = tune.cross_validate(
        tune.prepare_folds(scrambled, train.MONEYLINE, folds), train.MONEYLINE, {}
    )

    assert other == honest
    data = tune.prepare_folds(frame, train.MONEYLINE, folds)
    assert sorted(data.seasons) == [2015, 2016, 2017]  # 2015 only picks the rounds for 2016
    for season, rows in data.seasons.items():
        assert rows.train["season"].max() < season < EVAL_SEASON
        assert set(rows.valid["season"]) == {season}


def test_default_trial_params_lie_inside_the_search_space() -> None:
    study = _memory_study()
    study.enqueue_trial(tune.default_trial_params())
    trial = study.ask()

    sampled = tune.suggest_params(trial)

    # Outside a distribution Optuna would silently sample a random value instead.
    assert sampled == tune.default_trial_params()
    assert set(sampled) == set(tune.TUNED_KEYS)
    for key in ("learning_rate", "num_leaves", "min_data_in_leaf", "max_bin", "lambda_l2"):
        assert sampled[key] == train.DEFAULT_PARAMS[key]


@pytest.mark.parametrize("shared_cache", [False, True])
def test_cross_validate_scores_folds_as_train_model_would(
    frame: pd.DataFrame, shared_cache: bool
) -> None:
    folds = tune.season_folds(frame["season"], EVAL_SEASON, 2)
    data = tune.prepare_folds(frame, train.MONEYLINE, folds)
    cache: tune.DatasetCache | None = {} if shared_cache else None
    configs = [
        {"learning_rate": 0.1, "num_leaves": 16, "min_data_in_leaf": 300},
        {"learning_rate": 0.05, "num_leaves": 4, "min_data_in_leaf": 60, "extra_trees": True},
        {"learning_rate": 0.1, "num_leaves": 16, "min_data_in_leaf": 300, "max_bin": 15},
    ]
    for config in configs:  # a shared cache reuses the binned data of earlier configurations
        params = {**train.DEFAULT_PARAMS, **config}
        result = tune.cross_validate(data, train.MONEYLINE, params, cache=cache)

        for fold, loss, rounds, best in zip(
            folds, result.fold_log_loss, result.fold_rounds, result.fold_best_log_loss, strict=True
        ):
            # What train_model does (its steps, with one thread): probe, refit, score.
            history = frame[frame["season"] < fold.valid_season]
            probe = _lgb_train(history, fold.train_seasons[-1], params)
            assert rounds == probe.best_iteration
            refit = lgb.train(
                {**train._lgb_params(train.MONEYLINE, params, 7), "num_threads": 1},
                train._dataset(history, train.MONEYLINE, params),
                num_boost_round=rounds,
            )
            valid = frame[frame["season"] == fold.valid_season]
            p = train.predict_booster(refit, valid, "mkt_open_home_prob")
            assert loss == pytest.approx(log_loss(valid["home_win"], p), abs=1e-9)
            # The optimistic score: the best round chosen on the validation season itself.
            stopped = _lgb_train(
                frame[frame["season"] <= fold.valid_season], fold.valid_season, params
            )
            assert best == pytest.approx(stopped.best_score["valid_0"]["binary_logloss"], abs=1e-12)
            assert best <= loss
    if cache is not None:
        assert sorted(cache) == [(s, b) for s in (2015, 2016, 2017) for b in (15, 63)]


def test_cross_validate_defaults_match_train_model(frame: pd.DataFrame) -> None:
    folds = tune.season_folds(frame["season"], EVAL_SEASON, 2)

    result = tune.cross_validate(
        tune.prepare_folds(frame, train.MONEYLINE, folds), train.MONEYLINE, {}
    )

    for fold, loss, rounds in zip(folds, result.fold_log_loss, result.fold_rounds, strict=True):
        fitted = train.train_model(frame[frame["season"] < fold.valid_season], train.MONEYLINE)
        valid = frame[frame["season"] == fold.valid_season]
        assert rounds == fitted.num_rounds
        assert loss == pytest.approx(log_loss(valid["home_win"], fitted.predict(valid)), abs=1e-6)


def _lgb_train(frame: pd.DataFrame, valid_season: int, params: dict) -> lgb.Booster:
    """lgb.train on the seasons before `valid_season`, early stopping on it (one thread)."""
    return lgb.train(
        {**train._lgb_params(train.MONEYLINE, params, 7), "num_threads": 1},
        train._dataset(frame[frame["season"] < valid_season], train.MONEYLINE, params),
        num_boost_round=params["num_boost_round"],
        valid_sets=[
            train._dataset(frame[frame["season"] == valid_season], train.MONEYLINE, params)
        ],
        callbacks=[lgb.early_stopping(params["early_stopping_rounds"], verbose=False)],
    )


def log_loss(y: pd.Series, p: np.ndarray) -> float:
    return float(log_loss_per_game(y.to_numpy(float), p).mean())


def test_reported_values_never_rise_and_trials_record_their_folds(frame: pd.DataFrame) -> None:
    folds = tune.season_folds(frame["season"], EVAL_SEASON, 2)
    objective = tune.make_objective(frame, train.MONEYLINE, folds)
    study = _memory_study()
    study.enqueue_trial({**tune.default_trial_params(), "learning_rate": 0.005})

    study.optimize(objective, n_trials=1)

    trial = study.trials[0]
    steps = sorted(trial.intermediate_values)
    values = [trial.intermediate_values[step] for step in steps]
    # Nothing before the pruner's warm-up: a report no decision reads is a wasted transaction.
    first = tune.PRUNE_WARMUP_ROUNDS
    assert steps == list(range(first, steps[-1] + 1, tune.REPORT_EVERY))
    # A trial's best reported value is its latest: what MedianPruner compares must be current.
    assert values == sorted(values, reverse=True)
    data = tune.prepare_folds(frame, train.MONEYLINE, folds)
    baselines = [data.seasons[f.valid_season].baseline for f in folds]
    assert values[-1] >= np.mean(np.array(trial.user_attrs["fold_best_log_loss"]) - baselines)
    assert trial.value == pytest.approx(np.mean(trial.user_attrs["fold_log_loss"]))
    assert len(trial.user_attrs["fold_rounds"]) == 2


def test_median_pruner_stops_a_reckless_trial_early(frame: pd.DataFrame) -> None:
    folds = tune.season_folds(frame["season"], EVAL_SEASON, 2)
    objective = tune.make_objective(frame, train.MONEYLINE, folds)
    study = _memory_study(tune.SnapshotMedianPruner(n_startup_trials=1, n_warmup_steps=30))
    study.enqueue_trial(tune.default_trial_params())
    study.enqueue_trial(RECKLESS)

    study.optimize(objective, n_trials=2)

    defaults, reckless = study.trials
    assert defaults.state == optuna.trial.TrialState.COMPLETE
    assert reckless.state == optuna.trial.TrialState.PRUNED
    assert reckless.last_step < defaults.last_step


def test_split_trials_is_exact_and_even() -> None:
    assert tune.split_trials(20, 2) == [10, 10]
    assert tune.split_trials(7, 3) == [3, 2, 2]
    assert tune.split_trials(2, 4) == [1, 1]
    with pytest.raises(ValueError):
        tune.split_trials(5, 0)


def test_threads_per_worker_shares_the_cores() -> None:
    assert tune.threads_per_worker(2, cpus=2) == 1
    assert tune.threads_per_worker(1, cpus=2) == 2
    assert tune.threads_per_worker(4, cpus=2) == 1


def test_decide_use_tuned_needs_strictly_better_cv_and_held_out_scores() -> None:
    confirmed = (0.6650, 0.6652)
    assert tune.decide_use_tuned(0.6740, 0.6741, *confirmed)
    assert not tune.decide_use_tuned(0.6741, 0.6741, *confirmed)
    assert not tune.decide_use_tuned(0.6742, 0.6741, *confirmed)
    assert not tune.decide_use_tuned(float("nan"), 0.6741, *confirmed)
    assert not tune.decide_use_tuned(0.6740, 0.6741, 0.6652, 0.6652)  # CV alone is not enough
    assert not tune.decide_use_tuned(0.6740, 0.6741, 0.6653, 0.6652)
    assert not tune.decide_use_tuned(0.6740, 0.6741, float("nan"), 0.6652)
    assert not tune.decide_use_tuned(0.6740, 0.6741, None, None)  # never confirmed


def test_confirmation_scores_both_parameter_sets_as_train_models_would(
    frame: pd.DataFrame,
) -> None:
    from bullpen.models import assess
    from bullpen.models.evaluate import score_probabilities

    priced = frame.assign(p_open_home=frame["mkt_open_home_prob"], p_close_home=0.5)
    held_out = 2017
    tuned = tune.TunedParams(
        study="s", model="moneyline", spec_signature="x", eval_season=held_out,
        valid_seasons=(2016,), best_trial=3, params=RECKLESS, cv_log_loss=0.69,
        default_cv_log_loss=0.70, fold_log_loss=(), default_fold_log_loss=(), n_complete=4,
        n_pruned=0, n_failed=0,
    )  # fmt: skip

    confirmed = tune.confirm_on_held_out_season(
        priced[priced["season"] <= held_out], train.MONEYLINE, tuned
    )

    games = assess.comparable_games(priced[priced["season"] == held_out], train.MONEYLINE)
    fitted = train.train_model(priced[priced["season"] < held_out], train.MONEYLINE, None)
    expected = score_probabilities(games["home_win"], fitted.predict(games)).log_loss
    assert confirmed.default_confirm_log_loss == pytest.approx(expected, abs=1e-12)
    assert confirmed.confirm_log_loss != confirmed.default_confirm_log_loss
    assert confirmed.beats_defaults == (
        confirmed.confirm_log_loss < confirmed.default_confirm_log_loss  # type: ignore[operator]
    )
    # A later season in the frame changes nothing: only seasons up to the held-out one count.
    again = tune.confirm_on_held_out_season(priced, train.MONEYLINE, tuned)
    assert again.confirm_log_loss == confirmed.confirm_log_loss


def test_optuna_storage_url_uses_psycopg_and_its_own_schema() -> None:
    url = tune.optuna_storage_url("postgresql://postgres:@/bullpen?host=/tmp/bp-x/pgdata")

    parsed = urlparse(url)
    assert parsed.scheme == "postgresql+psycopg"
    assert parsed.path == "/bullpen"
    assert parse_qs(parsed.query) == {
        "host": ["/tmp/bp-x/pgdata"],
        "options": [f"-csearch_path={tune.OPTUNA_SCHEMA}"],
    }


def test_study_name_changes_with_features_and_folds() -> None:
    folds = tune.season_folds(range(2010, 2020), 2019, 3)
    name = tune.study_name(train.MONEYLINE, folds)

    assert name.startswith("moneyline-cv2016-2018-")
    assert tune.study_name(train.MONEYLINE, folds) == name  # stable: reruns resume
    fewer = replace(train.MONEYLINE, features=train.MONEYLINE.features[:-1])
    assert tune.study_name(fewer, folds) != name
    assert tune.study_name(train.MONEYLINE, folds[1:]) != name
    assert tune.spec_signature(train.TOTALS) != tune.spec_signature(train.MONEYLINE)


def test_summarise_study_picks_the_best_complete_trial(tmp_path: Path) -> None:
    study = _memory_study()
    study.set_user_attr("model", "moneyline")
    study.set_user_attr("spec_signature", "abc")
    study.set_user_attr("eval_season", 2019)
    study.set_user_attr("valid_seasons", [2017, 2018])
    study.set_user_attr("default_cv_log_loss", 0.675)
    study.set_user_attr("default_fold_log_loss", [0.676, 0.674])
    for value in (0.6752, 0.6747, 0.6749):
        trial = study.ask()
        tune.suggest_params(trial)
        trial.set_user_attr("fold_log_loss", [value, value])
        study.tell(trial, value)
    pruned = study.ask()
    tune.suggest_params(pruned)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)

    tuned = tune.summarise_study(study)

    assert tuned.best_trial == 1
    assert tuned.cv_log_loss == 0.6747
    assert tuned.params == study.trials[1].params
    assert (tuned.n_complete, tuned.n_pruned, tuned.n_failed) == (3, 1, 0)
    assert not tuned.beats_defaults  # better in CV, but not confirmed on the held-out season
    assert replace(tuned, confirm_log_loss=0.66, default_confirm_log_loss=0.67).beats_defaults
    artifacts = {p.name for p in tune.write_study_artifacts(study, tmp_path)}
    assert {"trials.csv", "optimization_history.png"} <= artifacts
    assert len((tmp_path / "trials.csv").read_text().splitlines()) == 5


def test_summarise_study_without_complete_trials_fails() -> None:
    study = _memory_study()
    with pytest.raises(ValueError, match="no complete trial"):
        tune.summarise_study(study)


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
        ours = tune.SnapshotMedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
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
    pruner = tune.SnapshotMedianPruner(n_startup_trials=1, n_warmup_steps=30)
    trial = study.ask()
    trial.report(0.15, 30)
    trial.report(0.15, 40)

    for _ in range(5):
        assert not pruner.prune(study, study._storage.get_trial(trial._trial_id))
    assert len(reads) == 1
    trial.report(0.5, 50)  # no completed trial reached step 50: no median to compare with
    assert not pruner.prune(study, study._storage.get_trial(trial._trial_id))


def test_early_stopping_keeps_its_round_once_patience_runs_out() -> None:
    stopping = tune.EarlyStopping(patience=3)
    for loss in (0.70, 0.69, 0.695, 0.694, 0.693):  # no better round for 3 rounds after round 2
        stopping.add(loss)
    assert stopping.patience_over and stopping.best_round == 2

    stopping.add(0.60)  # a booster that keeps running for another fold finds a lower loss

    assert stopping.best_round == 2  # lgb.train would have stopped at round 5 and kept round 2
    assert stopping.best == 0.60  # the optimistic score sees every round


def test_early_stopping_matches_lightgbm_on_a_real_curve(frame: pd.DataFrame) -> None:
    params = {
        **train.DEFAULT_PARAMS,
        "learning_rate": 0.2,
        "num_leaves": 32,
        "min_data_in_leaf": 20,
    }
    train_set = train._dataset(frame[frame["season"] < 2017], train.MONEYLINE, params)
    valid_set = train._dataset(frame[frame["season"] == 2017], train.MONEYLINE, params)
    curve: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        {**train._lgb_params(train.MONEYLINE, params, 7), "num_threads": 1},
        train_set,
        num_boost_round=500,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(20, verbose=False), lgb.record_evaluation(curve)],
    )
    stopping = tune.EarlyStopping(patience=20)
    for loss in curve["valid_0"]["binary_logloss"]:
        stopping.add(loss)

    assert stopping.patience_over
    assert stopping.best_round == booster.best_iteration
