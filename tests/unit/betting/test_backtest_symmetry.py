"""Home/away symmetry and the exact boundaries of the backtest's betting rule.

The backtest must not care which side is called "home": mirroring every game (model probability
p -> 1 - p, the two prices of each pair exchanged, the result flipped) must bet the other side
with the same stake, profit and CLV. This is what catches an away bet settled or valued with the
home side's numbers (e.g. the home closing probability used for an away bet's CLV), which a
symmetric closing line such as +100/+100 cannot reveal. All frames here are made up.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bullpen.betting.backtest import BacktestConfig, run_backtest
from bullpen.features.odds import devig_two_way

COLUMNS = [
    "game_date", "game_id", "p_model", "home_open_ml", "away_open_ml",
    "home_close_ml", "away_close_ml", "home_win",
]  # fmt: skip


def _decimal(american: float) -> float:
    return 1 + american / 100 if american > 0 else 1 + 100 / -american


def _implied(american: float) -> float:
    return 1 / _decimal(american)


def _shin_two_way(price_a: float, price_b: float) -> float:
    # Two-way Shin equals the additive method: remove half the margin from each side.
    return (1 + _implied(price_a) - _implied(price_b)) / 2


def _mirror(games: pd.DataFrame) -> pd.DataFrame:
    """The same games with home and away exchanged."""
    return games.assign(
        p_model=1.0 - games["p_model"],
        home_open_ml=games["away_open_ml"],
        away_open_ml=games["home_open_ml"],
        home_close_ml=games["away_close_ml"],
        away_close_ml=games["home_close_ml"],
        home_win=1 - games["home_win"],
    )


# American prices a book could post: favourites -400..-101, underdogs +100..+400.
_price = st.one_of(st.integers(-400, -101), st.integers(100, 400)).map(float)
_game = st.tuples(
    st.integers(0, 3),  # day offset: several games share a date
    st.floats(0.02, 0.98),
    _price,
    _price,
    _price,
    _price,
    st.sampled_from([0, 1]),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(_game, min_size=1, max_size=12),
    threshold=st.floats(0.0, 0.1),
    multiplier=st.floats(0.1, 1.0),
    cap=st.floats(0.01, 0.6),
    method=st.sampled_from(["shin", "proportional", "power"]),
)
def test_backtest_is_unchanged_when_home_and_away_are_swapped(
    rows: list[tuple], threshold: float, multiplier: float, cap: float, method: str
) -> None:
    games = pd.DataFrame(
        [
            (pd.Timestamp("2024-04-01") + pd.Timedelta(days=d), i, p, ho, ao, hc, ac, w)
            for i, (d, p, ho, ao, hc, ac, w) in enumerate(rows)
        ],
        columns=COLUMNS,
    )
    config = BacktestConfig(
        edge_threshold=threshold, kelly_multiplier=multiplier, max_stake_fraction=cap,
        devig_method=method,
    )  # fmt: skip
    original = run_backtest(games, config)
    mirrored = run_backtest(_mirror(games), config)

    a = original.bets.set_index("game_id")
    b = mirrored.bets.set_index("game_id")
    # A game whose edge sits within rounding of the threshold may be bet on one side only.
    only_one = a.index.symmetric_difference(b.index)
    for game_id in only_one:
        edge = (a if game_id in a.index else b).loc[game_id, "edge"]
        assert edge == pytest.approx(threshold, abs=1e-9)
    if only_one.empty:
        assert len(a) == len(b) == original.n_bets
        b = b.loc[a.index]
        flipped = {"home": "away", "away": "home"}
        assert list(b["side"]) == [flipped[s] for s in a["side"]]
        columns = ["p_model", "p_open_fair", "edge", "price_decimal", "stake", "profit", "clv"]
        columns += [c for c in ("clv_pp", "ev_close") if c in a.columns]
        for column in columns:
            np.testing.assert_allclose(b[column], a[column], rtol=1e-9, atol=1e-12)
        assert mirrored.final_bankroll == pytest.approx(original.final_bankroll, rel=1e-9)
        assert mirrored.profit == pytest.approx(original.profit, rel=1e-9, abs=1e-12)
        if original.n_bets:
            assert mirrored.mean_clv == pytest.approx(original.mean_clv, rel=1e-9, abs=1e-12)


def test_away_bet_with_asymmetric_close_is_valued_with_the_away_closing_probability() -> None:
    """Hand arithmetic: away +130 taken at open, the line moves to -170/+150 by the close."""
    games = pd.DataFrame([("2024-07-01", 1, 0.40, -150, 130, -170, 150, 0)], columns=COLUMNS)
    bets = run_backtest(games, BacktestConfig()).bets
    assert list(bets["side"]) == ["away"]
    bet = bets.iloc[0]
    p_open_away = 1 - _shin_two_way(-150, 130)  # 1 - (1 + 0.6 - 1/2.3) / 2 = 0.41739
    assert bet["p_open_fair"] == pytest.approx(p_open_away, rel=1e-12)
    assert bet["edge"] == pytest.approx(0.60 - p_open_away, rel=1e-12)
    assert bet["price_decimal"] == pytest.approx(2.3)
    # Quarter Kelly of 0.6 - 0.4 / 1.3 = 0.2923 is 7.3 %, capped at 3 % of 100.
    assert bet["stake"] == pytest.approx(3.0, rel=1e-12)
    assert bet["profit"] == pytest.approx(3.0 * 1.3, rel=1e-12)
    # The away side closed longer (+150): fair away 1 - (1 + 170/270 - 0.4) / 2 = 0.38519, so
    # the +130 taken was worse than the close: CLV = 2.3 * 0.38519 - 1 = -11.4 %.
    p_close_away = 1 - _shin_two_way(-170, 150)
    assert bet["clv"] == pytest.approx(2.3 * p_close_away - 1, rel=1e-12)
    assert bet["clv"] == pytest.approx(-0.114074, abs=1e-6)


def test_away_bet_that_loses_costs_its_stake() -> None:
    games = pd.DataFrame([("2024-07-01", 1, 0.40, -150, 130, -170, 150, 1)], columns=COLUMNS)
    result = run_backtest(games, BacktestConfig())
    assert result.bets["profit"].iloc[0] == pytest.approx(-3.0, rel=1e-12)
    assert result.final_bankroll == pytest.approx(97.0, rel=1e-12)


def _edge_of(p_model: float, home: float, away: float) -> float:
    # The edge exactly as the backtest computes it: model minus vig-free opening probability.
    return p_model - float(devig_two_way(np.array([home]), np.array([away]), "shin")[0])


@pytest.mark.parametrize("side", ["home", "away"])
def test_edge_exactly_at_the_threshold_is_not_bet(side: str) -> None:
    p_model = 0.60 if side == "home" else 0.40
    edge = abs(_edge_of(p_model, -120, 105))
    games = pd.DataFrame([("2024-07-01", 1, p_model, -120, 105, -120, 105, 1)], columns=COLUMNS)
    at = run_backtest(games, BacktestConfig(edge_threshold=edge))
    assert at.n_bets == 0
    below = run_backtest(games, BacktestConfig(edge_threshold=math.nextafter(edge, 0.0)))
    assert below.n_bets == 1 and below.bets["side"].iloc[0] == side


def test_zero_threshold_bets_any_positive_edge_and_no_even_game() -> None:
    games = pd.DataFrame(
        [
            ("2024-07-01", 1, 0.5, 100, -100, 100, -100, 1),  # edge exactly 0: no bet
            ("2024-07-01", 2, 0.51, 100, -100, 100, -100, 1),  # edge 0.01 > 0 at evens: bet
        ],
        columns=COLUMNS,
    )
    result = run_backtest(games, BacktestConfig(edge_threshold=0.0))
    assert list(result.bets["game_id"]) == [2]
    # Quarter Kelly of 0.51 - 0.49 / 1 = 0.02 at evens.
    assert result.bets["stake"].iloc[0] == pytest.approx(0.5)


def test_model_probabilities_zero_and_one_are_valid_inputs() -> None:
    games = pd.DataFrame(
        [
            ("2024-07-01", 1, 1.0, -110, -110, -110, -110, 1),  # certain home: capped stake
            ("2024-07-01", 2, 0.0, -110, -110, -110, -110, 1),  # certain away: capped stake
        ],
        columns=COLUMNS,
    )
    result = run_backtest(games, BacktestConfig())
    assert result.n_skipped == 0
    assert list(result.bets["side"]) == ["home", "away"]
    np.testing.assert_allclose(result.bets["stake"], [3.0, 3.0])


def test_stakes_equal_to_the_bankroll_are_not_scaled() -> None:
    # Two full-Kelly bets of 50 % each: exposure equals the bankroll exactly.
    games = pd.DataFrame(
        [("2024-06-01", i, 1.0, 100, -100, 100, -100, 1) for i in range(2)], columns=COLUMNS
    )
    result = run_backtest(games, BacktestConfig(kelly_multiplier=1.0, max_stake_fraction=0.5))
    np.testing.assert_allclose(result.bets["stake"], [50.0, 50.0])
    assert result.final_bankroll == pytest.approx(200.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"edge_threshold": 0.0},
        {"kelly_multiplier": 0.0},
        {"max_stake_fraction": 0.0},
        {"max_stake_fraction": 1.0},
        {"starting_bankroll": 1e-9},
        {"devig_method": "power"},
    ],
)
def test_backtest_config_accepts_boundary_settings(kwargs: dict) -> None:
    config = BacktestConfig(**kwargs)
    for key, value in kwargs.items():
        assert getattr(config, key) == value
