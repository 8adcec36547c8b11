"""Canonical MLB team ids and the mapping from every source's team codes and names to them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

# MLB's official date is the local date of the ballpark; US/Eastern gives it for every regular
# venue (a 10:10 pm ET first pitch on the West Coast is still the same Eastern date).
GAME_TIMEZONE = "America/New_York"


class UnknownTeamError(ValueError):
    """A team code or name that no mapping knows (for the season given, where seasons matter)."""


@dataclass(frozen=True, slots=True)
class Team:
    team_id: str
    name: str  # current full name, as MLB Stats API prints it
    league: str  # current league, "AL" or "NL"


def _team(team_id: str, name: str, league: str) -> tuple[str, Team]:
    return team_id, Team(team_id, name, league)


TEAMS: dict[str, Team] = dict(
    [
        _team("ARI", "Arizona Diamondbacks", "NL"),
        _team("ATL", "Atlanta Braves", "NL"),
        _team("BAL", "Baltimore Orioles", "AL"),
        _team("BOS", "Boston Red Sox", "AL"),
        _team("CHC", "Chicago Cubs", "NL"),
        _team("CWS", "Chicago White Sox", "AL"),
        _team("CIN", "Cincinnati Reds", "NL"),
        _team("CLE", "Cleveland Guardians", "AL"),
        _team("COL", "Colorado Rockies", "NL"),
        _team("DET", "Detroit Tigers", "AL"),
        _team("HOU", "Houston Astros", "AL"),
        _team("KC", "Kansas City Royals", "AL"),
        _team("LAA", "Los Angeles Angels", "AL"),
        _team("LAD", "Los Angeles Dodgers", "NL"),
        _team("MIA", "Miami Marlins", "NL"),
        _team("MIL", "Milwaukee Brewers", "NL"),
        _team("MIN", "Minnesota Twins", "AL"),
        _team("NYM", "New York Mets", "NL"),
        _team("NYY", "New York Yankees", "AL"),
        # The franchise's MLB name since 2025; the id stays OAK so history keeps one key.
        _team("OAK", "Athletics", "AL"),
        _team("PHI", "Philadelphia Phillies", "NL"),
        _team("PIT", "Pittsburgh Pirates", "NL"),
        _team("SD", "San Diego Padres", "NL"),
        _team("SEA", "Seattle Mariners", "AL"),
        _team("SF", "San Francisco Giants", "NL"),
        _team("STL", "St. Louis Cardinals", "NL"),
        _team("TB", "Tampa Bay Rays", "AL"),
        _team("TEX", "Texas Rangers", "AL"),
        _team("TOR", "Toronto Blue Jays", "AL"),
        _team("WSH", "Washington Nationals", "NL"),
    ]
)

# A code maps to (team_id, first season, last season); None = open-ended. Season bounds are set
# only where a code names a franchise for a limited era (relocations, renamed codes), so a code
# in the wrong era is reported rather than guessed.
_Span = tuple[str, int | None, int | None]

_SBR_CODES: dict[str, _Span] = {
    "ARI": ("ARI", None, None),
    "ATL": ("ATL", None, None),
    "BAL": ("BAL", None, None),
    "BOS": ("BOS", None, None),
    "BRS": ("BOS", 2020, None),  # SBR's 2020 spelling, beside BOS
    "CHC": ("CHC", 2020, None),  # SBR's 2020 spelling, beside CUB
    "CUB": ("CHC", None, None),
    "CWS": ("CWS", None, None),
    "CIN": ("CIN", None, None),
    "CLE": ("CLE", None, None),
    "COL": ("COL", None, None),
    "DET": ("DET", None, None),
    "HOU": ("HOU", None, None),
    "KAN": ("KC", None, None),
    "LAA": ("LAA", None, None),
    "LOS": ("LAD", None, None),
    "LAD": ("LAD", 2016, None),  # first appears in 2016, used alongside LOS until 2020
    "MIA": ("MIA", None, None),  # SBR writes MIA for the Florida Marlins too (2010-2011)
    "MIL": ("MIL", None, None),
    "MIN": ("MIN", None, None),
    "NYM": ("NYM", None, None),
    "NYY": ("NYY", None, None),
    "OAK": ("OAK", None, None),
    "PHI": ("PHI", None, None),
    "PIT": ("PIT", None, None),
    "SDG": ("SD", None, None),
    "SEA": ("SEA", None, None),
    "SFO": ("SF", None, None),
    "SFG": ("SF", 2020, None),  # SBR's 2020 spelling, beside SFO
    "STL": ("STL", None, None),
    "TAM": ("TB", None, None),
    "TEX": ("TEX", None, None),
    "TOR": ("TOR", None, None),
    "WAS": ("WSH", None, None),
}

_RETROSHEET_CODES: dict[str, _Span] = {
    "ANA": ("LAA", 1997, None),  # Retrosheet kept ANA through the "Los Angeles Angels" years
    "CAL": ("LAA", 1965, 1996),
    "ARI": ("ARI", None, None),
    "ATL": ("ATL", None, None),
    "BAL": ("BAL", None, None),
    "BOS": ("BOS", None, None),
    "CHA": ("CWS", None, None),
    "CHN": ("CHC", None, None),
    "CIN": ("CIN", None, None),
    "CLE": ("CLE", None, None),
    "COL": ("COL", None, None),
    "DET": ("DET", None, None),
    "HOU": ("HOU", None, None),
    "KCA": ("KC", None, None),
    "LAN": ("LAD", None, None),
    "FLO": ("MIA", 1993, 2011),
    "MIA": ("MIA", 2012, None),
    "MIL": ("MIL", None, None),
    "MIN": ("MIN", None, None),
    "NYA": ("NYY", None, None),
    "NYN": ("NYM", None, None),
    "OAK": ("OAK", None, None),
    "ATH": ("OAK", 2025, None),  # the Athletics after leaving Oakland
    "PHI": ("PHI", None, None),
    "PIT": ("PIT", None, None),
    "SDN": ("SD", None, None),
    "SEA": ("SEA", None, None),
    "SFN": ("SF", None, None),
    "SLN": ("STL", None, None),
    "TBA": ("TB", 1998, None),
    "TEX": ("TEX", None, None),
    "TOR": ("TOR", None, None),
    "MON": ("WSH", 1969, 2004),
    "WAS": ("WSH", 2005, None),
}

_MLB_IDS: dict[int, str] = {
    108: "LAA",
    109: "ARI",
    110: "BAL",
    111: "BOS",
    112: "CHC",
    113: "CIN",
    114: "CLE",
    115: "COL",
    116: "DET",
    117: "HOU",
    118: "KC",
    119: "LAD",
    120: "WSH",
    121: "NYM",
    133: "OAK",
    134: "PIT",
    135: "SD",
    136: "SEA",
    137: "SF",
    138: "STL",
    139: "TB",
    140: "TEX",
    141: "TOR",
    142: "MIN",
    143: "PHI",
    144: "ATL",
    145: "CWS",
    146: "MIA",
    147: "NYY",
    158: "MIL",
}

# Former and alternative full names; current names come from TEAMS.
_FORMER_NAMES: dict[str, str] = {
    "Arizona D-backs": "ARI",
    "Cleveland Indians": "CLE",
    "Florida Marlins": "MIA",
    "Los Angeles Angels of Anaheim": "LAA",
    "Anaheim Angels": "LAA",
    "California Angels": "LAA",
    "Oakland Athletics": "OAK",
    "Oakland A's": "OAK",
    "Tampa Bay Devil Rays": "TB",
    "Montreal Expos": "WSH",
}


def _name_key(name: str) -> str:
    # Case, spacing and periods vary by source ("St. Louis" / "St Louis").
    return re.sub(r"\s+", " ", name.replace(".", " ")).strip().casefold()


_NAMES: dict[str, str] = {_name_key(t.name): t.team_id for t in TEAMS.values()}
_NAMES.update({_name_key(n): team_id for n, team_id in _FORMER_NAMES.items()})

SBR_CODES = MappingProxyType(_SBR_CODES)
RETROSHEET_CODES = MappingProxyType(_RETROSHEET_CODES)
MLB_IDS = MappingProxyType(_MLB_IDS)


def _lookup_code(codes: dict[str, _Span], source: str, code: str, season: int) -> str:
    key = code.strip().upper()
    span = codes.get(key)
    if span is None:
        raise UnknownTeamError(f"unknown {source} team code {code!r}")
    team_id, first, last = span
    if (first is not None and season < first) or (last is not None and season > last):
        era = f"{first or '…'}-{last or '…'}"
        raise UnknownTeamError(
            f"{source} team code {code!r} is used only in seasons {era}, not in {season}"
        )
    return team_id


def team_from_sbr(code: str, season: int) -> str:
    """Canonical id for a SportsbookReviewsOnline team code (e.g. "LOS", "KAN", "BRS").

    Raises:
        UnknownTeamError: unknown code, or a code SBR does not use in that season.
    """
    return _lookup_code(_SBR_CODES, "SBR", code, season)


def team_from_retrosheet(code: str, season: int) -> str:
    """Canonical id for a Retrosheet team code (e.g. "NYA", "FLO" up to 2011, "MIA" from 2012).

    Raises:
        UnknownTeamError: unknown code, or a code Retrosheet does not use in that season.
    """
    return _lookup_code(_RETROSHEET_CODES, "Retrosheet", code, season)


def team_from_mlb_id(team_id: int) -> str:
    """Canonical id for an MLB Stats API team id (e.g. 147 -> NYY).

    Raises:
        UnknownTeamError: not one of the 30 MLB franchises' ids.
    """
    try:
        return _MLB_IDS[team_id]
    except (KeyError, TypeError):
        raise UnknownTeamError(f"unknown MLB Stats API team id {team_id!r}") from None


def team_from_name(name: str) -> str:
    """Canonical id for a full team name as The Odds API or MLB Stats API print it.

    Current and former names are known ("Cleveland Indians" and "Cleveland Guardians" -> CLE);
    matching ignores case, surrounding and repeated whitespace, and periods.

    Raises:
        UnknownTeamError: a name no mapping knows.
    """
    team_id = _NAMES.get(_name_key(name))
    if team_id is None:
        raise UnknownTeamError(f"unknown team name {name!r}")
    return team_id


def team_from_mlb(team_id: object, name: str | None = None) -> str:
    """Canonical id for an MLB Stats API team object: its id, cross-checked with its name.

    The id decides; a name no mapping knows yet (a future rename) is accepted, but a known name
    of another team means the record is corrupt.

    Raises:
        UnknownTeamError: the id is not one of the 30 franchises', or id and name disagree.
    """
    if isinstance(team_id, bool) or not isinstance(team_id, int):
        raise UnknownTeamError(f"MLB Stats API team id {team_id!r} is not an integer")
    canonical = team_from_mlb_id(team_id)
    if name is not None:
        named = _NAMES.get(_name_key(name))
        if named is not None and named != canonical:
            raise UnknownTeamError(
                f"MLB Stats API team id {team_id} is {canonical}, but its name {name!r} is {named}"
            )
    return canonical
