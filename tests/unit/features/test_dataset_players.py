"""add_player_features reuses rows computed from the same play-by-play: on a real season (2019)
a frame built with reused rows equals one built cold, row for row, after games change, appear,
or get a probable pitcher, and only the new or changed rows are computed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bullpen.collect.history.events.rows import to_frames
from bullpen.collect.history.events.season import read_event_season
from bullpen.features.dataset import PlayerInputs, add_player_features
from tests.conftest import DATA


@pytest.fixture(scope="module")
def season() -> dict[str, pd.DataFrame]:
    return to_frames(read_event_season(DATA / "retrosheet" / "events" / "2019.tar.gz"))


@pytest.fixture(scope="module")
def games(season: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The season's games shaped like load_game_frame's rows, SBR's starter cell written as
    first initial + surname (what the linker matches), a few cells blank (unlisted)."""
    eg = season["event_games"].sort_values(["game_date", "home_team", "game_number"])
    names = season["rosters"].drop_duplicates("player").set_index("player")
    cell = (names["first_name"].str[:1] + names["last_name"]).str.upper()
    out = pd.DataFrame(
        {
            "game_id": np.arange(1, len(eg) + 1),
            "season": eg["season"].to_numpy(),
            "game_date": eg["game_date"].to_numpy(),
            "away_team": eg["away_team"].to_numpy(),
            "home_team": eg["home_team"].to_numpy(),
            "game_number": eg["game_number"].to_numpy(),
            "away_pitcher": eg["away_starter"].map(cell).to_numpy(),
            "home_pitcher": eg["home_starter"].map(cell).to_numpy(),
            "away_starter_id": eg["away_starter"].to_numpy(),
            "home_starter_id": eg["home_starter"].to_numpy(),
        }
    )
    out.loc[out.index[::50], "home_pitcher"] = None
    return out


def _inputs(season: dict[str, pd.DataFrame], probables: pd.DataFrame | None = None) -> PlayerInputs:
    return PlayerInputs(
        season["pitcher_games"],
        season["plate_appearances"],
        season["lineups"],
        season["rosters"],
        [2019],
        probables=probables,
    )


def _cold(frame: pd.DataFrame, season: dict, probables: pd.DataFrame | None = None):  # type: ignore[no-untyped-def]
    return add_player_features(frame, _inputs(season, probables))


def test_reused_rows_equal_a_cold_build_and_only_changed_rows_are_computed(
    season: dict[str, pd.DataFrame], games: pd.DataFrame
) -> None:
    warm = _inputs(season)
    first = add_player_features(games, warm)
    assert len(warm.computed) == len(games)
    assert first["home_listed_starter"].notna().mean() > 0.9  # the linker really matched
    assert first["home_sp_kbb"].notna().all()

    # A collect-games: a starter is known now, an unlisted side gets a cell, a game is gone
    # and a later one is new (a copy of a June game moved to a date of its own).
    changed = games.copy()
    changed.loc[changed.index[10], "home_starter_id"] = changed.loc[
        changed.index[11], "home_starter_id"
    ]
    changed.loc[changed.index[50], "home_pitcher"] = changed.loc[changed.index[51], "away_pitcher"]
    changed = changed.drop(changed.index[20])
    new = changed[changed["game_date"] == date(2019, 6, 5)].head(1).copy()
    new["game_id"], new["game_date"] = 999_999, date(2019, 6, 6)
    changed = pd.concat([changed, new], ignore_index=True)

    reused = add_player_features(changed, warm)
    pd.testing.assert_frame_equal(reused, _cold(changed, season))
    assert len(warm.computed) == len(games) + 3  # two changed rows and the new one
    assert not reused.loc[reused["game_id"] == 999_999, "home_sp_kbb"].isna().any()

    # A probable pitcher fills the unlisted side of a live game (players.probables).
    unlisted = changed[changed["home_pitcher"].isna()].iloc[3]
    probables = pd.DataFrame(
        {"game_id": [unlisted["game_id"]], "side": [1], "retro_id": ["kersc001"],
         "mlb_id": [477132], "reason": [None]}
    )  # fmt: skip
    with_probable = add_player_features(changed, replace(warm, probables=probables))
    pd.testing.assert_frame_equal(with_probable, _cold(changed, season, probables))
    row = with_probable.set_index("game_id").loc[unlisted["game_id"]]
    assert row["home_listed_starter"] == "kersc001"


def test_rows_computed_from_an_early_cut_equal_the_whole_seasons(
    season: dict[str, pd.DataFrame], games: pd.DataFrame
) -> None:
    """Rows of April computed alone (the play-by-play after April left out) are the rows a
    whole-season build gives them."""
    april = games[games["game_date"] <= date(2019, 4, 30)]
    alone = add_player_features(april, _inputs(season))
    whole = _cold(games, season)
    pd.testing.assert_frame_equal(alone, whole.loc[april.index])
