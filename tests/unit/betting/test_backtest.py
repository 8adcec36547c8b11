"""Unit tests for the moneyline backtest in bullpen.betting.backtest.

The frames below are hand-built unit-test inputs with made-up prices, not real game data.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bullpen.betting.backtest import BET_COLUMNS, BacktestConfig, run_backtest

NAN = float("nan")
COLUMNS = [
    "game_date",
    "game_id",
    "p_model",
    "home_open_ml",
    "away_open_ml",
    "home_close_ml",
    "away_close_ml",
    "home_win",
]


def _decimal(american: float) -> float:
    return 1 + american / 100 if american > 0 else 1 + 100 / -american


def _implied(american: float) -> float:
    return 1 / _decimal(american)


def _shin_two_way(price_a: float, price_b: float) -> float:
    # Two-way Shin equals the additive method: remove half the margin from each side.
    return (1 + _implied(price_a) - _implied(price_b)) / 2


def _handbuilt_games() -> pd.DataFrame:
    """Hand-built unit-test input: two dates, three bets, three skipped games, rows shuffled."""
    rows = [
        # date, id, p_model, home_open, away_open, home_close, away_close, home_win
        ("2024-04-02", 7, 0.45, 150, -170, 160, -180, 0),  # bet home +150, loses
        ("2024-04-01", 1, 0.60, -110, -110, -130, 110, 1),  # bet home -110, wins
        ("2024-04-01", 2, 0.50, -140, 120, 100, 100, 1),  # bet away +120, loses
        ("2024-04-01", 3, 0.51, -110, -110, -110, -110, 0),  # edge 0.01: no bet
        ("2024-04-01", 4, 0.90, -110, -110, NAN, -110, 1),  # skipped: missing close
        ("2024-04-01", 5, 0.90, 50, -110, -110, -110, 1),  # skipped: impossible price
        ("2024-04-01", 6, 0.90, -110, -110, -110, -110, NAN),  # skipped: no result
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _cents(amount: float) -> float:
    """Stakes are whole cents, rounded down (the ledger's rule)."""
    return math.floor(amount * 100 + 1e-9) / 100


def _expected_day_one() -> dict[str, float]:
    """Hand arithmetic for 2024-04-01 with the default config (quarter Kelly, 3% cap)."""
    # Game 1: fair 0.5, p=0.60 at 1.909: full Kelly 0.16 -> quarter 0.04 -> capped at 3%.
    stake_1 = _cents(100.0 * 0.03)
    profit_1 = stake_1 * (_decimal(-110) - 1)
    # Game 2: away p=0.50 at 2.2: full Kelly 0.5 - 0.5/1.2 = 1/12 -> quarter 1/48 of 100.
    stake_2 = _cents(100.0 * (0.5 - 0.5 / 1.2) * 0.25)  # 2.0833.. -> 2.08
    profit_2 = -stake_2
    return {
        "stake_1": stake_1,
        "profit_1": profit_1,
        "stake_2": stake_2,
        "profit_2": profit_2,
        "bankroll": 100.0 + profit_1 + profit_2,
    }


def test_run_backtest_bankroll_arithmetic_is_exact() -> None:
    result = run_backtest(_handbuilt_games(), BacktestConfig())
    day_one = _expected_day_one()
    stake_7 = _cents(day_one["bankroll"] * (0.45 - 0.55 / 1.5) * 0.25)
    final = day_one["bankroll"] - stake_7

    assert result.n_bets == 3
    assert list(result.bets["game_id"]) == [1, 2, 7]
    assert list(result.bets["side"]) == ["home", "away", "home"]
    np.testing.assert_allclose(
        result.bets["stake"], [day_one["stake_1"], day_one["stake_2"], stake_7], rtol=1e-12
    )
    np.testing.assert_allclose(
        result.bets["profit"], [day_one["profit_1"], day_one["profit_2"], -stake_7], rtol=1e-12
    )
    np.testing.assert_allclose(
        result.bets["bankroll_after"],
        [100.0 + day_one["profit_1"], day_one["bankroll"], final],
        rtol=1e-12,
    )
    assert result.final_bankroll == pytest.approx(final, rel=1e-12)
    assert result.total_staked == pytest.approx(day_one["stake_1"] + day_one["stake_2"] + stake_7)
    assert result.profit == pytest.approx(final - 100.0, rel=1e-12)
    assert result.roi == pytest.approx(result.profit / result.total_staked)
    assert result.n_skipped == 3


def test_run_backtest_bets_have_expected_columns_and_edges() -> None:
    bets = run_backtest(_handbuilt_games(), BacktestConfig()).bets
    assert list(bets.columns) == list(BET_COLUMNS)
    away = bets.set_index("game_id").loc[2]
    assert away["p_model"] == pytest.approx(0.5)
    assert away["p_open_fair"] == pytest.approx(1 - _shin_two_way(-140, 120))
    assert away["edge"] == pytest.approx(0.5 - (1 - _shin_two_way(-140, 120)))
    assert away["price_decimal"] == pytest.approx(2.2)


def test_run_backtest_sizes_same_day_bets_from_start_of_day_bankroll() -> None:
    result = run_backtest(_handbuilt_games(), BacktestConfig())
    day_one = _expected_day_one()
    second_bet = result.bets.set_index("game_id").loc[2]
    # Game 1 won first, but game 2 is still sized from the 100.0 the day started with.
    assert second_bet["stake"] == pytest.approx(day_one["stake_2"], rel=1e-12)
    assert second_bet["stake"] != pytest.approx(
        (100.0 + day_one["profit_1"]) * (0.5 - 0.5 / 1.2) * 0.25, rel=1e-9
    )
    # The next date is sized from the end-of-day bankroll.
    third_bet = result.bets.set_index("game_id").loc[7]
    assert third_bet["stake"] == pytest.approx(
        _cents(day_one["bankroll"] * (0.45 - 0.55 / 1.5) * 0.25), rel=1e-12
    )


def test_run_backtest_clv_sign_follows_line_movement() -> None:
    bets = run_backtest(_handbuilt_games(), BacktestConfig()).bets.set_index("game_id")
    # Took +120 (2.2); the close was +100/+100, fair 2.0: CLV = 2.2 / 2.0 - 1 = +10%.
    assert bets.loc[2, "clv"] == pytest.approx(0.10)
    # Took -110 and the home side closed shorter at -130/+110: positive CLV.
    assert bets.loc[1, "clv"] == pytest.approx(_decimal(-110) * _shin_two_way(-130, 110) - 1)
    assert bets.loc[1, "clv"] > 0
    # Took +150 and it drifted to +160/-180: negative CLV.
    assert bets.loc[7, "clv"] == pytest.approx(2.5 * _shin_two_way(160, -180) - 1)
    assert bets.loc[7, "clv"] < 0


def test_run_backtest_bankroll_curve_and_drawdown() -> None:
    result = run_backtest(_handbuilt_games(), BacktestConfig())
    day_one = _expected_day_one()
    curve = result.bankroll_curve
    assert list(curve.index) == [pd.Timestamp("2024-04-01"), pd.Timestamp("2024-04-02")]
    assert curve.iloc[0] == pytest.approx(day_one["bankroll"], rel=1e-12)
    assert curve.iloc[-1] == pytest.approx(result.final_bankroll)
    # Peak is end of day one; day two lost a quarter-Kelly stake of 1/12 -> 1/48 of bankroll
    # (in whole cents).
    lost = _cents(day_one["bankroll"] / 48)
    assert result.max_drawdown == pytest.approx(lost / day_one["bankroll"], rel=1e-9)
    assert result.mean_clv == pytest.approx(result.bets["clv"].mean())


def test_run_backtest_zero_bets_reports_zero_roi_and_nan_clv() -> None:
    no_edge_games = pd.DataFrame(
        [
            ("2024-05-01", 10, 0.5, -110, -110, -110, -110, 1),
            ("2024-05-02", 11, 0.5, 100, -100, 100, -100, 0),
        ],
        columns=COLUMNS,
    )
    result = run_backtest(no_edge_games, BacktestConfig())
    assert result.n_bets == 0
    assert result.bets.empty and list(result.bets.columns) == list(BET_COLUMNS)
    assert result.roi == 0.0
    assert math.isnan(result.mean_clv)
    assert result.total_staked == 0.0 and result.profit == 0.0
    assert result.final_bankroll == 100.0
    assert result.max_drawdown == 0.0
    assert list(result.bankroll_curve) == [100.0, 100.0]


def test_run_backtest_handles_empty_frame() -> None:
    result = run_backtest(pd.DataFrame(columns=COLUMNS), BacktestConfig())
    assert result.n_bets == 0 and result.bankroll_curve.empty
    assert result.final_bankroll == 100.0 and result.max_drawdown == 0.0


def test_a_days_bets_share_the_bankroll_first_come_in_game_id_order() -> None:
    """The live ledger's rule: each bet takes what the bets before it left of the day's limit."""
    big_edge_games = pd.DataFrame(
        [("2024-06-01", i, 0.9, -110, -110, -110, -110, 1) for i in (2, 0, 1)],
        columns=COLUMNS,
    )
    config = BacktestConfig(kelly_multiplier=1.0, max_stake_fraction=0.5)
    result = run_backtest(big_edge_games, config)
    assert list(result.bets["game_id"]) == [0, 1]  # game 2 found the day's bankroll used up
    np.testing.assert_allclose(result.bets["stake"], [50.0, 50.0])
    assert result.total_staked == pytest.approx(100.0)

    capped = run_backtest(big_edge_games, replace(config, max_day_exposure=0.35))
    np.testing.assert_allclose(capped.bets["stake"], [35.0])  # the rest of the day gets nothing
    assert list(capped.bets["game_id"]) == [0]


def test_run_backtest_away_side_when_model_likes_underdog_away() -> None:
    games = pd.DataFrame(
        [("2024-07-01", 1, 0.30, -200, 170, -200, 170, 0)],
        columns=COLUMNS,
    )
    bets = run_backtest(games, BacktestConfig(devig_method="proportional")).bets
    assert list(bets["side"]) == ["away"]
    fair_away = _implied(170) / (_implied(-200) + _implied(170))
    assert bets["p_open_fair"].iloc[0] == pytest.approx(fair_away)
    assert bets["profit"].iloc[0] == pytest.approx(bets["stake"].iloc[0] * 1.7)


def test_run_backtest_rejects_missing_columns() -> None:
    with pytest.raises(ValueError, match="home_win"):
        run_backtest(_handbuilt_games().drop(columns="home_win"), BacktestConfig())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"edge_threshold": -0.01},
        {"kelly_multiplier": -1.0},
        {"max_stake_fraction": 1.5},
        {"starting_bankroll": 0.0},
        {"devig_method": "additive"},
    ],
)
def test_backtest_config_rejects_invalid_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        BacktestConfig(**kwargs)
