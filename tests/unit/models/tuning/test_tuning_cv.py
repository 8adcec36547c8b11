"""Walk-forward folds, cross-validation as train_model scores it, early stopping; offline."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from bullpen.models import train
from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.tuning import cv


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
    folds = cv.season_folds(seasons, eval_season, n_folds)

    assert len(folds) == n_folds
    earlier = sorted(s for s in seasons if s < eval_season)
    assert [f.valid_season for f in folds] == earlier[-n_folds:]
    for fold in folds:
        assert len(fold.train_seasons) >= 2  # the last one picks train_model's rounds
        assert max(fold.train_seasons) < fold.valid_season < eval_season
        # Expanding window: every earlier season, nothing later.
        assert list(fold.train_seasons) == [s for s in earlier if s < fold.valid_season]


def test_season_folds_reject_too_few_seasons() -> None:
    with pytest.raises(cv.TooFewSeasons, match="3 folds need 5 seasons before 2019"):
        cv.season_folds([2015, 2016, 2017, 2018, 2019, 2020], 2019, 3)


def test_cross_validate_never_reads_the_evaluation_season(
    eval_season: int, frame: pd.DataFrame
) -> None:
    folds = cv.season_folds(frame["season"], eval_season, 2)
    scrambled = frame.copy()
    later = scrambled["season"] >= eval_season
    scrambled.loc[later, "home_win"] = 1.0 - scrambled.loc[later, "home_win"]
    scrambled.loc[later, list(train.MONEYLINE_FEATURES)] = np.nan

    honest = cv.cross_validate(cv.prepare_folds(frame, train.MONEYLINE, folds), train.MONEYLINE, {})
    other = cv.cross_validate(
        cv.prepare_folds(scrambled, train.MONEYLINE, folds), train.MONEYLINE, {}
    )

    assert other == honest
    data = cv.prepare_folds(frame, train.MONEYLINE, folds)
    assert sorted(data.seasons) == [2015, 2016, 2017]  # 2015 only picks the rounds for 2016
    for season, rows in data.seasons.items():
        assert rows.train["season"].max() < season < eval_season
        assert set(rows.valid["season"]) == {season}


@pytest.mark.parametrize("shared_cache", [False, True])
def test_cross_validate_scores_folds_as_train_model_would(
    eval_season: int, frame: pd.DataFrame, shared_cache: bool
) -> None:
    folds = cv.season_folds(frame["season"], eval_season, 2)
    data = cv.prepare_folds(frame, train.MONEYLINE, folds)
    cache: cv.DatasetCache | None = {} if shared_cache else None
    configs = [
        {"learning_rate": 0.1, "num_leaves": 16, "min_data_in_leaf": 300},
        {"learning_rate": 0.05, "num_leaves": 4, "min_data_in_leaf": 60, "extra_trees": True},
        {"learning_rate": 0.1, "num_leaves": 16, "min_data_in_leaf": 300, "max_bin": 15},
    ]
    for config in configs:  # a shared cache reuses the binned data of earlier configurations
        params = {**train.DEFAULT_PARAMS, **config}
        result = cv.cross_validate(data, train.MONEYLINE, params, cache=cache)

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


def test_cross_validate_defaults_match_train_model(eval_season: int, frame: pd.DataFrame) -> None:
    folds = cv.season_folds(frame["season"], eval_season, 2)

    result = cv.cross_validate(cv.prepare_folds(frame, train.MONEYLINE, folds), train.MONEYLINE, {})

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


def test_early_stopping_keeps_its_round_once_patience_runs_out() -> None:
    stopping = cv.EarlyStopping(patience=3)
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
    stopping = cv.EarlyStopping(patience=20)
    for loss in curve["valid_0"]["binary_logloss"]:
        stopping.add(loss)

    assert stopping.patience_over
    assert stopping.best_round == booster.best_iteration
