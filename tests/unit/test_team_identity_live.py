"""One team id per franchise across SBR, Retrosheet, MLB Stats API and The Odds API."""

from __future__ import annotations

import json

import pytest

from bullpen.teams import (
    TEAMS,
    UnknownTeamError,
    team_from_mlb,
    team_from_name,
    team_from_retrosheet,
    team_from_sbr,
)
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"

# team id: (SBR 2019 code, Retrosheet 2019 code, MLB Stats API id, The Odds API name)
ALL_30 = {
    "ARI": ("ARI", "ARI", 109, "Arizona Diamondbacks"),
    "ATL": ("ATL", "ATL", 144, "Atlanta Braves"),
    "BAL": ("BAL", "BAL", 110, "Baltimore Orioles"),
    "BOS": ("BOS", "BOS", 111, "Boston Red Sox"),
    "CHC": ("CUB", "CHN", 112, "Chicago Cubs"),
    "CWS": ("CWS", "CHA", 145, "Chicago White Sox"),
    "CIN": ("CIN", "CIN", 113, "Cincinnati Reds"),
    "CLE": ("CLE", "CLE", 114, "Cleveland Guardians"),
    "COL": ("COL", "COL", 115, "Colorado Rockies"),
    "DET": ("DET", "DET", 116, "Detroit Tigers"),
    "HOU": ("HOU", "HOU", 117, "Houston Astros"),
    "KC": ("KAN", "KCA", 118, "Kansas City Royals"),
    "LAA": ("LAA", "ANA", 108, "Los Angeles Angels"),
    "LAD": ("LAD", "LAN", 119, "Los Angeles Dodgers"),
    "MIA": ("MIA", "MIA", 146, "Miami Marlins"),
    "MIL": ("MIL", "MIL", 158, "Milwaukee Brewers"),
    "MIN": ("MIN", "MIN", 142, "Minnesota Twins"),
    "NYM": ("NYM", "NYN", 121, "New York Mets"),
    "NYY": ("NYY", "NYA", 147, "New York Yankees"),
    "OAK": ("OAK", "OAK", 133, "Oakland Athletics"),
    "PHI": ("PHI", "PHI", 143, "Philadelphia Phillies"),
    "PIT": ("PIT", "PIT", 134, "Pittsburgh Pirates"),
    "SD": ("SDG", "SDN", 135, "San Diego Padres"),
    "SEA": ("SEA", "SEA", 136, "Seattle Mariners"),
    "SF": ("SFO", "SFN", 137, "San Francisco Giants"),
    "STL": ("STL", "SLN", 138, "St. Louis Cardinals"),
    "TB": ("TAM", "TBA", 139, "Tampa Bay Rays"),
    "TEX": ("TEX", "TEX", 140, "Texas Rangers"),
    "TOR": ("TOR", "TOR", 141, "Toronto Blue Jays"),
    "WSH": ("WAS", "WAS", 120, "Washington Nationals"),
}


def test_all_30_teams_are_covered() -> None:
    assert set(ALL_30) == set(TEAMS)


@pytest.mark.parametrize(("team", "ids"), sorted(ALL_30.items()))
def test_every_source_maps_a_franchise_to_one_team_id(
    team: str, ids: tuple[str, str, int, str]
) -> None:
    sbr, retro, mlb_id, odds_name = ids
    assert team_from_sbr(sbr, 2019) == team
    assert team_from_retrosheet(retro, 2019) == team
    assert team_from_mlb(mlb_id, TEAMS[team].name) == team
    assert team_from_name(odds_name) == team


@pytest.mark.parametrize(
    ("old", "new", "team", "old_season", "old_code"),
    [
        ("Cleveland Indians", "Cleveland Guardians", "CLE", 2019, "CLE"),
        ("Florida Marlins", "Miami Marlins", "MIA", 2011, "FLO"),
        ("Oakland Athletics", "Athletics", "OAK", 2019, "OAK"),
    ],
)
def test_historical_renames_keep_one_team_id(
    old: str, new: str, team: str, old_season: int, old_code: str
) -> None:
    assert team_from_name(old) == team_from_name(new) == team
    assert team_from_retrosheet(old_code, old_season) == team
    assert team_from_mlb(ALL_30[team][2], old) == team


def test_team_from_mlb_rejects_an_id_whose_name_is_another_team() -> None:
    with pytest.raises(UnknownTeamError, match="147 is NYY.*'Boston Red Sox' is BOS"):
        team_from_mlb(147, "Boston Red Sox")


def test_team_from_mlb_trusts_the_id_over_an_unknown_new_name() -> None:
    assert team_from_mlb(133, "Las Vegas Athletics") == "OAK"


@pytest.mark.parametrize("bad", [True, "147", 147.0, None])
def test_team_from_mlb_rejects_non_integer_ids(bad: object) -> None:
    with pytest.raises(UnknownTeamError, match="not an integer"):
        team_from_mlb(bad)


def test_every_team_in_the_recorded_payloads_resolves() -> None:
    mlb_pairs, odds_names = set(), set()
    for path in (FIXTURES / "mlb_statsapi").glob("schedule_*.json"):
        for day in json.loads(path.read_text())["dates"]:
            for game in day["games"]:
                for side in game["teams"].values():
                    mlb_pairs.add((side["team"]["id"], side["team"]["name"]))
    for path in (FIXTURES / "the_odds_api").glob("odds_v4_*.json"):
        for event in json.loads(path.read_text()):
            odds_names.update((event["home_team"], event["away_team"]))
    assert len(mlb_pairs) == 20 and len(odds_names) == 28
    assert {team_from_mlb(i, n) for i, n in mlb_pairs} == {team_from_name(n) for _, n in mlb_pairs}
    assert len({team_from_name(n) for n in odds_names}) == 28
