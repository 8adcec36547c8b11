"""Leak-freeness of the pre-game features, on real bundled seasons."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from bullpen.collect.history.sbr import parse_sbr_file
from bullpen.features.build import MONEYLINE_FEATURES, TOTALS_FEATURES, build_feature_frame
from bullpen.features.dataset import game_frame_from_records
from tests.conftest import DATA


@pytest.fixture(scope="module")
def games() -> pd.DataFrame:
    records = []
    for season in (2018, 2019):
        path = DATA / "odds" / f"mlb_odds_{season}.csv.gz"
        records += parse_sbr_file(
            gzip.decompress(path.read_bytes()).decode(), season, path.name
        ).games
    return game_frame_from_records(records)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return build_feature_frame(frame).set_index("game_id")[list(TOTALS_FEATURES)]


@pytest.mark.parametrize("cut", ["2018-04-02", "2018-09-30", "2019-03-21", "2019-07-04"])
def test_build_feature_frame_unchanged_when_later_games_are_deleted(
    games: pd.DataFrame, cut: str
) -> None:
    day = pd.Timestamp(cut).date()
    full = _features(games)
    truncated = _features(games[games["game_date"] <= day])
    on_day = games.loc[games["game_date"] == day, "game_id"]
    assert len(on_day) > 0
    pd.testing.assert_frame_equal(full.loc[on_day], truncated.loc[on_day])


def _teams_playing_twice(games: pd.DataFrame, day: object) -> set[str]:
    on_day = games[games["game_date"] == day]
    teams = pd.concat([on_day["home_team"], on_day["away_team"]]).value_counts()
    return set(teams[teams > 1].index)


# 2019-06-15 has no doubleheader; 2018-07-09 and 2019-06-08 have two each. Only a date on which a
# team plays twice can show state updated per game instead of per day (game 1 leaking into game 2).
@pytest.mark.parametrize("date", ["2019-06-15", "2018-07-09", "2019-06-08"])
def test_build_feature_frame_ignores_own_and_same_day_results(
    games: pd.DataFrame, date: str
) -> None:
    day = pd.Timestamp(date).date()
    scrambled = games.copy()
    same_day = scrambled["game_date"] == day
    scrambled.loc[same_day, ["home_score", "away_score"]] = scrambled.loc[
        same_day, ["away_score", "home_score"]
    ].to_numpy()
    on_day = games.loc[same_day, "game_id"]
    if date != "2019-06-15":
        assert _teams_playing_twice(games, day), f"{date} should have a doubleheader"
    pd.testing.assert_frame_equal(_features(games).loc[on_day], _features(scrambled).loc[on_day])


@pytest.mark.parametrize("date", ["2018-07-09", "2019-06-08"])
def test_doubleheader_game_two_does_not_see_game_one(games: pd.DataFrame, date: str) -> None:
    """Both games of a doubleheader get the same team state: game 1's result is not known yet
    when the day's games are featurised (the bets are placed before the first pitch)."""
    day = pd.Timestamp(date).date()
    twice = _teams_playing_twice(games, day)
    assert len(twice) >= 2  # the date really has a doubleheader
    frame = build_feature_frame(games)
    on_day = frame[frame["game_date"] == day]
    for team in twice:
        played = on_day[(on_day["home_team"] == team) | (on_day["away_team"] == team)]
        assert len(played) == 2
        games_played = [
            row["home_games_played"] if row["home_team"] == team else row["away_games_played"]
            for _, row in played.iterrows()
        ]
        assert games_played[0] == games_played[1]


def test_build_feature_frame_uses_earlier_results(games: pd.DataFrame) -> None:
    """The converse: features do move when an earlier result changes (the test above could fail)."""
    earlier = games["game_date"] == pd.Timestamp("2019-06-14").date()
    flipped = games.copy()
    flipped.loc[earlier, ["home_score", "away_score"]] = flipped.loc[
        earlier, ["away_score", "home_score"]
    ].to_numpy()
    later = games.loc[games["game_date"] == pd.Timestamp("2019-06-15").date(), "game_id"]
    assert not _features(games).loc[later].equals(_features(flipped).loc[later])


def test_build_feature_frame_labels_and_market(games: pd.DataFrame) -> None:
    frame = build_feature_frame(games)
    played = frame[frame["home_score"].notna()]
    assert set(played["home_win"].dropna().unique()) == {0.0, 1.0}
    pushes = played["total_runs"] == played["close_total"]
    assert pushes.any() and played.loc[pushes, "over_close"].isna().all()
    market = frame["mkt_open_home_prob"].dropna()
    assert len(market) > 0.99 * len(frame) and ((market > 0) & (market < 1)).all()
    # Team and Elo features exist for every game; only market and pitcher-hand ones may be missing.
    always = [f for f in MONEYLINE_FEATURES if not f.startswith("mkt") and "sp_left" not in f]
    assert not frame[always].isna().any().any()


def test_add_labels_tie_has_no_winner() -> None:
    """SBR keeps a few tied finals (suspended or called games, e.g. 2016-09-29 CUB@PIT 1-1)."""
    from bullpen.features.build import add_labels

    frame = pd.DataFrame(
        {
            "home_score": [1.0, 3.0, np.nan],
            "away_score": [1.0, 2.0, np.nan],
            "close_total": [7.0, 4.5, 8.0],
        }
    )
    labelled = add_labels(frame)
    assert np.isnan(labelled["home_win"][0]) and labelled["home_win"][1] == 1.0
    assert np.isnan(labelled["home_win"][2])
    assert labelled["over_close"].tolist()[:2] == [0.0, 1.0]
