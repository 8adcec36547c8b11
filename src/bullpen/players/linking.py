"""Link SBR's listed starting pitcher (e.g. "MSCHERZER-R") to a Retrosheet player id.

SBR prints a starter as first initial + surname in capitals with a -L/-R hand suffix, drops the
initial for long names before about 2016, sometimes omits the suffix and sometimes leaves the cell
blank. The only trustworthy candidates are the team's pitchers of that season, so a name is
compared with (1) the pitcher who actually started (Retrosheet game log) and (2) the team's
roster, on the first six letters of initial + surname, then on the surname alone (in the
forms SBR writes it: without the initial, behind part of the first name, with letters dropped).
When two of the team's pitchers share what was matched, only an initial can tell them apart;
otherwise the name is left unmatched as "ambiguous". Unmatched names keep their reason and are
never guessed. Names are compared folded (accents, punctuation, spaces and "JR" dropped).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
import psycopg

REGISTER_FILE = "register/people_mlb_2005_2026.csv.gz"  # under the data folder
PREFIX_LETTERS = 6
METHODS = ("actual_prefix", "roster_prefix", "actual_surname", "roster_surname", "unmatched")
LINK_COLUMNS = (
    "game_id", "side", "sbr_name", "listed_starter", "method", "late_scratch", "reason",
)  # fmt: skip
AWAY, HOME = 0, 1  # `side` as in the event tables: 0 visitor, 1 home

_HAND_SUFFIX = re.compile(r"-\s*[LR]\s*$")
_NOT_LETTER = re.compile(r"[^A-Z]")
# Generational suffixes are not part of the surname SBR prints ("LMCCULLERS", not "...JR").
_NAME_SUFFIXES = frozenset({"JR", "SR", "II", "III", "IV"})


@lru_cache(maxsize=32768)
def fold(text: str) -> str:
    """Upper-case A-Z only: accents folded (NFKD), punctuation and spaces dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_LETTER.sub("", ascii_only.upper())


@lru_cache(maxsize=32768)
def fold_surname(last_name: str) -> str:
    """A roster surname folded, without a generational suffix ("Sánchez Jr." -> "SANCHEZ")."""
    words = re.split(r"[\s.,]+", last_name.strip())
    kept = [w for w in words if w and fold(w) not in _NAME_SUFFIXES]
    return fold(" ".join(kept or words))


@lru_cache(maxsize=32768)
def clean_sbr_name(cell: str | None) -> str | None:
    """SBR's starter cell folded, without hand suffixes or a trailing "JR"; None when blank."""
    if cell is None or cell != cell:  # None or NaN
        return None
    name = str(cell).strip().upper()
    while _HAND_SUFFIX.search(name):
        name = _HAND_SUFFIX.sub("", name).strip()
    folded = fold(name)
    if folded.endswith("JR") and len(folded) > 6:
        folded = folded[:-2]
    if not folded or folded in {"UNDECIDED", "TBD", "TBA"}:
        return None
    return folded


@dataclass(frozen=True, slots=True)
class Person:
    player: str  # Retrosheet id
    names: tuple[tuple[str, str], ...]  # (folded first name, folded surname); roster first

    def prefixes(self) -> set[str]:
        return {(first[:1] + last)[:PREFIX_LETTERS] for first, last in self.names}


@dataclass(frozen=True, slots=True)
class Link:
    sbr_name: str | None
    listed_starter: str | None
    method: str
    late_scratch: bool
    reason: str | None


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(c in letters for c in short)


def _surname_match(name: str, first: str, last: str) -> bool:
    """SBR's name fits this surname without the initial deciding.

    Forms met in SBR's files: the surname alone or behind any initial, on six letters
    ("MASTERSON", "CCARPENTER" for a "Chris"); part or all of the first name before the whole
    surname ("JERWEAVER", "HYUNJINRYU", "TJMCFARLAND"); the surname with letters dropped
    ("BILLNGSLEY", "RHERNANDZ"; at least six letters kept, the first two and the last as written).
    """
    if not last:
        return False
    six = last[:PREFIX_LETTERS]
    if name[:PREFIX_LETTERS] == six or name[1 : 1 + PREFIX_LETTERS] == six:
        return True
    if len(last) >= 3 and name.endswith(last) and len(name) > len(last):
        given = name[: -len(last)]
        if first.startswith(given):
            return True
    for rest in (name, name[1:]):
        if (
            len(rest) >= PREFIX_LETTERS
            and len(rest) < len(last)
            and rest[:2] == last[:2]
            and rest[-1] == last[-1]
            and _is_subsequence(rest, last)
        ):
            return True
    return False


def link_name(sbr_name: str | None, actual: Person | None, pitchers: Iterable[Person]) -> Link:
    """Link one SBR name to one of a team-season's pitchers (see the module doc for the rules).

    `actual` is who started the game (None when the game log has no starter); `pitchers` are the
    team's pitchers that season (the actual starter may or may not be among them). The prefix
    rule is tried on every candidate before the surname rule, so that an initial that picks one of
    two pitchers with one surname wins over the surname alone picking who started.
    """
    name = clean_sbr_name(sbr_name)
    if name is None:
        return Link(None, None, "unmatched", False, "blank")
    shown = str(sbr_name).strip()  # stored as SBR wrote it (the games table's name)
    pool = {p.player: p for p in pitchers}
    if actual is not None:
        pool.setdefault(actual.player, actual)
    if not pool:
        return Link(shown, None, "unmatched", False, "no roster for team and season")

    def decide(person: Person, rule: str) -> Link:
        is_actual = actual is not None and person.player == actual.player
        method = f"{'actual' if is_actual else 'roster'}_{rule}"
        if actual is None:
            return Link(shown, person.player, method, False, "actual starter unknown")
        return Link(shown, person.player, method, not is_actual, None)

    head = name[:PREFIX_LETTERS]
    by_prefix = [p for p in pool.values() if head in p.prefixes()]
    if len(by_prefix) == 1:
        return decide(by_prefix[0], "prefix")
    if len(by_prefix) > 1:
        ids = ",".join(sorted(p.player for p in by_prefix))
        return Link(shown, None, "unmatched", False, f"ambiguous: initial+surname fits {ids}")
    by_surname = [p for p in pool.values() if any(_surname_match(name, f, s) for f, s in p.names)]
    if len(by_surname) == 1:
        return decide(by_surname[0], "surname")
    if len(by_surname) > 1:
        ids = ",".join(sorted(p.player for p in by_surname))
        return Link(shown, None, "unmatched", False, f"ambiguous: surname fits {ids}")
    return Link(shown, None, "unmatched", False, "no pitcher of the team fits the name")


def _name(first_name: object, last_name: object) -> tuple[str, str] | None:
    first = fold(first_name) if isinstance(first_name, str) else ""
    last = fold_surname(last_name) if isinstance(last_name, str) else ""
    return (first, last) if last else None


def read_register(path: Path) -> pd.DataFrame:
    """The bundled Chadwick register (data/register/people_mlb_2005_2026.csv.gz)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def register_names(register: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Retrosheet id -> further (first, surname) spellings from the Chadwick register.

    The register has a person's current name and given name: Fausto Carmona's Retrosheet roster
    keeps "Carmona" while SBR lists him as "RHERNANDEZ" from 2012.
    """
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    columns = ["key_retro", "name_first", "name_last", "name_given"]
    for player, first, last, given in register[columns].itertuples(index=False, name=None):
        if not isinstance(player, str):
            continue
        for spelling in (_name(first, last), _name(given, last)):
            if spelling is not None and spelling not in out[player]:
                out[player].append(spelling)
    return out


def roster_index(
    rosters: pd.DataFrame, register: pd.DataFrame | None = None
) -> tuple[dict[tuple[int, str], list[Person]], dict[tuple[int, str], Person]]:
    """(team-season -> its pitchers, (season, player) -> the person), from a rosters frame.

    Candidates are the roster's pitchers (position "P"); a position player is never an SBR
    starter, and counting him would make "two players with one surname" ambiguous for nothing.
    The actual starter is always a candidate whatever his roster position.
    """
    aliases = register_names(register) if register is not None else {}
    pitchers: dict[tuple[int, str], list[Person]] = defaultdict(list)
    people: dict[tuple[int, str], Person] = {}
    columns = ["season", "team", "player", "first_name", "last_name", "position"]
    for season, team, player, first, last, position in rosters[columns].itertuples(
        index=False, name=None
    ):
        names = [n for n in (_name(first, last),) if n is not None]
        names += [n for n in aliases.get(player, ()) if n not in names]
        person = Person(player, tuple(names))
        people[(int(season), player)] = person
        if position == "P":
            pitchers[(int(season), team)].append(person)
    return pitchers, people


def link_listed_starters(
    games: pd.DataFrame, rosters: pd.DataFrame, register: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per game and side: the Retrosheet id of the starter SBR listed, and how it was found.

    `games` needs season, away_team, home_team, away_pitcher, home_pitcher, away_starter_id and
    home_starter_id (canonical team ids, as in the games table); `rosters` needs season, team,
    player, first_name, last_name and position (rosters table). Output columns: game_id (the
    games' `game_id` column, else their index), side (0 away, 1 home), sbr_name (as SBR wrote it),
    listed_starter, method (one of METHODS), late_scratch (the listed pitcher was identified and
    did not start) and reason (why unmatched; "actual starter unknown" when matched without a
    game log starter to compare with). `register` (read_register) adds the Chadwick register's
    spellings of each rostered player's name.
    """
    pitchers, people = roster_index(rosters, register)
    keys = games["game_id"] if "game_id" in games.columns else pd.Series(games.index, games.index)
    rows: list[tuple[object, ...]] = []
    columns = ["season", "away_team", "home_team", "away_pitcher", "home_pitcher"]
    columns += ["away_starter_id", "home_starter_id"]
    for key, (season, away, home, away_p, home_p, away_id, home_id) in zip(
        keys.tolist(), games[columns].itertuples(index=False, name=None), strict=True
    ):
        sides = ((AWAY, away, away_p, away_id), (HOME, home, home_p, home_id))
        for side, team, cell, starter in sides:
            actual = None
            if isinstance(starter, str) and starter:
                actual = people.get((int(season), starter), Person(starter, ()))
            link = link_name(cell, actual, pitchers.get((int(season), team), ()))
            rows.append((key, side, link.sbr_name, link.listed_starter, link.method,
                         link.late_scratch, link.reason))  # fmt: skip
    out = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    out["late_scratch"] = out["late_scratch"].astype(bool)
    return out


def attach_listed_starters(games: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """`games` plus away_listed_starter / home_listed_starter (None when unmatched) from `links`."""
    keys = games["game_id"] if "game_id" in games.columns else pd.Series(games.index, games.index)
    out = games.copy()
    for side, prefix in ((AWAY, "away"), (HOME, "home")):
        chosen = links.loc[links["side"] == side].set_index("game_id")["listed_starter"]
        out[f"{prefix}_listed_starter"] = keys.map(chosen).where(lambda s: s.notna(), None).values
    return out


def match_rates(links: pd.DataFrame, games: pd.DataFrame) -> pd.DataFrame:
    """Per season: sides with an SBR name, share matched, share late-scratched, methods counts."""
    keys = games["game_id"] if "game_id" in games.columns else pd.Series(games.index, games.index)
    season = links["game_id"].map(pd.Series(games["season"].values, index=keys.values))
    named = links.assign(season=season.values)
    named = named[named["sbr_name"].notna()]
    grouped = named.groupby("season")
    table = pd.DataFrame(
        {
            "named_sides": grouped.size(),
            "match_rate": grouped["listed_starter"].apply(lambda s: s.notna().mean()),
            "late_scratch_rate": grouped["late_scratch"].mean(),
            "ambiguous": grouped["reason"].apply(
                lambda s: s.fillna("").str.startswith("ambiguous").sum()
            ),
        }
    )
    methods = named.pivot_table(index="season", columns="method", values="side", aggfunc="count")
    return table.join(methods.fillna(0).astype(int))


def store_links(conn: psycopg.Connection, links: pd.DataFrame) -> int:
    """Upsert links (link_listed_starters output; game_id = games.game_id) in one transaction.

    Idempotent: a rerun with the same links rewrites no row. Returns the number of rows given.
    """
    rows = [
        (int(g), int(side), _text(name), _text(listed), method, bool(late), _text(reason))
        for g, side, name, listed, method, late, reason in links[list(LINK_COLUMNS)].itertuples(
            index=False, name=None
        )
    ]
    values = ("sbr_name", "listed_starter", "method", "late_scratch", "reason")
    assign = ", ".join(f"{c} = EXCLUDED.{c}" for c in values)
    old = ", ".join(f"starter_links.{c}" for c in values)
    new = ", ".join(f"EXCLUDED.{c}" for c in values)
    sql = (
        "INSERT INTO starter_links (game_id, side, sbr_name, listed_starter, method,"
        " late_scratch, reason) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (game_id, side) DO UPDATE SET {assign}"
        f" WHERE ({old}) IS DISTINCT FROM ({new})"
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(sql, rows)
    return len(rows)


def load_links(conn: psycopg.Connection) -> pd.DataFrame:
    """Every stored link, columns LINK_COLUMNS, ordered by game and side."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(LINK_COLUMNS)} FROM starter_links ORDER BY game_id, side")
        rows = cur.fetchall()
    out = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    out["late_scratch"] = out["late_scratch"].astype(bool)
    return out


@dataclass(frozen=True)
class UnmatchedStarter:
    game_date: date
    away_team: str
    home_team: str
    side: int  # AWAY or HOME
    sbr_name: str
    reason: str


def unmatched_starters(
    conn: psycopg.Connection, *, season: int | None = None, limit: int = 50
) -> list[UnmatchedStarter]:
    """Stored listed starters that no rule could link, with the reason, in game order."""
    rows = conn.execute(
        """
        SELECT g.game_date, g.away_team, g.home_team, l.side, l.sbr_name, l.reason
        FROM starter_links l JOIN games g USING (game_id)
        WHERE l.listed_starter IS NULL AND l.sbr_name IS NOT NULL
          AND (%(season)s::int IS NULL OR g.season = %(season)s::int)
        ORDER BY g.game_date, g.game_id, l.side
        LIMIT %(limit)s
        """,
        {"season": season, "limit": limit},
    ).fetchall()
    return [UnmatchedStarter(*row) for row in rows]


@dataclass(frozen=True)
class SeasonLinks:
    season: int
    named: int  # sides with a listed starter's name
    matched: int  # of those, linked to a Retrosheet id
    late_scratches: int


def stored_link_counts(conn: psycopg.Connection) -> list[SeasonLinks]:
    """Per season of the stored links: names, links and late scratches."""
    rows = conn.execute(
        """
        SELECT g.season, count(*) FILTER (WHERE l.sbr_name IS NOT NULL),
               count(l.listed_starter), count(*) FILTER (WHERE l.late_scratch)
        FROM starter_links l JOIN games g USING (game_id)
        GROUP BY g.season ORDER BY g.season
        """
    ).fetchall()
    return [SeasonLinks(*row) for row in rows]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class LinkSummary:
    sides: int
    named: int
    matched: int
    late_scratches: int
    unmatched: int


def link_and_store(database_url: str, register_path: Path | None = None) -> LinkSummary:
    """Link every game's listed starters against the loaded rosters (and the Chadwick register's
    spellings, when given) and store the links.

    Games of seasons without rosters (no play-by-play loaded) are left unlinked. Idempotent.
    """
    register = read_register(register_path) if register_path and register_path.exists() else None
    from bullpen.collect.history.events.load import load_rosters
    from bullpen.db import engine
    from bullpen.db.games import load_game_frame

    with engine.connect(database_url) as conn:
        rosters = load_rosters(conn)
        games = load_game_frame(conn)
        games = games[games["season"].isin(set(rosters["season"]))]
        links = link_listed_starters(games, rosters, register)
        store_links(conn, links)
    named = links["sbr_name"].notna()
    matched = links["listed_starter"].notna()
    return LinkSummary(
        sides=len(links),
        named=int(named.sum()),
        matched=int(matched.sum()),
        late_scratches=int(links["late_scratch"].sum()),
        unmatched=int((named & ~matched).sum()),
    )
