"""Player features: hand-computed shrinkage and windows, leak-freeness on a real season (2019)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bullpen.collect.history.events.rows import to_frames
from bullpen.collect.history.events.season import read_event_season
from bullpen.features.player_ratings import (
    BATTER_PRIOR_PA,
    BP_PRIOR_BF,
    DEPTH_PRIOR_STARTS,
    MAX_REST_DAYS,
    PITCHER_SCALE_BF,
    SP_PRIOR_BF,
    TEAM_PRIOR_PA,
    WOBA_WEIGHTS,
)
from bullpen.features.players import PLAYER_FEATURES, build_player_features
from tests.conftest import DATA

D1 = date(2019, 4, 1)

PG_COLUMNS = [
    "game_key", "pitcher", "game_date", "season", "team", "opponent", "side", "is_starter",
    "appearance_order", "inning_entered", "batters_faced", "outs_recorded", "pitches",
    "strikeouts", "walks", "hbp", "hits", "home_runs", "runs_allowed", "earned_runs",
]  # fmt: skip
PA_COLUMNS = [
    "game_key", "seq", "game_date", "inning", "batting_side", "batter", "pitcher", "outcome",
    "outs_on_play", "runs_on_play", "pitches",
]  # fmt: skip


def _line(key: str, pitcher: str, day: date, team: str, side: int, starter: bool, **stats: object):
    """One pitcher_games row; stats: bf, outs, pitches, k, bb, hbp, hr, er."""
    return {
        "game_key": key, "pitcher": pitcher, "game_date": day, "season": day.year, "team": team,
        "opponent": "OPP", "side": side, "is_starter": starter,
        "appearance_order": 1 if starter else 2, "inning_entered": 1 if starter else 7,
        "batters_faced": stats.get("bf", 0), "outs_recorded": stats.get("outs", 0),
        "pitches": stats.get("pitches"), "strikeouts": stats.get("k", 0),
        "walks": stats.get("bb", 0), "hbp": stats.get("hbp", 0), "hits": 0,
        "home_runs": stats.get("hr", 0), "runs_allowed": stats.get("er", 0),
        "earned_runs": stats.get("er", 0),
    }  # fmt: skip


def _games(rows: list[tuple[date, str, str, str | None, str | None]]) -> pd.DataFrame:
    """Games (day, home, away, home listed starter, away listed starter); listed = actual."""
    return pd.DataFrame(
        {
            "game_date": [r[0] for r in rows],
            "season": [r[0].year for r in rows],
            "home_team": [r[1] for r in rows],
            "away_team": [r[2] for r in rows],
            "game_number": 0,
            "home_listed_starter": [r[3] for r in rows],
            "away_listed_starter": [r[4] for r in rows],
            "home_starter_id": [r[3] for r in rows],
            "away_starter_id": [r[4] for r in rows],
        }
    )


def _no_pa() -> pd.DataFrame:
    return pd.DataFrame(columns=PA_COLUMNS)


def _no_lineups() -> pd.DataFrame:
    return pd.DataFrame(columns=["game_key", "side", "batting_order", "player"])


def test_every_column_has_an_availability() -> None:
    assert set(PLAYER_FEATURES.values()) == {"open", "game"}
    games = _games([(D1, "WSH", "NYM", None, None)])
    pg = pd.DataFrame(columns=PG_COLUMNS)
    features = build_player_features(games, pg, _no_pa(), _no_lineups())
    assert list(features.columns) == list(PLAYER_FEATURES)
    # Today's lineup and actual starter are game-time; all starter, bullpen and team form open.
    assert PLAYER_FEATURES["home_lineup_woba"] == "game"
    assert PLAYER_FEATURES["away_act_sp_kbb"] == "game"
    assert PLAYER_FEATURES["home_sp_kbb"] == "open"
    assert PLAYER_FEATURES["bp_fip_diff"] == "open"


def test_starter_rates_are_shrunk_toward_the_league_mean_by_hand() -> None:
    d2, d6 = D1 + timedelta(days=1), D1 + timedelta(days=5)
    a = {"bf": 20, "outs": 15, "pitches": 80, "k": 6, "bb": 2, "hbp": 0, "hr": 1, "er": 2}
    b = {"bf": 30, "outs": 12, "pitches": 110, "k": 3, "bb": 3, "hbp": 1, "hr": 2, "er": 5}
    a2 = {"bf": 25, "outs": 18, "pitches": 95, "k": 8, "bb": 1, "hbp": 1, "hr": 0, "er": 1}
    pg = pd.DataFrame(
        [
            _line("WAS201904010", "pa", D1, "WSH", 1, True, **a),
            _line("WAS201904010", "pb", D1, "NYM", 0, True, **b),
            _line("WAS201904020", "pa", d2, "WSH", 1, True, **a2),
        ]
    )
    games = _games(
        [
            (D1, "WSH", "NYM", "pa", "pb"),  # nothing known yet: league fallbacks, known = 1
            (d2, "WSH", "NYM", "pa", "pz"),  # pa after one start; pz never seen
            (d6, "WSH", "NYM", "pa", None),  # pa after two starts (decayed)
        ]
    )
    f = build_player_features(games, pg, _no_pa(), _no_lineups())

    lg_kbb = (6 + 3 - 2 - 3) / 50
    lg_fip = (13 * 3 + 3 * (5 + 1) - 2 * 9) / 50
    lg_er = 7 / 50
    lg_outs = (15 + 12) / 2
    second = f.iloc[1]
    assert second["home_sp_kbb"] == pytest.approx((6 - 2 + SP_PRIOR_BF["kbb"] * lg_kbb) / 170)
    fip_a = 13 * 1 + 3 * 2 - 2 * 6
    assert second["home_sp_fip"] == pytest.approx((fip_a + SP_PRIOR_BF["fip"] * lg_fip) / 320)
    assert second["home_sp_er"] == pytest.approx((2 + SP_PRIOR_BF["er"] * lg_er) / 520)
    assert second["home_sp_depth"] == pytest.approx((15 + DEPTH_PRIOR_STARTS * lg_outs) / 4)
    assert (second["home_sp_bf"], second["home_sp_career_starts"], second["home_sp_rest"]) == (
        20,
        1,
        1,
    )
    # An unknown pitcher gets the league mean, no sample and the rest cap.
    assert second["away_sp_kbb"] == pytest.approx(lg_kbb)
    assert second["away_sp_fip"] == pytest.approx(lg_fip)
    assert (second["away_sp_known"], second["away_sp_bf"]) == (1.0, 0.0)
    assert second["away_sp_rest"] == MAX_REST_DAYS

    # After a second start the first one's weight decays by exp(-25 / scale).
    w = math.exp(-25 / PITCHER_SCALE_BF)
    k, bb, bf = 6 * w + 8, 2 * w + 1, 20 * w + 25
    # The league after two dates: day 1's totals decayed by day 2's batters, plus day 2's.
    lw = math.exp(-25 / 90_000.0)
    lg2_kbb = (4 * lw + 7) / (50 * lw + 25)
    third = f.iloc[2]
    assert third["home_sp_kbb"] == pytest.approx(
        (k - bb + SP_PRIOR_BF["kbb"] * lg2_kbb) / (bf + SP_PRIOR_BF["kbb"])
    )
    assert (third["home_sp_career_starts"], third["home_sp_rest"]) == (2, 4)
    assert (third["away_sp_known"], third["home_sp_known"]) == (0.0, 1.0)


def test_bullpen_window_workload_and_shrinkage_by_hand() -> None:
    days = [D1 + timedelta(days=i) for i in range(6)]
    r1 = {"bf": 10, "pitches": 40, "k": 4, "bb": 1, "hr": 0}
    r3 = {"bf": 5, "pitches": None, "k": 0, "bb": 2, "hr": 1}  # no pitch count: imputed
    pg = pd.DataFrame(
        [
            _line("WAS201904010", "sp1", days[0], "WSH", 1, True, bf=20, outs=15, pitches=80, k=5),
            _line("WAS201904010", "rp1", days[0], "WSH", 1, False, **r1),
            _line("WAS201904030", "rp2", days[2], "WSH", 1, False, **r3),
        ]
    )
    games = _games([(days[3], "WSH", "NYM", None, None), (days[5], "WSH", "NYM", None, None)])
    f = build_player_features(games, pg, _no_pa(), _no_lineups())
    # League relievers before day 3: r1 only; pitches per BF from every counted line (day 1).
    ppbf = (80 + 40) / (20 + 10)
    lg_relief_kbb = (4 - 1) / 10
    lw = math.exp(-5 / 30_000.0)  # relievers' league scale is a third of the league's
    lg_relief_kbb_after = (3 * lw + (0 - 2)) / (10 * lw + 5)
    day4, day6 = f.iloc[0], f.iloc[1]
    assert day4["home_bp_pitches_1d"] == pytest.approx(5 * ppbf)  # day 3 only
    assert day4["home_bp_pitches_3d"] == pytest.approx(40 + 5 * ppbf)  # days 1-3
    assert day6["home_bp_pitches_1d"] == 0.0
    assert day6["home_bp_pitches_3d"] == pytest.approx(5 * ppbf)  # days 3-5
    kbb = (4 - 1 + 0 - 2 + BP_PRIOR_BF["kbb"] * lg_relief_kbb_after) / (15 + BP_PRIOR_BF["kbb"])
    assert day4["home_bp_kbb"] == pytest.approx(kbb)
    assert lg_relief_kbb != pytest.approx(lg_relief_kbb_after)
    # A team without relief history: league mean, no workload.
    assert day4["away_bp_pitches_3d"] == 0.0


def test_lineup_strength_by_hand() -> None:
    d2 = D1 + timedelta(days=1)
    key, key2 = "WAS201904010", "WAS201904020"
    pg = pd.DataFrame(
        [
            _line(key, "h1", D1, "WSH", 1, True, bf=4),
            _line(key, "a1", D1, "NYM", 0, True, bf=2),
            _line(key2, "h1", d2, "WSH", 1, True, bf=1),
            _line(key2, "a1", d2, "NYM", 0, True, bf=1),
        ]
    )
    outcomes = [("x", "1B"), ("y", "HR"), ("x", "K"), ("y", "BB"), ("x", "IBB")]
    pa = pd.DataFrame(
        [(key, i + 1, D1, 1, 0, b, "h1", o, 0, 0, 3) for i, (b, o) in enumerate(outcomes)]
        + [
            (key, 9, D1, 1, 1, "z", "a1", "2B", 0, 0, 3),
            (key, 10, D1, 1, 1, "z", "a1", "OUT", 1, 0, 3),
        ],
        columns=PA_COLUMNS,
    )
    lineups = pd.DataFrame(
        [(key2, 0, 1, "x"), (key2, 0, 2, "y"), (key2, 1, 1, "z"), (key2, 1, 2, "new")],
        columns=["game_key", "side", "batting_order", "player"],
    )
    games = _games([(d2, "WSH", "NYM", "h1", "a1")])
    rosters = pd.DataFrame(
        [(2019, "WSH", "h1", "R"), (2019, "NYM", "a1", "L")],
        columns=["season", "team", "player", "throws"],
    )
    f = build_player_features(games, pg, pa, lineups, rosters).iloc[0]
    w = WOBA_WEIGHTS
    nym = w["1B"] + w["HR"] + w["BB"]  # over 4 plate appearances (IBB left out)
    lg = (nym + w["2B"]) / 6
    assert f["away_lu_woba"] == pytest.approx((nym + TEAM_PRIOR_PA * lg) / (4 + TEAM_PRIOR_PA))
    assert f["home_lu_woba"] == pytest.approx((w["2B"] + TEAM_PRIOR_PA * lg) / (2 + TEAM_PRIOR_PA))
    x = (w["1B"] + BATTER_PRIOR_PA * lg) / (2 + BATTER_PRIOR_PA)
    y = (w["HR"] + w["BB"] + BATTER_PRIOR_PA * lg) / (2 + BATTER_PRIOR_PA)
    z = (w["2B"] + BATTER_PRIOR_PA * lg) / (2 + BATTER_PRIOR_PA)
    assert f["away_lineup_woba"] == pytest.approx((x + y) / 2)
    assert f["home_lineup_woba"] == pytest.approx((z + lg) / 2)  # a newcomer counts as league
    assert f["lineup_woba_diff"] == pytest.approx((z + lg) / 2 - (x + y) / 2)
    # Against the opposing listed starter's hand: WSH batted only against a left-hander (a1),
    # NYM only against a right-hander (h1); each is shrunk toward the league against that hand.
    lg_left, lg_right = w["2B"] / 2, nym / 4
    home_vs = (w["2B"] + TEAM_PRIOR_PA * lg_left) / (2 + TEAM_PRIOR_PA)
    assert f["home_lu_woba_vs_hand"] == pytest.approx(home_vs)
    assert f["away_lu_woba_vs_hand"] == pytest.approx(lg_right)  # all the league saw of a righty
    without = build_player_features(games, pg, pa, lineups).iloc[0]
    assert np.isnan(without["home_lu_woba_vs_hand"])
    assert without["home_lu_woba"] == f["home_lu_woba"]


# --- Real season: leak-freeness of every column --------------------------------------------


@pytest.fixture(scope="module")
def season() -> dict[str, pd.DataFrame]:
    frames = to_frames(read_event_season(DATA / "retrosheet" / "events" / "2019.tar.gz"))
    eg = frames["event_games"]
    games = pd.DataFrame(
        {
            "game_date": eg["game_date"],
            "season": eg["season"],
            "home_team": eg["home_team"],
            "away_team": eg["away_team"],
            "game_number": eg["game_number"],
            "home_listed_starter": eg["home_starter"],
            "away_listed_starter": eg["away_starter"],
            "home_starter_id": eg["home_starter"],
            "away_starter_id": eg["away_starter"],
        }
    ).sort_values(["game_date", "home_team", "game_number"], ignore_index=True)
    # A few late scratches: the line priced someone other than who started.
    scratched = games.index[200:210]
    games.loc[scratched, "home_listed_starter"] = games["away_starter_id"].shift(1)[scratched]
    return {"games": games, **frames}


def _build(s: dict[str, pd.DataFrame], **override: pd.DataFrame) -> pd.DataFrame:
    parts = {k: override.get(k, s[k]) for k in ("games", "pitcher_games", "plate_appearances")}
    return build_player_features(
        parts["games"],
        parts["pitcher_games"],
        parts["plate_appearances"],
        s["lineups"],
        s["rosters"],
    )


@pytest.fixture(scope="module")
def full(season: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return _build(season)


def _doubleheader_day(games: pd.DataFrame) -> date:
    counts = pd.concat(
        [
            games[["game_date", "home_team"]].set_axis(["d", "t"], axis=1),
            games[["game_date", "away_team"]].set_axis(["d", "t"], axis=1),
        ]
    )
    twice = counts.value_counts()
    day = twice[twice >= 2].index[len(twice[twice >= 2]) // 2][0]
    return day


def test_real_season_values_are_plausible(
    season: dict[str, pd.DataFrame], full: pd.DataFrame
) -> None:
    games = season["games"]
    late = full[pd.to_datetime(games["game_date"]) >= "2019-06-01"]
    assert not late.isna().any().any()
    # League K-BB% of 2019 starters ~ 0.12-0.14; FIP per BF and ER per BF around 0.2 and 0.11.
    assert 0.10 < late["home_sp_kbb"].mean() < 0.15
    assert 0.15 < late["home_sp_fip"].mean() < 0.30
    assert 0.09 < late["home_sp_er"].mean() < 0.13
    assert 0.11 < late["home_bp_kbb"].mean() < 0.16
    assert 0.30 < late["home_lu_woba"].mean() < 0.34
    assert 0.30 < late["away_lu_woba_vs_hand"].mean() < 0.34
    assert late["lu_woba_vs_hand_diff"].std() > 0.005
    assert 0.30 < late["away_lineup_woba"].mean() < 0.34
    assert 4 <= late["home_sp_rest"].median() <= 6
    assert 13 < late["home_sp_depth"].mean() < 19
    assert 80 < late["away_bp_pitches_3d"].mean() < 250
    assert (late["home_sp_known"] == 1).all()
    assert full["home_sp_scratch"].sum() >= 9  # the scratches set up in the fixture
    scratched = full["home_sp_scratch"] == 1
    assert (full.loc[scratched, "home_sp_kbb"] != full.loc[scratched, "home_act_sp_kbb"]).any()
    # Better starters really are priced better: K-BB% differences track the home win rate.
    assert full["sp_kbb_diff"].std() > 0.02


def test_unchanged_when_all_later_games_are_deleted(
    season: dict[str, pd.DataFrame], full: pd.DataFrame
) -> None:
    cut = date(2019, 6, 15)
    keep = {
        k: season[k][pd.to_datetime(season[k]["game_date"]).dt.date <= cut]
        for k in ("games", "pitcher_games", "plate_appearances")
    }
    truncated = _build(season, **keep)
    pd.testing.assert_frame_equal(truncated, full.loc[truncated.index])


def test_unchanged_when_the_same_dates_results_change_on_a_doubleheader_day(
    season: dict[str, pd.DataFrame], full: pd.DataFrame
) -> None:
    games = season["games"]
    day = _doubleheader_day(games)
    todays = games["game_date"] == day
    teams = pd.concat([games.loc[todays, "home_team"], games.loc[todays, "away_team"]])
    assert teams.value_counts().max() == 2, "the chosen day must have a team playing twice"

    pg = season["pitcher_games"].copy()
    on_day = pg["game_date"] == day
    pg.loc[on_day, ["strikeouts", "walks", "home_runs", "earned_runs"]] = [0, 9, 5, 9]
    pg.loc[on_day, "batters_faced"] += 7
    pg.loc[on_day, "pitches"] = 140
    pa = season["plate_appearances"].copy()
    pa.loc[pa["game_date"] == day, "outcome"] = "HR"
    changed = _build(season, pitcher_games=pg, plate_appearances=pa)

    cols = list(PLAYER_FEATURES)
    pd.testing.assert_frame_equal(changed.loc[todays, cols], full.loc[todays, cols])
    # The change is real: the next dates see it in every kind of feature.
    after = games["game_date"] > day
    for column in (
        "home_sp_kbb",
        "away_bp_fip",
        "home_bp_pitches_1d",
        "home_lu_woba",
        "away_lu_woba_vs_hand",
        "away_lineup_woba",
    ):
        assert not np.allclose(changed.loc[after, column], full.loc[after, column]), column


def test_changed_when_an_earlier_pitcher_line_or_plate_appearance_changes(
    season: dict[str, pd.DataFrame], full: pd.DataFrame
) -> None:
    games, pg = season["games"], season["pitcher_games"]
    start = pg[pg["is_starter"] & (pg["game_date"] == date(2019, 5, 10))].iloc[0]
    later = games.index[
        (games["game_date"] > start["game_date"])
        & (games["home_listed_starter"] == start["pitcher"])
    ]
    assert len(later) > 0
    worse = pg.copy()
    row = (worse["game_key"] == start["game_key"]) & (worse["pitcher"] == start["pitcher"])
    worse.loc[row, "home_runs"] += 4
    changed = _build(season, pitcher_games=worse)
    assert (changed.loc[later, "home_sp_fip"] > full.loc[later, "home_sp_fip"]).all()
    before = games["game_date"] <= start["game_date"]
    pd.testing.assert_frame_equal(changed.loc[before], full.loc[before])

    pa = season["plate_appearances"]
    target = pa[(pa["game_date"] == date(2019, 5, 10)) & (pa["outcome"] == "K")].iloc[0]
    better = pa.copy()
    better.loc[target.name, "outcome"] = "HR"
    changed = _build(season, plate_appearances=better)
    after = games["game_date"] > target["game_date"]
    assert not np.allclose(changed.loc[after, "home_lu_woba"], full.loc[after, "home_lu_woba"])
    assert not np.allclose(
        changed.loc[after, "away_lineup_woba"].fillna(0),
        full.loc[after, "away_lineup_woba"].fillna(0),
    )
    before = games["game_date"] <= target["game_date"]
    pd.testing.assert_frame_equal(changed.loc[before], full.loc[before])
