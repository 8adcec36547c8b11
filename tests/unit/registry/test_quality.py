"""Gate 1, data quality: each failure names its reason; clean data passes."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from bullpen.registry.quality import QualityThresholds, check_training_data

SMALL = QualityThresholds(min_train_games=100, min_eval_games=50)


def _frame(n: int, start: date, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    home = rng.integers(0, 10, n).astype(float)
    away = rng.integers(0, 10, n).astype(float)
    away[home == away] += 1
    return pd.DataFrame(
        {
            "game_date": [start + timedelta(days=int(i) // 15) for i in range(n)],
            "home_score": home,
            "away_score": away,
            "home_win": (home > away).astype(float),
            "mkt_open_home_prob": rng.uniform(0.3, 0.7, n),
            "home_open_ml": -130.0,
            "away_open_ml": 110.0,
            "home_close_ml": -135.0,
            "away_close_ml": 115.0,
        }
    )


def _check(train: pd.DataFrame, evaluation: pd.DataFrame, as_of: date | None = None):
    return check_training_data(
        train, evaluation, target="home_win", market_column="mkt_open_home_prob",
        as_of=as_of or max(evaluation["game_date"]), thresholds=SMALL,
    )  # fmt: skip


def test_check_training_data_passes_clean_data() -> None:
    report = _check(_frame(300, date(2018, 4, 1)), _frame(100, date(2019, 4, 1)))
    assert report.passed, report.reasons
    assert report.numbers["invalid_share"] == 0.0


def test_check_training_data_stops_on_low_volume() -> None:
    report = _check(_frame(50, date(2018, 4, 1)), _frame(100, date(2019, 4, 1)))
    assert not report.passed
    assert any(r.startswith("volume: 50 labelled training games") for r in report.reasons)


def test_check_training_data_stops_on_invalid_prices_and_scores() -> None:
    train = _frame(300, date(2018, 4, 1))
    train.loc[:20, "home_open_ml"] = 50.0  # |American odds| < 100 does not exist
    train.loc[21:30, "home_score"] = -1.0
    report = _check(train, _frame(100, date(2019, 4, 1)))
    assert [r for r in report.reasons if r.startswith("validity:")]


def test_check_training_data_stops_on_missing_market_and_labels() -> None:
    train = _frame(300, date(2018, 4, 1))
    train.loc[:100, "mkt_open_home_prob"] = np.nan
    report = _check(train, _frame(100, date(2019, 4, 1)))
    assert any(r.startswith("completeness:") for r in report.reasons)


def test_check_training_data_stops_on_stale_data() -> None:
    evaluation = _frame(100, date(2019, 4, 1))
    report = _check(_frame(300, date(2018, 4, 1)), evaluation, as_of=date(2019, 9, 1))
    assert any(r.startswith("freshness: newest game") for r in report.reasons)
    skipped = _check(_frame(300, date(2016, 4, 1)), evaluation)
    assert any("days between training and evaluation" in r for r in skipped.reasons)
