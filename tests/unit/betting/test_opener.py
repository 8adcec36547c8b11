"""The opener strategy on hand-computed games: bet or not, side, stake, CLV and EV at close.

Prices below are hand-built unit-test inputs (made-up numbers), not real game data.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bullpen.betting.opener import OpenerParams, bet_opener, choose_params, expected_log_growth
from bullpen.features.odds import devig_two_way


def _dec(american: float) -> float:
    return 1 + american / 100 if american > 0 else 1 + 100 / -american


def _fair_home(home: float, away: float) -> float:
    ih, ia = 1 / _dec(home), 1 / _dec(away)
    return (1 + ih - ia) / 2  # two-way Shin = half the margin off each side


def _games(rows: list[tuple]) -> pd.DataFrame:
    cols = ["game_date", "game_id", "home_open_ml", "away_open_ml", "home_close_ml",
            "away_close_ml", "home_win", "p_close_pred"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    frame["p_open_home"] = devig_two_way(frame["home_open_ml"], frame["away_open_ml"], "shin")
    frame["p_close_home"] = devig_two_way(frame["home_close_ml"], frame["away_close_ml"], "shin")
    return frame


PARAMS = OpenerParams(threshold=0.02, kelly_multiplier=0.25, max_stake_fraction=0.02)


def test_bet_side_and_stake_by_hand() -> None:
    games = _games(
        [
            ("2019-05-01", 1, -110, -110, -130, 110, 1, 0.53),  # move +3.0 pp: bet home
            ("2019-05-01", 2, -110, -110, -105, -115, 1, 0.485),  # move -1.5 pp: no bet
            ("2019-05-01", 3, -150, 130, -140, 120, 1, 0.55),  # move -3.3 pp: bet away
            ("2019-05-01", 4, -120, -120, -140, 120, 1, 0.53),  # +3 pp but no value at 1.833
        ]
    )
    result = bet_opener(games, PARAMS)
    bets = result.bets.set_index("game_id")
    assert list(bets.index) == [1, 3]

    home = bets.loc[1]
    assert home["side"] == "home"
    d = _dec(-110)
    kelly = 0.53 - 0.47 / (d - 1)
    assert home["stake"] == pytest.approx(math.floor(100 * 0.25 * kelly * 100) / 100)
    assert home["profit"] == pytest.approx(home["stake"] * (d - 1))
    assert home["clv_pp"] == pytest.approx(_fair_home(-130, 110) - 0.5)
    assert home["ev_close"] == pytest.approx(d * _fair_home(-130, 110) - 1)

    away = bets.loc[3]
    assert away["side"] == "away"
    d = _dec(130)
    kelly = 0.45 - 0.55 / (d - 1)
    assert away["stake"] == pytest.approx(math.floor(100 * 0.25 * kelly * 100) / 100)
    assert away["profit"] == pytest.approx(-away["stake"])  # home won
    p_open_away = 1 - _fair_home(-150, 130)
    p_close_away = 1 - _fair_home(-140, 120)
    assert away["clv_pp"] == pytest.approx(p_close_away - p_open_away)
    assert away["ev_close"] == pytest.approx(d * p_close_away - 1)
    assert away["clv_pp"] > 0  # the market moved towards the away side, as predicted


def test_threshold_boundary_is_strict() -> None:
    # A predicted move of exactly the threshold does not bet; a hair more does.
    # (binary fractions, so the subtraction is exact)
    params = OpenerParams(threshold=0.03125, kelly_multiplier=0.25, max_stake_fraction=0.02)
    base = _games([("2019-05-01", 1, 100, 100, 100, 100, 1, 0.53125)])
    assert bet_opener(base, params).n_bets == 0
    more = _games([("2019-05-01", 1, 100, 100, 100, 100, 1, 0.53125 + 1e-9)])
    assert bet_opener(more, params).n_bets == 1


def test_caps_per_bet_and_per_day() -> None:
    rows = [("2019-05-01", i, 150, 150, 140, 160, i % 2, 0.70) for i in range(1, 21)]
    result = bet_opener(_games(rows), PARAMS)
    # Each bet is capped at 2 % of 100; 20 of them (40) exceed the 20 % day cap, so the first
    # ten in game id order take it whole and the other ten get nothing (first come).
    assert result.n_bets == 10
    assert list(result.bets["game_id"]) == list(range(1, 11))
    assert result.bets["stake"].sum() == pytest.approx(20.0)
    assert result.bets["stake"].max() == pytest.approx(2.0)


def test_swapping_home_and_away_changes_nothing_but_the_side() -> None:
    rows = [
        ("2019-05-01", 1, -110, -105, -130, 110, 1, 0.53),
        ("2019-05-01", 2, -160, 140, -140, 120, 0, 0.56),
        ("2019-05-02", 3, 120, -140, 135, -155, 1, 0.47),
    ]
    swapped = [(d, i, a, h, ac, hc, 1 - w, 1 - p) for d, i, h, a, hc, ac, w, p in rows]
    one = bet_opener(_games(rows), PARAMS).bets
    two = bet_opener(_games(swapped), PARAMS).bets
    assert len(one) == len(two) > 0
    for col in ("stake", "profit", "clv_pp", "ev_close", "bankroll_after"):
        assert one[col].to_numpy() == pytest.approx(two[col].to_numpy())
    assert (one["side"].to_numpy() != two["side"].to_numpy()).all()


def test_choose_params_uses_only_the_selection_games() -> None:
    # On games where the market really closed where predicted, betting is worth it; choose_params
    # must find a setting with bets. With too few selection games it keeps the defaults.
    rows = [("2018-05-01", i, -110, -110, -135, 115, i % 2, 0.56) for i in range(1, 80)]
    games = _games(rows)
    growth, n = expected_log_growth(games, 0.02, 0.25, 0.02)
    assert n == 79 and growth > 0
    params, why = choose_params(games, PARAMS)
    assert "maximised" in why
    assert params.kelly_multiplier == 0.5  # true edge: the largest multiplier grows most
    few, why_few = choose_params(games.head(10), PARAMS)
    assert few == PARAMS and "fewer than" in why_few


def test_choose_params_abstains_when_nothing_grew_at_the_close() -> None:
    # The market closed against every predicted move: no setting has positive growth.
    rows = [("2018-05-01", i, -110, -110, 115, -135, i % 2, 0.56) for i in range(1, 80)]
    params, why = choose_params(_games(rows), PARAMS)
    assert "no bets" in why
    assert bet_opener(_games(rows), params).n_bets == 0
