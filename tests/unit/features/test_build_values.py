"""Feature values by hand on a tiny made-up schedule: Elo, shrunk team rates, venue and park,
recent form, rest, starters, the season carry-over, ties and missing results. The leak tests in
test_build.py show *which* games a feature may see; these pin down *what* it computes."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bullpen.features.build import add_labels, build_feature_frame, build_team_features

NAN = float("nan")
D1, D2, D3 = date(2019, 4, 1), date(2019, 4, 3), date(2019, 4, 13)
NEXT = date(2020, 4, 1)


def _elo_prob(diff: float) -> float:
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


def _schedule() -> pd.DataFrame:
    rows = [
        # date, season, game_number, home, away, neutral, home_p, away_p, hp_hand, ap_hand, hs, as
        (D1, 2019, 0, "AAA", "BBB", False, "pa", "pb", "L", "R", 5.0, 3.0),
        (D1, 2019, 0, "CCC", "DDD", False, "pc", "pd", "R", "R", 2.0, 2.0),  # tie: no update
        (D2, 2019, 0, "AAA", "CCC", False, "pa", "pc2", "L", "?", 2.0, 4.0),
        (D2, 2019, 0, "DDD", "BBB", True, None, "pb", None, "R", NAN, NAN),  # no result yet
        (D3, 2019, 0, "BBB", "AAA", False, "pb", "pa", "R", "L", 1.0, 0.0),
        (NEXT, 2020, 0, "AAA", "BBB", False, "pa", "pb", "L", "R", 3.0, 1.0),
    ]
    columns = [
        "game_date", "season", "game_number", "home_team", "away_team", "neutral_site",
        "home_pitcher", "away_pitcher", "home_pitcher_hand", "away_pitcher_hand",
        "home_score", "away_score",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture
def features() -> pd.DataFrame:
    # Function scope on purpose: mutmut maps a mutant to the tests that *call* the function, and
    # a module-scoped fixture would attribute every call to the first test only.
    return build_team_features(_schedule())


def test_first_game_starts_from_the_priors(features: pd.DataFrame) -> None:
    first = features.iloc[0]
    assert first["elo_diff"] == 24.0  # equal ratings plus home advantage
    assert first["elo_prob"] == pytest.approx(_elo_prob(24.0), rel=1e-12)
    assert first["home_venue_win_pct"] == pytest.approx(0.54)
    assert first["away_venue_win_pct"] == pytest.approx(0.46)
    assert first["park_runs_pg"] == pytest.approx(9.0)
    for side in ("home", "away"):
        assert first[f"{side}_win_pct"] == pytest.approx(0.5)
        assert first[f"{side}_rd_pg"] == 0.0
        assert first[f"{side}_rs_pg"] == pytest.approx(4.5)
        assert first[f"{side}_ra_pg"] == pytest.approx(4.5)
        assert first[f"{side}_l10_win_pct"] == 0.5 and first[f"{side}_l10_rd_pg"] == 0.0
        assert first[f"{side}_rest_days"] == 7.0 and first[f"{side}_games_played"] == 0.0
        assert first[f"{side}_sp_ra5"] == pytest.approx(4.5)
        assert first[f"{side}_sp_win5"] == pytest.approx(0.5)
        assert first[f"{side}_sp_starts"] == 0.0
    assert (first["home_sp_left"], first["away_sp_left"]) == (1.0, 0.0)


def test_second_game_uses_the_first_result_by_hand(features: pd.DataFrame) -> None:
    # AAA beat BBB 5-3 at home on D1: Elo moves by K * ln(|5-3| + 1) * (1 - p(24)).
    delta = 6.0 * math.log(3.0) * (1.0 - _elo_prob(24.0))
    game = features.iloc[2]  # D2: AAA (home) vs CCC (who tied on D1: no update)
    assert game["elo_diff"] == pytest.approx(delta + 24.0, rel=1e-12)
    assert game["elo_prob"] == pytest.approx(_elo_prob(delta + 24.0), rel=1e-12)
    assert game["home_venue_win_pct"] == pytest.approx((1 + 0.54 * 10) / 11)
    assert game["away_venue_win_pct"] == pytest.approx(0.46)
    assert game["park_runs_pg"] == pytest.approx((8 + 9.0 * 20) / 21)
    assert game["home_win_pct"] == pytest.approx((1 + 0.5 * 10) / 11)
    assert game["home_rd_pg"] == pytest.approx(2 / 11)
    assert game["home_rs_pg"] == pytest.approx((5 + 45) / 11)
    assert game["home_ra_pg"] == pytest.approx((3 + 45) / 11)
    assert (game["home_l10_win_pct"], game["home_l10_rd_pg"]) == (1.0, 2.0)
    assert game["home_rest_days"] == 2.0 and game["home_games_played"] == 1.0
    # Starter pa allowed 3 and won: shrunk with 2 pseudo-starts of 4.5 runs and a .500 record.
    assert game["home_sp_ra5"] == pytest.approx((3 + 4.5 * 2) / 3)
    assert game["home_sp_win5"] == pytest.approx((1 + 0.5 * 2) / 3)
    assert game["home_sp_starts"] == 1.0
    # CCC's D1 game was a 2-2 tie: nothing learned, but no rest-day count either.
    assert game["away_games_played"] == 0.0 and game["away_rest_days"] == 7.0
    assert game["away_win_pct"] == pytest.approx(0.5)
    assert game["away_sp_starts"] == 0.0 and math.isnan(game["away_sp_left"])


def test_neutral_site_has_no_home_advantage(features: pd.DataFrame) -> None:
    # D2 DDD-BBB at a neutral site: DDD tied (no change), BBB lost on D1 at AAA.
    delta = 6.0 * math.log(3.0) * (1.0 - _elo_prob(24.0))
    game = features.iloc[3]
    assert game["elo_diff"] == pytest.approx(delta, rel=1e-12)  # 1500 - (1500 - delta)
    assert game["home_sp_starts"] == 0.0 and math.isnan(game["home_sp_left"])


def test_losses_runs_against_and_rest_cap(features: pd.DataFrame) -> None:
    game = features.iloc[4]  # D3 (10 days after D2): BBB (home) vs AAA
    # BBB: lost 3-5 on D1, D2 had no result. AAA: won 5-3, lost 2-4.
    assert game["home_win_pct"] == pytest.approx((0 + 5) / 11)
    assert game["home_rd_pg"] == pytest.approx(-2 / 11)
    assert game["home_rest_days"] == 7.0  # 12 days since D1, capped
    assert game["away_rest_days"] == 7.0  # 10 days since D2, capped
    assert game["away_games_played"] == 2.0
    assert game["away_win_pct"] == pytest.approx((1 + 5) / 12)
    assert game["away_rs_pg"] == pytest.approx((7 + 45) / 12)
    assert game["away_ra_pg"] == pytest.approx((7 + 45) / 12)
    assert game["away_rd_pg"] == 0.0
    assert game["away_l10_win_pct"] == 0.5 and game["away_l10_rd_pg"] == 0.0
    assert game["away_venue_win_pct"] == pytest.approx(0.46)  # AAA has not played away yet
    # pa started twice: allowed 3 (won) and 4 (lost).
    assert game["away_sp_ra5"] == pytest.approx((7 + 9) / 4)
    assert game["away_sp_win5"] == pytest.approx((1 + 1) / 4)
    assert game["away_sp_starts"] == 2.0
    # BBB's starter pb allowed 5 in a loss on D1 (the D2 game has no result).
    assert game["home_sp_ra5"] == pytest.approx((5 + 9) / 3)
    assert game["home_sp_win5"] == pytest.approx((0 + 1) / 3)


def test_new_season_regresses_elo_and_resets_the_record(features: pd.DataFrame) -> None:
    d1 = 6.0 * math.log(3.0) * (1.0 - _elo_prob(24.0))
    a, b = 1500 + d1, 1500 - d1
    # D2: AAA (home) lost 2-4 to CCC (1500).
    d2 = 6.0 * math.log(3.0) * (0.0 - _elo_prob(a - 1500 + 24))
    a += d2
    # D3: BBB (home) beat AAA 1-0.
    d3 = 6.0 * math.log(2.0) * (1.0 - _elo_prob(b - a + 24))
    b, a = b + d3, a - d3
    carried = (1500 + 2 / 3 * (a - 1500)) - (1500 + 2 / 3 * (b - 1500)) + 24
    game = features.iloc[5]
    assert game["elo_diff"] == pytest.approx(carried, rel=1e-12)
    assert game["home_games_played"] == 0.0 and game["home_win_pct"] == pytest.approx(0.5)
    assert game["home_rest_days"] == 7.0 and game["home_l10_win_pct"] == 0.5
    # AAA's 2019 home games: 8 and 6 runs; the new park prior shrinks them toward 9 (weight 20).
    prior = (14 + 9.0 * 20) / 22
    assert game["park_runs_pg"] == pytest.approx(prior)
    assert game["home_venue_win_pct"] == pytest.approx(0.54)
    # Starters keep their last five starts across seasons.
    assert game["home_sp_starts"] == 3.0


def test_rows_come_back_in_the_input_order() -> None:
    schedule = _schedule()
    shuffled = schedule.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(
        build_team_features(shuffled).loc[schedule.index], build_team_features(schedule)
    )


def test_labels_over_under_push_and_no_line() -> None:
    frame = pd.DataFrame(
        {
            "home_score": [5.0, 2.0, 4.0, 3.0, NAN],
            "away_score": [3.0, 2.0, 4.0, 1.0, NAN],
            "close_total": [7.5, 4.5, 8.0, NAN, 8.0],
        }
    )
    labelled = add_labels(frame)
    np.testing.assert_array_equal(labelled["home_win"], [1.0, NAN, NAN, 1.0, NAN])
    np.testing.assert_array_equal(labelled["total_runs"], [8.0, 4.0, 8.0, 4.0, NAN])
    np.testing.assert_array_equal(labelled["over_close"], [1.0, 0.0, NAN, NAN, NAN])


def test_feature_frame_market_columns_by_hand() -> None:
    games = _schedule().iloc[:1].assign(
        game_id=[1],
        home_open_ml=[-150.0], away_open_ml=[130.0], home_close_ml=[-170.0], away_close_ml=[150.0],
        open_total=[8.5], close_total=[9.0],
        open_over_price=[-110.0], open_under_price=[-110.0],
        close_over_price=[-120.0], close_under_price=[100.0],
    )  # fmt: skip
    frame = build_feature_frame(games, "proportional").iloc[0]
    fair_home_open = 0.6 / (0.6 + 1 / 2.3)
    assert frame["p_open_home"] == pytest.approx(fair_home_open, rel=1e-12)
    assert frame["mkt_open_home_prob"] == pytest.approx(fair_home_open, rel=1e-12)
    assert frame["p_close_home"] == pytest.approx((170 / 270) / (170 / 270 + 0.4), rel=1e-12)
    assert frame["p_open_over"] == pytest.approx(0.5)
    assert frame["mkt_open_over_prob"] == pytest.approx(0.5)
    assert frame["p_close_over"] == pytest.approx((120 / 220) / (120 / 220 + 0.5), rel=1e-12)
    assert frame["mkt_open_total"] == 8.5 and frame["total_move"] == 0.5
    assert frame["home_win"] == 1.0 and frame["over_close"] == 0.0  # 8 runs under 9


def test_nullable_integer_prices_with_missing_values_are_read() -> None:
    """Prices may arrive as nullable integers; a missing one gives NaN, not an error."""
    games = _schedule().iloc[:2].assign(
        game_id=[1, 2],
        home_open_ml=pd.array([-150, None], dtype="Int64"),
        away_open_ml=pd.array([130, 120], dtype="Int64"),
        home_close_ml=pd.array([None, -130], dtype="Int64"),
        away_close_ml=pd.array([150, 110], dtype="Int64"),
        open_total=[8.5, 9.0], close_total=[9.0, 9.0],
        open_over_price=pd.array([-110, None], dtype="Int64"),
        open_under_price=pd.array([-110, -110], dtype="Int64"),
        close_over_price=pd.array([-120, -110], dtype="Int64"),
        close_under_price=pd.array([None, -110], dtype="Int64"),
    )  # fmt: skip
    frame = build_feature_frame(games, "shin")
    assert frame["p_open_home"].iloc[0] == pytest.approx((1 + 0.6 - 1 / 2.3) / 2)
    assert np.isnan(frame["p_open_home"].iloc[1]) and np.isnan(frame["p_close_home"].iloc[0])
    assert frame["p_open_over"].iloc[0] == pytest.approx(0.5)
    assert np.isnan(frame["p_open_over"].iloc[1]) and np.isnan(frame["p_close_over"].iloc[0])


def test_recent_form_averages_over_the_last_games() -> None:
    days = [date(2019, 4, d) for d in (1, 2, 3)]
    schedule = _schedule().iloc[:0]
    rows = [
        (days[0], 2019, 0, "XXX", "YYY", False, None, None, None, None, 5.0, 3.0),  # +2, win
        (days[1], 2019, 0, "XXX", "ZZZ", False, None, None, None, None, 4.0, 1.0),  # +3, win
        (days[2], 2019, 0, "XXX", "YYY", False, None, None, None, None, 0.0, 1.0),
    ]
    schedule = pd.DataFrame(rows, columns=schedule.columns)
    third = build_team_features(schedule).iloc[2]
    assert third["home_l10_win_pct"] == 1.0
    assert third["home_l10_rd_pg"] == pytest.approx(2.5)  # (2 + 3) / 2
    assert third["home_rest_days"] == 1.0


def test_venue_records_count_every_home_and_away_game() -> None:
    days = [date(2019, 4, d) for d in (1, 2, 3)]
    columns = _schedule().columns
    rows = [
        (days[0], 2019, 0, "HHH", "VVV", False, None, None, None, None, 5.0, 3.0),  # home win
        (days[1], 2019, 0, "HHH", "VVV", False, None, None, None, None, 2.0, 4.0),  # away win
        (days[2], 2019, 0, "HHH", "VVV", False, None, None, None, None, 1.0, 0.0),
    ]
    third = build_team_features(pd.DataFrame(rows, columns=columns)).iloc[2]
    assert third["home_venue_win_pct"] == pytest.approx((1 + 0.54 * 10) / 12)
    assert third["away_venue_win_pct"] == pytest.approx((1 + 0.46 * 10) / 12)
    assert third["park_runs_pg"] == pytest.approx((8 + 6 + 9.0 * 20) / 22)
