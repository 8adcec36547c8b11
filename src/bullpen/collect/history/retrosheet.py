"""Parse Retrosheet game logs (GLyyyy.TXT) into game records with scores, outs and starters."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from bullpen.collect.history.sbr import ACTION_DROPPED_GAME
from bullpen.collect.records import GameRecord, ParseResult, QuarantinedRecord
from bullpen.teams import UnknownTeamError, team_from_retrosheet

SOURCE = "retrosheet"

# 0-based positions of the game-log fields used (Retrosheet's glfields.txt numbers them from 1).
_DATE, _GAME_NUMBER, _VISITOR, _HOME, _VISITOR_SCORE, _HOME_SCORE, _OUTS = 0, 1, 3, 6, 9, 10, 11
_VISITOR_STARTER_ID, _VISITOR_STARTER, _HOME_STARTER_ID, _HOME_STARTER = 101, 102, 103, 104
_MIN_FIELDS = _HOME_STARTER + 1  # the format has 161; these are all this parser needs

# "A"/"B" mark the two games of an old three-team double-header: each is the only game of its
# own matchup that day.
_GAME_NUMBERS = {"0": 0, "1": 1, "2": 2, "3": 3, "A": 0, "B": 0}


class _LineRejected(Exception):
    """A game-log line that cannot be read as a game."""


def _parse_date(text: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise _LineRejected(f"date {text!r} is not yyyymmdd")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise _LineRejected(f"date {text!r} is not a calendar day") from None


def _parse_count(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _LineRejected(f"{what} {text!r} is not a whole number") from None
    if value < 0:
        raise _LineRejected(f"{what} {value} is negative")
    return value


def _optional(text: str) -> str | None:
    text = text.strip()
    return text or None


def _parse_line(fields: list[str], file_name: str, line: int) -> GameRecord:
    if len(fields) < _MIN_FIELDS:
        raise _LineRejected(f"{len(fields)} fields, a game log line has 161")
    game_date = _parse_date(fields[_DATE])
    game_number = _GAME_NUMBERS.get(fields[_GAME_NUMBER].strip())
    if game_number is None:
        raise _LineRejected(f"game number {fields[_GAME_NUMBER]!r} is not one Retrosheet uses")
    try:
        away_team = team_from_retrosheet(fields[_VISITOR], game_date.year)
        home_team = team_from_retrosheet(fields[_HOME], game_date.year)
    except UnknownTeamError as exc:
        raise _LineRejected(str(exc)) from None
    if away_team == home_team:
        raise _LineRejected(f"both teams are {away_team}")
    outs_text = fields[_OUTS].strip()
    return GameRecord(
        season=game_date.year,
        game_date=game_date,
        away_team=away_team,
        home_team=home_team,
        game_number=game_number,
        away_pitcher=_optional(fields[_VISITOR_STARTER]),
        home_pitcher=_optional(fields[_HOME_STARTER]),
        away_starter_id=_optional(fields[_VISITOR_STARTER_ID]),
        home_starter_id=_optional(fields[_HOME_STARTER_ID]),
        away_score=_parse_count(fields[_VISITOR_SCORE], "visitor score"),
        home_score=_parse_count(fields[_HOME_SCORE], "home score"),
        score_source=SOURCE,
        # Retrosheet leaves the length blank when it is unknown.
        outs=_parse_count(outs_text, "length in outs") if outs_text else None,
        source_file=file_name,
        source_row=line,
    )


def _quarantine(file_name: str, line: int, fields: list[str], reason: str) -> QuarantinedRecord:
    raw: dict[str, Any] = {
        "action": ACTION_DROPPED_GAME,
        "rows": [{"line": line, "fields": fields}],
    }
    return QuarantinedRecord(SOURCE, file_name, line, reason, raw)


def parse_retrosheet_file(text: str, file_name: str) -> ParseResult:
    """Parse one Retrosheet game log (no header, one game per line) into games and quarantine.

    Games carry scores, length in outs, starter ids and Retrosheet's starter names; no market
    fields. Never raises for bad data: a line that cannot be read, or a second line with the same
    (date, visitor, home, game number), is quarantined with its line number and fields.
    """
    result = ParseResult()
    seen: set[tuple[date, str, str, int]] = set()
    reader = csv.reader(io.StringIO(text))
    for fields in reader:
        line = reader.line_num
        if len(fields) <= 1 and not "".join(fields).strip():
            continue  # a blank line is not a game
        try:
            game = _parse_line(fields, file_name, line)
        except _LineRejected as exc:
            result.quarantined.append(_quarantine(file_name, line, fields, str(exc)))
            continue
        key = (game.game_date, game.away_team, game.home_team, game.game_number)
        if key in seen:
            reason = f"duplicate game {key[0]} {key[1]}@{key[2]} number {key[3]}"
            result.quarantined.append(_quarantine(file_name, line, fields, reason))
            continue
        seen.add(key)
        result.games.append(game)
    return result
