"""Rows of the Retrosheet play-by-play tables (event_games, plate_appearances, pitcher_games,
lineups, rosters): one frozen dataclass per table, whose fields are the table's columns."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

import pandas as pd

from bullpen.collect.records import QuarantinedRecord

SOURCE = "retrosheet_events"
ACTION_DROPPED_LINE = "dropped_line"
ACTION_DROPPED_FILE = "dropped_file"

OUTCOMES = ("K", "BB", "IBB", "HBP", "1B", "2B", "3B", "HR", "OUT", "ROE", "FC", "CI")
HIT_OUTCOMES = frozenset({"1B", "2B", "3B", "HR"})


@dataclass(frozen=True, slots=True)
class EventGame:
    game_key: str  # Retrosheet game id, e.g. BOS201904090
    season: int
    game_date: date
    away_team: str  # canonical (bullpen.teams)
    home_team: str
    game_number: int
    away_starter: str | None  # Retrosheet ids from `start` lines with fielding position 1
    home_starter: str | None
    source_file: str


@dataclass(frozen=True, slots=True)
class PlateAppearance:
    game_key: str
    seq: int  # 1.. within the game
    game_date: date
    inning: int
    batting_side: int  # 0 visitor, 1 home
    batter: str
    pitcher: str  # the pitcher on the mound when the plate appearance ended
    outcome: str  # one of OUTCOMES
    outs_on_play: int
    runs_on_play: int
    pitches: int | None  # None when the pitch sequence is empty or unknown


@dataclass(frozen=True, slots=True)
class PitcherGame:
    game_key: str
    pitcher: str
    game_date: date
    season: int
    team: str
    opponent: str
    side: int  # 0 visitor, 1 home
    is_starter: bool
    appearance_order: int  # 1 = starter
    inning_entered: int
    batters_faced: int
    outs_recorded: int
    pitches: int | None  # None when any plate appearance against him lacks a pitch sequence
    strikeouts: int
    walks: int  # incl. intentional
    hbp: int
    hits: int
    home_runs: int
    runs_allowed: int  # runs scored while he was on the mound
    earned_runs: int | None  # Retrosheet's `data,er`; None when the file has none for him


@dataclass(frozen=True, slots=True)
class LineupSlot:
    game_key: str
    side: int
    batting_order: int  # 1-9
    player: str


@dataclass(frozen=True, slots=True)
class RosterEntry:
    season: int
    team: str
    player: str
    last_name: str
    first_name: str
    bats: str
    throws: str
    position: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EventCounts:
    """Rows per table (and quarantined records) of a parse; the write summaries extend it."""

    games: int
    plate_appearances: int
    pitcher_games: int
    lineups: int
    rosters: int
    quarantined: int


@dataclass(slots=True)
class EventParse:
    games: list[EventGame] = field(default_factory=list)
    plate_appearances: list[PlateAppearance] = field(default_factory=list)
    pitcher_games: list[PitcherGame] = field(default_factory=list)
    lineups: list[LineupSlot] = field(default_factory=list)
    rosters: list[RosterEntry] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    # sha256 of each file read (tarball members as "YYYY.tar.gz:YYYY/NAME"), for the file ledger
    file_sha256: dict[str, str] = field(default_factory=dict)

    def counts(self) -> EventCounts:
        return EventCounts(
            games=len(self.games),
            plate_appearances=len(self.plate_appearances),
            pitcher_games=len(self.pitcher_games),
            lineups=len(self.lineups),
            rosters=len(self.rosters),
            quarantined=len(self.quarantined),
        )

    def extend(self, other: EventParse) -> None:
        self.file_sha256.update(other.file_sha256)
        self.games.extend(other.games)
        self.plate_appearances.extend(other.plate_appearances)
        self.pitcher_games.extend(other.pitcher_games)
        self.lineups.extend(other.lineups)
        self.rosters.extend(other.rosters)
        self.quarantined.extend(other.quarantined)


TABLE_ROWS: dict[str, type] = {
    "event_games": EventGame,
    "plate_appearances": PlateAppearance,
    "pitcher_games": PitcherGame,
    "lineups": LineupSlot,
    "rosters": RosterEntry,
}
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(f.name for f in fields(row)) for table, row in TABLE_ROWS.items()
}
_PARSE_ATTR = {
    "event_games": "games",
    "plate_appearances": "plate_appearances",
    "pitcher_games": "pitcher_games",
    "lineups": "lineups",
    "rosters": "rosters",
}


def table_rows(parse: EventParse, table: str) -> list[Any]:
    """The parse's rows of one table (a list of the table's dataclass)."""
    rows: list[Any] = getattr(parse, _PARSE_ATTR[table])
    return rows


def to_frames(parse: EventParse) -> dict[str, pd.DataFrame]:
    """One DataFrame per table, columns in the tables' order (see TABLE_COLUMNS)."""
    frames = {}
    for table, columns in TABLE_COLUMNS.items():
        rows = table_rows(parse, table)
        # Column-wise construction: building from tuples is far faster than from dataclasses.
        data = {c: [getattr(r, c) for r in rows] for c in columns}
        frames[table] = pd.DataFrame(data, columns=list(columns))
    return frames
