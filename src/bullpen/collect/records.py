"""Typed rows that parsers produce and the store writes: games with market lines, quarantine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class GameRecord:
    """One game as bullpen stores it; natural key (game_date, away_team, home_team, game_number).

    Team ids are canonical (bullpen.teams). Prices are American odds; a price or line is None when
    the source had no trustworthy value (the reason is then in quarantine). Scores are None for
    games without a result (postponed, never played).
    """

    season: int
    game_date: date
    away_team: str
    home_team: str
    game_number: int  # 0 = single game, 1/2 = first/second game of a doubleheader
    neutral_site: bool = False
    away_pitcher: str | None = None  # source's starter name, e.g. SBR "MGONZALES"
    home_pitcher: str | None = None
    away_pitcher_hand: str | None = None  # "L" / "R"
    home_pitcher_hand: str | None = None
    away_starter_id: str | None = None  # Retrosheet player id when known
    home_starter_id: str | None = None
    away_score: int | None = None
    home_score: int | None = None
    score_source: str | None = None  # "sbr" | "retrosheet"
    outs: int | None = None  # length of game in outs (Retrosheet), None if unknown
    # Market (SBR: one unnamed book, open and close)
    away_open_ml: int | None = None
    home_open_ml: int | None = None
    away_close_ml: int | None = None
    home_close_ml: int | None = None
    open_total: float | None = None
    open_over_price: int | None = None
    open_under_price: int | None = None
    close_total: float | None = None
    close_over_price: int | None = None
    close_under_price: int | None = None
    home_runline: float | None = None  # spread for the home team, e.g. -1.5
    home_runline_price: int | None = None
    away_runline_price: int | None = None
    source_file: str | None = None
    source_row: int | None = None  # 1-based line number in source_file (header is line 1)


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """A record (or a field of one) that could not be trusted, with where it came from and why."""

    source: str  # "sbr" | "retrosheet" | ...
    file: str
    row: int  # 1-based line number of the (first) offending line
    reason: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ParseResult:
    games: list[GameRecord] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
