"""Live decisions (bullpen.betting.live) against the backtest's: the same games, sides and prices
when the live market at decision time is the backtest's opening price.

Prices and predictions are seeded random test inputs (made-up numbers), not real game data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from bullpen.betting.backtest import run_backtest
from bullpen.betting.kelly import stake, whole_cents
from bullpen.betting.live import (
    choose_side,
    decide,
    missing_by_game,
    missing_counts,
    open_totals,
    upcoming_games,
)
from bullpen.betting.opener import ABSTAIN, OpenerParams, strategy_frame
from bullpen.features.odds import american_to_decimal_array, decimal_to_american_array
from bullpen.market.lines import LineSettings, build_lines

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)


def _american(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-way prices with a 3-6 % margin around a home probability in [0.3, 0.7]."""
    p = rng.uniform(0.3, 0.7, n)
    margin = rng.uniform(1.03, 1.06, n)
    home = decimal_to_american_array(1 / (p * margin))
    away = decimal_to_american_array(1 / ((1 - p) * margin))
    return np.round(home), np.round(away)


def _season(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    home_open, away_open = _american(rng, n)
    home_close, away_close = _american(rng, n)
    from bullpen.features.odds import devig_two_way

    p_open = devig_two_way(home_open, away_open, "shin")
    return pd.DataFrame(
        {
            "game_date": pd.Timestamp("2030-06-02") + pd.to_timedelta(np.arange(n) // 15, "D"),
            "game_id": np.arange(1, n + 1),
            "home_open_ml": home_open,
            "away_open_ml": away_open,
            "home_close_ml": home_close,
            "away_close_ml": away_close,
            "home_win": rng.integers(0, 2, n).astype(float),
            "p_close_pred": np.clip(p_open + rng.normal(0, 0.03, n), 0.01, 0.99),
        }
    )


def _lines_at_open(  # type: ignore[no-untyped-def]
    games: pd.DataFrame, settings: LineSettings, pitch_order: int = 0
):
    """One book quoting each game's opening prices a minute before NOW; pitch_order -1 starts a
    higher game id a minute earlier."""
    snaps = pd.DataFrame(
        {
            "event_id": games["game_id"].astype(str),
            "commence_time": pd.to_datetime(games["game_date"]).dt.tz_localize(UTC)
            + pd.Timedelta(hours=23)
            + pd.to_timedelta(pitch_order * games["game_id"], unit="min"),
            "book": "sbr",
            "last_update": NOW - timedelta(minutes=1),
            "home_american": games["home_open_ml"],
            "away_american": games["away_open_ml"],
            "game_id": games["game_id"].astype("Int64"),
        }
    )
    return build_lines(snaps, NOW, settings)


def _decide(games: pd.DataFrame, params: OpenerParams, lines):  # type: ignore[no-untyped-def]
    upcoming = upcoming_games(lines).merge(
        games.assign(away_team="A", home_team="H")[["game_id", "game_date", "away_team",
                                                    "home_team"]],
        on="game_id",
    )  # fmt: skip
    scores = dict(zip(games["game_id"], games["p_close_pred"], strict=True))
    return decide(upcoming, lines, scores, {}, params, model_version="1", strategy="s")


@pytest.mark.parametrize("threshold", [0.0, 0.01, 0.02, 0.04])
def test_live_picks_equal_the_backtests_bets_at_the_open(threshold: float) -> None:
    games = _season()
    params = OpenerParams(threshold=threshold, kelly_multiplier=0.25, devig_method="shin")
    backtest = run_backtest(strategy_frame(games), params.backtest_config())
    expected = {
        (int(b.game_id), b.side, round(b.price_decimal, 6)) for b in backtest.bets.itertuples()
    }
    assert len(expected) > 10

    _, picks = _decide(games, params, _lines_at_open(games, LineSettings(devig_method="shin")))
    # The backtest drops bets whose stake is under a cent at that day's starting bankroll; the
    # ledger refuses them (no_stake).
    config = params.backtest_config()
    curve = backtest.bankroll_curve
    day_of = dict(zip(games["game_id"], pd.to_datetime(games["game_date"]), strict=True))

    def start_of_day(game_id: int) -> float:
        before = curve[curve.index < day_of[game_id]]
        return float(before.iloc[-1]) if len(before) else config.starting_bankroll

    staked = {
        (p.game_id, p.side, round(p.price_decimal, 6))
        for p in picks
        if whole_cents(
            stake(
                start_of_day(p.game_id), p.p_side, p.price_decimal,
                config.kelly_multiplier, config.max_stake_fraction,
            )
        ) > 0
    }  # fmt: skip
    assert staked == expected
    assert len(picks) > len(staked) or threshold > 0  # some picks fall under a cent at 0.0


def test_picks_come_in_game_id_order_whatever_the_first_pitches() -> None:
    """The order the ledger gives a day's picks the exposure room, as the backtest does."""
    games = _season(n=40)
    lines = _lines_at_open(games, LineSettings(devig_method="shin"), pitch_order=-1)
    decisions, picks = _decide(games, OpenerParams(threshold=0.0), lines)
    assert len(picks) > 5
    assert [p.game_id for p in picks] == sorted(p.game_id for p in picks)
    pitches = [d.commence_time for d in decisions]
    assert pitches == sorted(pitches)  # decisions stay in first-pitch order
    assert [d.game_id for d in decisions] != sorted(d.game_id for d in decisions)


def test_choose_side_is_the_backtests_rule_and_ties_go_home() -> None:
    assert choose_side(0.55, 0.50) == ("home", pytest.approx(0.05))
    assert choose_side(0.45, 0.50) == ("away", pytest.approx(0.05))
    assert choose_side(0.50, 0.50) == ("home", 0.0)


def test_stale_unscored_abstaining_and_threshold_games_give_no_pick() -> None:
    games = _season(n=30, seed=5)
    lines = _lines_at_open(games, LineSettings(max_age=timedelta(seconds=30), devig_method="shin"))
    decisions, picks = _decide(games, OpenerParams(threshold=0.0), lines)
    assert not picks and {d.outcome for d in decisions} == {"no_fresh_quote"}

    fresh = _lines_at_open(games, LineSettings(devig_method="shin"))
    decisions, picks = _decide(games, OpenerParams(threshold=ABSTAIN), fresh)
    assert not picks and {d.outcome for d in decisions} == {"abstain"}

    # A threshold equal to a game's edge does not bet it (the backtest's strict >).
    decisions, _ = _decide(games, OpenerParams(threshold=0.0), fresh)
    first = decisions[0]
    assert first.edge is not None and first.edge > 0
    again, picks = _decide(games, OpenerParams(threshold=first.edge), fresh)
    by_game = {d.game_id: d for d in again}
    assert by_game[first.game_id].outcome == "no_edge"
    assert first.game_id not in {p.game_id for p in picks}

    unscored = games.copy()
    unscored.loc[0, "p_close_pred"] = np.nan
    upcoming = upcoming_games(fresh).merge(
        unscored.assign(away_team="A", home_team="H")[["game_id", "game_date", "away_team",
                                                       "home_team"]],
        on="game_id",
    )  # fmt: skip
    scores = {
        int(g): float(p)
        for g, p in zip(unscored["game_id"], unscored["p_close_pred"], strict=True)
        if p == p
    }
    decisions, picks = decide(
        upcoming, fresh, scores, {}, OpenerParams(threshold=0.0), model_version="1", strategy="s"
    )
    assert {d.game_id: d.outcome for d in decisions}[1] == "not_scored"
    assert 1 not in {p.game_id for p in picks}


def test_picks_take_the_best_price_across_books() -> None:
    games = _season(n=5, seed=9)
    # Two books; b pays 0.05 more (decimal) on both sides of every game.
    snaps = []
    for book, bump in (("a", 0.0), ("b", 0.05)):
        dec_h = american_to_decimal_array(games["home_open_ml"]) + bump
        dec_a = american_to_decimal_array(games["away_open_ml"]) + bump
        snaps.append(
            pd.DataFrame(
                {
                    "event_id": games["game_id"].astype(str),
                    "commence_time": NOW + timedelta(hours=6),
                    "book": book,
                    "last_update": NOW - timedelta(minutes=1),
                    "home_american": np.round(decimal_to_american_array(dec_h)),
                    "away_american": np.round(decimal_to_american_array(dec_a)),
                    "game_id": games["game_id"].astype("Int64"),
                }
            )
        )
    two = build_lines(pd.concat(snaps, ignore_index=True), NOW, LineSettings())
    _, picks = _decide(games, OpenerParams(threshold=0.0), two)
    assert picks and {p.book for p in picks} == {"b"}


def test_open_totals_take_the_sharp_book_else_the_modal_total() -> None:
    t0 = NOW - timedelta(hours=3)
    rows = [
        # game 1: no sharp book; 8.5 opened by two books (the mode), 9.0 by one
        (1, "a", t0, 8.5, -110, -110),
        (1, "a", t0 + timedelta(hours=1), 9.5, -110, -110),  # later: not the open
        (1, "b", t0, 8.5, -120, 100),
        (1, "c", t0, 9.0, -105, -115),
        # game 2: pinnacle quotes and decides
        (2, "a", t0, 7.5, -110, -110),
        (2, "pinnacle", t0 + timedelta(minutes=5), 8.0, 105, -125),
        # game 3: a tie of totals goes to the lower one
        (3, "a", t0, 10.0, -110, -110),
        (3, "b", t0, 9.5, -110, -110),
    ]
    snaps = pd.DataFrame(
        rows, columns=["game_id", "book", "last_update", "point", "over_american", "under_american"]
    )
    out = open_totals(snaps, "shin").set_index("game_id")

    def fair_over(over: float, under: float) -> float:
        io, iu = (
            1 / float(american_to_decimal_array([over])[0]),
            1 / float(american_to_decimal_array([under])[0]),
        )
        return io - (io + iu - 1) / 2

    assert out.loc[1, ["open_total", "method", "n_books"]].tolist() == [8.5, "modal total", 2]
    median = (fair_over(-110, -110) + fair_over(-120, 100)) / 2
    assert out.loc[1, "open_over_prob"] == pytest.approx(median)
    assert out.loc[2, ["open_total", "method"]].tolist() == [8.0, "sharp:pinnacle"]
    assert out.loc[2, "open_over_prob"] == pytest.approx(fair_over(105, -125))
    assert out.loc[3, "open_total"] == 9.5


def test_missing_features_name_nan_features_and_unknown_starters() -> None:
    inputs = pd.DataFrame(
        {
            "game_id": [1, 2],
            "mkt_open_total": [8.5, np.nan],
            "home_sp_known": [1.0, 0.0],
            "away_sp_known": [0.0, 1.0],
        }
    )
    names = ["mkt_open_total", "home_sp_known", "away_sp_known"]
    missing = missing_by_game(inputs, names)
    assert missing == {1: ("away_listed_starter",), 2: ("mkt_open_total", "home_listed_starter")}
    assert missing_counts(missing, [1, 2]) == {
        "away_listed_starter": 1,
        "home_listed_starter": 1,
        "mkt_open_total": 1,
    }
