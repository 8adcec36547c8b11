"""Details of run_backtest that the money tests left open (found by mutation testing): input
coercion and skipping, the shape of the result frames, the exposure cap on small bankrolls,
ROI on stakes under one unit, and the messages of invalid settings. Frames are made up."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bullpen.betting.backtest import BET_COLUMNS, BacktestConfig, run_backtest

COLUMNS = [
    "game_date", "game_id", "p_model", "home_open_ml", "away_open_ml",
    "home_close_ml", "away_close_ml", "home_win",
]  # fmt: skip


def _implied(american: float) -> float:
    return 1 / (1 + american / 100 if american > 0 else 1 + 100 / -american)


def _games(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def test_unparseable_probability_or_result_is_skipped_not_raised() -> None:
    games = _games(
        [
            ("2024-07-01", 1, "n/a", -110, -110, -110, -110, 1),
            ("2024-07-01", 2, 0.6, -110, -110, -110, -110, "pending"),
            ("2024-07-01", 3, 1.5, -110, -110, -110, -110, 1),  # not a probability
            ("2024-07-01", 4, 0.9, -110, 50, -110, -110, 1),  # impossible away open price
            ("2024-07-01", 5, 0.9, -110, -110, -110, 50, 1),  # impossible away close price
            ("2024-07-01", 6, 0.6, 100, -100, 100, -100, 1),  # the one valid game
        ]
    )
    result = run_backtest(games, BacktestConfig())
    assert result.n_skipped == 5
    assert list(result.bets["game_id"]) == [6]


def test_bets_are_numbered_from_zero_across_days() -> None:
    games = _games(
        [
            ("2024-07-02", 3, 0.6, 100, -100, 100, -100, 1),
            ("2024-07-01", 0, 0.5, 100, -100, 100, -100, 1),  # eligible, no edge: no bet
            ("2024-07-01", 1, 0.6, 100, -100, 100, -100, 1),
            ("2024-07-01", 2, 0.6, 100, -100, 100, -100, 0),
        ]
    )
    bets = run_backtest(games, BacktestConfig()).bets
    assert list(bets.index) == [0, 1, 2]
    assert list(bets["game_id"]) == [1, 2, 3]


def test_empty_bankroll_curve_is_still_float() -> None:
    curve = run_backtest(_games([]), BacktestConfig()).bankroll_curve
    assert curve.empty and curve.dtype == np.float64 and curve.name == "bankroll"


def test_result_frames_have_fixed_names_and_dtypes() -> None:
    games = _games([("2024-07-01", 1, 0.6, 100, -100, 100, -100, 1)])
    result = run_backtest(games, BacktestConfig())
    assert result.bankroll_curve.name == "bankroll"
    assert result.bankroll_curve.index.name == "game_date"
    assert result.bankroll_curve.dtype == np.float64
    assert result.starting_bankroll == 100.0


def test_empty_bets_frame_has_the_same_dtypes_as_a_full_one() -> None:
    empty = run_backtest(_games([]), BacktestConfig()).bets
    assert list(empty.columns) == list(BET_COLUMNS)
    assert str(empty["game_date"].dtype) == "datetime64[ns]"
    assert empty["game_id"].dtype == object and empty["side"].dtype == object
    numeric = [c for c in BET_COLUMNS if c not in ("game_date", "game_id", "side")]
    assert all(empty[c].dtype == np.float64 for c in numeric)


def test_roi_is_reported_on_stakes_below_one_unit() -> None:
    # Bankroll 10: quarter Kelly of 0.02 at evens stakes 0.05, and it wins.
    games = _games([("2024-07-01", 1, 0.51, 100, -100, 100, -100, 1)])
    result = run_backtest(games, BacktestConfig(starting_bankroll=10.0, edge_threshold=0.0))
    assert result.total_staked == pytest.approx(0.05)
    assert result.roi == pytest.approx(1.0)


def test_day_exposure_cap_applies_to_a_bankroll_below_one_unit() -> None:
    games = _games([("2024-06-01", i, 0.9, -110, -110, -110, -110, 1) for i in range(3)])
    config = BacktestConfig(kelly_multiplier=1.0, max_stake_fraction=0.5, starting_bankroll=0.9)
    bets = run_backtest(games, config).bets
    np.testing.assert_allclose(bets["stake"], [0.45, 0.45])  # first come: game 2 gets nothing
    assert list(bets["game_id"]) == [0, 1]


def test_close_is_devigged_with_the_configured_method() -> None:
    # Away +130 taken, close -170/+150; proportional fair away = 0.4 / (170/270 + 0.4).
    games = _games([("2024-07-01", 1, 0.40, -150, 130, -170, 150, 0)])
    bets = run_backtest(games, BacktestConfig(devig_method="proportional")).bets
    fair_away = _implied(150) / (_implied(-170) + _implied(150))
    assert bets["clv"].iloc[0] == pytest.approx(2.3 * fair_away - 1, rel=1e-12)


def test_no_bets_means_nan_mean_clv() -> None:
    games = _games([("2024-07-01", 1, 0.5, 100, -100, 100, -100, 1)])
    result = run_backtest(games, BacktestConfig())
    assert result.n_bets == 0 and math.isnan(result.mean_clv)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"edge_threshold": -0.01}, "edge_threshold must be >= 0"),
        ({"kelly_multiplier": -1.0}, "kelly_multiplier must be >= 0"),
        ({"max_stake_fraction": 1.5}, r"max_stake_fraction must be in \[0, 1\]"),
        ({"max_stake_fraction": -0.1}, r"max_stake_fraction must be in \[0, 1\]"),
        ({"max_day_exposure": 0.0}, r"max_day_exposure must be in \(0, 1\]"),
        ({"max_day_exposure": 1.5}, r"max_day_exposure must be in \(0, 1\]"),
        ({"starting_bankroll": 0.0}, "starting_bankroll must be > 0"),
        (
            {"devig_method": "additive"},
            r"devig_method must be one of \('proportional', 'power', 'shin'\)",
        ),
    ],
)
def test_invalid_settings_name_the_setting(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        BacktestConfig(**kwargs)
