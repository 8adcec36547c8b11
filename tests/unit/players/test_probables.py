"""Probable pitchers linked by MLB id through the register: mapped, unmapped with a reason, and
filling only the sides SBR listed nobody for."""

from __future__ import annotations

import pandas as pd

from bullpen.players.linking import link_listed_starters, read_register
from bullpen.players.probables import NO_PROBABLE, RegisterIndex, apply_probables
from tests.conftest import DATA

REGISTER = DATA / "register" / "people_mlb_2005_2026.csv.gz"


def test_the_register_maps_mlb_ids_and_says_why_not() -> None:
    index = RegisterIndex.from_frame(read_register(REGISTER))
    assert len(index.retro) == 6167 and index.ambiguous == {}
    assert index.lookup(477132) == ("kersc001", None)  # Clayton Kershaw
    assert index.lookup(1) == (None, "MLB id 1 is not in the register (no Retrosheet id)")
    assert index.lookup(None) == (None, NO_PROBABLE)
    assert index.player_id(1) == "mlbam:1"


def test_an_id_with_two_retrosheet_ids_is_not_guessed() -> None:
    frame = pd.DataFrame(
        {"key_mlbam": ["10", "10", "11"], "key_retro": ["aaaa001", "bbbb001", "cccc001"]}
    )
    index = RegisterIndex.from_frame(frame)
    retro, reason = index.lookup(10)
    assert retro is None and reason is not None and "aaaa001" in reason and "bbbb001" in reason
    assert index.lookup(11) == ("cccc001", None)


def test_probables_fill_only_sides_without_an_sbr_listing() -> None:
    games = pd.DataFrame(
        {
            "game_id": [1, 2],
            "season": [2019, 2026],
            "away_team": ["WSH", "LAD"],
            "home_team": ["NYN", "SF"],
            "away_pitcher": ["MSCHERZER-R", None],
            "home_pitcher": [None, None],
            "away_starter_id": [None, None],
            "home_starter_id": [None, None],
        }
    )
    rosters = pd.DataFrame(
        [(2019, "WSH", "schem001", "Scherzer", "Max", "P")],
        columns=["season", "team", "player", "last_name", "first_name", "position"],
    )
    links = link_listed_starters(games, rosters)
    probables = pd.DataFrame(
        [
            (1, 0, "otherid1", 1, None),  # SBR's listing stays
            (2, 0, "kersc001", 477132, None),
            (2, 1, None, 2, "MLB id 2 is not in the register (no Retrosheet id)"),
        ],
        columns=["game_id", "side", "retro_id", "mlb_id", "reason"],
    )
    out = apply_probables(links, probables).set_index(["game_id", "side"])
    assert out.loc[(1, 0), "listed_starter"] == "schem001"
    assert (out.loc[(2, 0), "listed_starter"], out.loc[(2, 0), "method"]) == (
        "kersc001",
        "probable_register",
    )
    assert out.loc[(2, 1), "listed_starter"] is None and out.loc[(2, 1), "method"] == "unmatched"
