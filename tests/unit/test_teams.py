"""Team mapping: every source's codes, ids and names resolve to the 30 canonical team ids."""

from __future__ import annotations

import pytest

from bullpen.teams import (
    MLB_IDS,
    RETROSHEET_CODES,
    SBR_CODES,
    TEAMS,
    Team,
    UnknownTeamError,
    team_from_mlb_id,
    team_from_name,
    team_from_retrosheet,
    team_from_sbr,
)

CANONICAL = {
    "ARI", "ATL", "BAL", "BOS", "CHC", "CWS", "CIN", "CLE", "COL", "DET", "HOU", "KC", "LAA", "LAD",
    "MIA", "MIL", "MIN", "NYM", "NYY", "OAK", "PHI", "PIT", "SD", "SEA", "SF", "STL", "TB", "TEX",
    "TOR", "WSH",
}  # fmt: skip

# Codes exactly as they occur in the bundled 2019 files (data README, team codes).
SBR_2019 = [
    "ARI", "ATL", "BAL", "BOS", "CIN", "CLE", "COL", "CUB", "CWS", "DET", "HOU", "KAN", "LAA",
    "LAD", "MIA", "MIL", "MIN", "NYM", "NYY", "OAK", "PHI", "PIT", "SDG", "SEA", "SFO", "STL",
    "TAM", "TEX", "TOR", "WAS",
]  # fmt: skip
RETRO_2019 = [
    "ANA", "ARI", "ATL", "BAL", "BOS", "CHA", "CHN", "CIN", "CLE", "COL", "DET", "HOU", "KCA",
    "LAN", "MIA", "MIL", "MIN", "NYA", "NYN", "OAK", "PHI", "PIT", "SDN", "SEA", "SFN", "SLN",
    "TBA", "TEX", "TOR", "WAS",
]  # fmt: skip


def test_teams_has_the_30_canonical_ids_with_leagues() -> None:
    assert set(TEAMS) == CANONICAL
    assert all(isinstance(t, Team) and t.team_id == key for key, t in TEAMS.items())
    leagues = [t.league for t in TEAMS.values()]
    assert leagues.count("AL") == 15 and leagues.count("NL") == 15
    assert TEAMS["HOU"].league == "AL" and TEAMS["MIL"].league == "NL"


def test_team_from_sbr_maps_every_2019_code_to_a_distinct_team() -> None:
    assert {team_from_sbr(code, 2019) for code in SBR_2019} == CANONICAL


@pytest.mark.parametrize(
    ("code", "season", "team"),
    [
        ("CUB", 2015, "CHC"),
        ("CHC", 2020, "CHC"),
        ("BRS", 2020, "BOS"),
        ("SFG", 2020, "SF"),
        ("SFO", 2020, "SF"),
        ("LOS", 2016, "LAD"),
        ("LAD", 2016, "LAD"),
        ("LOS", 2020, "LAD"),
        ("KAN", 2010, "KC"),
        ("SDG", 2010, "SD"),
        ("TAM", 2010, "TB"),
        ("WAS", 2010, "WSH"),
        ("MIA", 2010, "MIA"),  # SBR's code for the Florida Marlins too
        (" nyy ", 2012, "NYY"),
    ],
)
def test_team_from_sbr_maps_codes_per_season(code: str, season: int, team: str) -> None:
    assert team_from_sbr(code, season) == team


@pytest.mark.parametrize(
    ("code", "season"), [("XXX", 2019), ("BRS", 2019), ("LAD", 2012), ("", 2019)]
)
def test_team_from_sbr_rejects_unknown_or_out_of_era_codes(code: str, season: int) -> None:
    with pytest.raises(UnknownTeamError, match="SBR"):
        team_from_sbr(code, season)


def test_team_from_retrosheet_maps_every_2019_code_to_a_distinct_team() -> None:
    assert {team_from_retrosheet(code, 2019) for code in RETRO_2019} == CANONICAL


@pytest.mark.parametrize(
    ("code", "season", "team"),
    [
        ("FLO", 2011, "MIA"),
        ("MIA", 2012, "MIA"),
        ("ANA", 2016, "LAA"),
        ("MON", 2004, "WSH"),
        ("WAS", 2005, "WSH"),
        ("CHA", 2015, "CWS"),
        ("SLN", 2011, "STL"),
    ],
)
def test_team_from_retrosheet_maps_codes_per_season(code: str, season: int, team: str) -> None:
    assert team_from_retrosheet(code, season) == team


@pytest.mark.parametrize(
    ("code", "season"), [("FLO", 2012), ("MIA", 2011), ("MON", 2005), ("CUB", 2019)]
)
def test_team_from_retrosheet_rejects_unknown_or_out_of_era_codes(code: str, season: int) -> None:
    with pytest.raises(UnknownTeamError, match=f"Retrosheet.*{code}"):
        team_from_retrosheet(code, season)


@pytest.mark.parametrize(
    ("mlb_id", "team"),
    [(108, "LAA"), (109, "ARI"), (110, "BAL"), (111, "BOS"), (112, "CHC"), (113, "CIN"),
     (114, "CLE"), (115, "COL"), (116, "DET"), (117, "HOU"), (118, "KC"), (119, "LAD"),
     (120, "WSH"), (121, "NYM"), (133, "OAK"), (134, "PIT"), (135, "SD"), (136, "SEA"),
     (137, "SF"), (138, "STL"), (139, "TB"), (140, "TEX"), (141, "TOR"), (142, "MIN"),
     (143, "PHI"), (144, "ATL"), (145, "CWS"), (146, "MIA"), (147, "NYY"), (158, "MIL")],
)  # fmt: skip
def test_team_from_mlb_id_maps_all_30_ids(mlb_id: int, team: str) -> None:
    assert team_from_mlb_id(mlb_id) == team


def test_team_from_mlb_id_covers_each_team_once() -> None:
    assert sorted(MLB_IDS.values()) == sorted(CANONICAL)


@pytest.mark.parametrize("mlb_id", [0, 100, 159, 4321])
def test_team_from_mlb_id_rejects_unknown_ids(mlb_id: int) -> None:
    with pytest.raises(UnknownTeamError, match=f"MLB Stats API team id {mlb_id}"):
        team_from_mlb_id(mlb_id)


def test_team_from_name_knows_every_current_name() -> None:
    assert {team_from_name(t.name): t.team_id for t in TEAMS.values()} == {t: t for t in CANONICAL}


@pytest.mark.parametrize(
    ("name", "team"),
    [
        ("Cleveland Indians", "CLE"),
        ("Cleveland Guardians", "CLE"),
        ("Florida Marlins", "MIA"),
        ("Miami Marlins", "MIA"),
        ("Los Angeles Angels", "LAA"),
        ("Los Angeles Angels of Anaheim", "LAA"),
        ("Oakland Athletics", "OAK"),
        ("Athletics", "OAK"),
        ("Tampa Bay Rays", "TB"),
        ("Tampa Bay Devil Rays", "TB"),
        ("St. Louis Cardinals", "STL"),
        ("St Louis Cardinals", "STL"),
        ("  new york   YANKEES ", "NYY"),
        ("Washington Nationals", "WSH"),
        ("Arizona Diamondbacks", "ARI"),
    ],
)
def test_team_from_name_maps_current_and_former_names(name: str, team: str) -> None:
    assert team_from_name(name) == team


@pytest.mark.parametrize("name", ["Yankees", "New York", "New York Knicks", ""])
def test_team_from_name_rejects_partial_or_unknown_names(name: str) -> None:
    with pytest.raises(UnknownTeamError, match="team name"):
        team_from_name(name)


def test_unknown_team_error_is_a_value_error() -> None:
    assert issubclass(UnknownTeamError, ValueError)


def test_code_tables_only_point_at_canonical_ids() -> None:
    targets = {span[0] for span in [*SBR_CODES.values(), *RETROSHEET_CODES.values()]}
    assert targets <= CANONICAL
