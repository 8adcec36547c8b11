"""Parse Retrosheet play-by-play event files (and rosters) into plate appearances and pitcher games.

Pure: text in, frozen rows out; nothing here touches a database or the network. The format is
Retrosheet's (https://www.retrosheet.org/eventfile.htm): `id` opens a game, `info`, `start`/`sub`,
`play`, `data,er`, `com` and adjustment records follow. Per game the parser keeps the bases and
the pitcher on the mound of each side, and reads every play's event far enough to know how many
outs and runs it produced; that is checked against the game logs (length in outs, final score)
by `reconcile_with_gamelog`.

Bad input never raises: a line that is not a record is quarantined on its own; a record that
breaks a game (an event that cannot be read, a start/sub line with missing fields, an unknown
team) quarantines the whole game, because a game with a gap in its plays would give wrong counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bullpen.collect.history.events.plays import (
    DROP_NOT_PITCHES,
    EventError,
    step,
)
from bullpen.collect.history.events.rows import (
    ACTION_DROPPED_LINE,
    HIT_OUTCOMES,
    SOURCE,
    EventGame,
    EventParse,
    LineupSlot,
    PitcherGame,
    PlateAppearance,
    RosterEntry,
)
from bullpen.collect.history.sbr import ACTION_DROPPED_GAME
from bullpen.collect.records import QuarantinedRecord
from bullpen.teams import UnknownTeamError, team_from_retrosheet


class _GameRejected(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(slots=True)
class _Pitching:
    """Running totals of one pitcher in one game."""

    pitcher: str
    side: int
    order: int
    inning_entered: int | None = None
    batters_faced: int = 0
    outs: int = 0
    pitches: int = 0
    pitches_known: bool = True
    strikeouts: int = 0
    walks: int = 0
    hbp: int = 0
    hits: int = 0
    home_runs: int = 0
    runs: int = 0


class _Game:
    """Accumulates one game's records; `finish` turns them into rows."""

    def __init__(self, game_key: str, line: int, file_name: str, season: int) -> None:
        self.game_key = game_key
        self.first_line = line
        self.file_name = file_name
        self.season = season
        self.info: dict[str, str] = {}
        self.starters: list[str | None] = [None, None]
        self.mound: list[_Pitching | None] = [None, None]
        self.pitchers: dict[str, _Pitching] = {}
        self.appearances = [0, 0]
        self.lineup: dict[tuple[int, int], str] = {}
        self.pas: list[tuple[Any, ...]] = []
        self.earned: dict[str, int] = {}
        self.bases: tuple[bool, ...] = (False, False, False, False)
        self.half: tuple[int, int] = (0, -1)
        self.seen_pitches = ""  # pitch string of the plate appearance in progress
        self.pending_runners: list[int] = []  # `radj` runners for the next half-inning

    def _enter(self, pitcher: str, side: int) -> None:
        current = self.pitchers.get(pitcher)
        if current is None:
            self.appearances[side] += 1
            current = _Pitching(pitcher, side, self.appearances[side])
            self.pitchers[pitcher] = current
        self.mound[side] = current

    def start(self, parts: list[str], line: int, substitute: bool) -> None:
        if len(parts) < 6:
            raise _GameRejected(line, f"{parts[0]} line has {len(parts)} fields, needs 6")
        player, side_text, order_text, position = parts[1], parts[-3], parts[-2], parts[-1]
        if side_text not in ("0", "1") or not order_text.isdigit() or not position.isdigit():
            raise _GameRejected(line, f"{parts[0]} line: bad team/order/position fields")
        side, order = int(side_text), int(order_text)
        if not player:
            raise _GameRejected(line, f"{parts[0]} line without a player id")
        if not substitute and 1 <= order <= 9:
            self.lineup[(side, order)] = player
        if position == "1":
            if not substitute:
                self.starters[side] = player
            self._enter(player, side)

    def play(self, parts: list[str], line: int) -> None:
        if len(parts) != 7:
            raise _GameRejected(line, f"play line has {len(parts)} fields, needs 7")
        _, inning_text, side_text, batter, _count, sequence, event = parts
        if not inning_text.isdigit() or side_text not in ("0", "1"):
            raise _GameRejected(line, "play line: bad inning or team field")
        inning, side = int(inning_text), int(side_text)
        pitching = self.mound[1 - side]
        if pitching is None:
            raise _GameRejected(line, "play before the fielding side has a pitcher")
        if (inning, side) != self.half:
            self.half = (inning, side)
            bases = [False, False, False, False]
            for runner in self.pending_runners:
                bases[runner] = True
            self.bases = tuple(bases)
            self.seen_pitches = ""
            self.pending_runners = []
        try:
            play, outs, runs, self.bases = step(event, self.bases)
        except EventError as exc:
            raise _GameRejected(line, f"event {event!r}: {exc}") from None
        if pitching.inning_entered is None:
            pitching.inning_entered = inning
        pitching.outs += outs
        pitching.runs += runs

        known = bool(sequence) and "?" not in sequence
        # The pitch string of a line repeats the pitches of earlier lines of the same plate
        # appearance (a stolen base mid-count, a pinch hitter inheriting the count, a game
        # suspended mid-count: "BCB" then "..BCBX"); only the new ones were thrown on this line.
        thrown = sequence.translate(DROP_NOT_PITCHES)
        if self.seen_pitches and thrown.startswith(self.seen_pitches):
            pitching.pitches += len(thrown) - len(self.seen_pitches)
        else:
            pitching.pitches += len(thrown)
        if not play.is_pa:
            self.seen_pitches = thrown
            return
        self.seen_pitches = ""
        outcome = play.outcome
        pitching.batters_faced += 1
        if not known:
            pitching.pitches_known = False
        if outcome == "K":
            pitching.strikeouts += 1
        elif outcome in ("BB", "IBB"):
            pitching.walks += 1
        elif outcome == "HBP":
            pitching.hbp += 1
        elif outcome in HIT_OUTCOMES:
            pitching.hits += 1
            if outcome == "HR":
                pitching.home_runs += 1
        self.pas.append(
            (
                inning,
                side,
                batter,
                pitching.pitcher,
                outcome,
                outs,
                runs,
                len(thrown) if known else None,
            )
        )

    def finish(self, out: EventParse) -> None:
        info = self.info
        try:
            away_code, home_code = info["visteam"], info["hometeam"]
            date_text = info["date"]
        except KeyError as exc:
            raise _GameRejected(self.first_line, f"game without info {exc.args[0]}") from None
        try:
            year, month, day = (int(x) for x in date_text.split("/"))
            game_date = date(year, month, day)
        except ValueError:
            reason = f"info date {date_text!r} is not yyyy/mm/dd"
            raise _GameRejected(self.first_line, reason) from None
        number_text = info.get("number", "0")
        if number_text not in ("0", "1", "2"):
            raise _GameRejected(self.first_line, f"info number {number_text!r}")
        try:
            teams = (
                team_from_retrosheet(away_code, game_date.year),
                team_from_retrosheet(home_code, game_date.year),
            )
        except UnknownTeamError as exc:
            raise _GameRejected(self.first_line, str(exc)) from None
        if not self.pas:
            raise _GameRejected(self.first_line, "game without plate appearances")
        if None in self.starters:
            raise _GameRejected(self.first_line, "game without a starting pitcher for each side")
        key = self.game_key
        out.games.append(
            EventGame(
                key,
                self.season,
                game_date,
                teams[0],
                teams[1],
                int(number_text),
                self.starters[0],
                self.starters[1],
                self.file_name,
            )
        )
        for (side, order), player in sorted(self.lineup.items()):
            out.lineups.append(LineupSlot(key, side, order, player))
        for seq, pa in enumerate(self.pas, start=1):
            out.plate_appearances.append(PlateAppearance(key, seq, game_date, *pa))
        for p in self.pitchers.values():
            out.pitcher_games.append(
                PitcherGame(
                    key,
                    p.pitcher,
                    game_date,
                    self.season,
                    teams[p.side],
                    teams[1 - p.side],
                    p.side,
                    p.order == 1,
                    p.order,
                    p.inning_entered if p.inning_entered is not None else self.half[0],
                    p.batters_faced,
                    p.outs,
                    p.pitches if p.pitches_known else None,
                    p.strikeouts,
                    p.walks,
                    p.hbp,
                    p.hits,
                    p.home_runs,
                    p.runs,
                    self.earned.get(p.pitcher),
                )
            )


def quarantine_line(file_name: str, line: int, text: str, reason: str) -> QuarantinedRecord:
    raw = {"action": ACTION_DROPPED_LINE, "line": line, "text": text}
    return QuarantinedRecord(SOURCE, file_name, line, reason, raw)


def parse_event_text(text: str, file_name: str, season: int) -> EventParse:
    """Parse one event file (one team's home games of a season).

    Never raises for bad data: a bad line is quarantined alone when the game's counts do not
    depend on it; otherwise the whole game is quarantined (file, line, reason) and the rest of
    the file loads.
    """
    out = EventParse()
    game: _Game | None = None
    rejected: _GameRejected | None = None
    seen_keys: set[str] = set()

    def close() -> None:
        nonlocal game, rejected
        if game is not None:
            if rejected is None:
                try:
                    game.finish(out)
                except _GameRejected as exc:
                    rejected = exc
            if rejected is not None:
                raw = {
                    "action": ACTION_DROPPED_GAME,
                    "game_key": game.game_key,
                    "first_line": game.first_line,
                }
                out.quarantined.append(
                    QuarantinedRecord(SOURCE, file_name, rejected.line, rejected.reason, raw)
                )
        game, rejected = None, None

    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        parts = line.split(",")
        kind = parts[0]
        if kind == "id":
            close()
            key = parts[1] if len(parts) == 2 else ""
            if not re.fullmatch(r"[A-Z]{3}\d{9}", key):
                out.quarantined.append(
                    quarantine_line(file_name, number, line, f"game id {key!r} is malformed")
                )
                continue
            game = _Game(key, number, file_name, season)
            if key in seen_keys:
                rejected = _GameRejected(number, f"game {key} appears twice in the file")
            seen_keys.add(key)
            continue
        if game is None:
            out.quarantined.append(
                quarantine_line(file_name, number, line, f"{kind!r} record outside a game")
            )
            continue
        if rejected is not None:
            continue
        try:
            if kind == "play":
                game.play(parts, number)
            elif kind == "sub":
                game.start(_name_fields(line, parts), number, substitute=True)
            elif kind == "start":
                game.start(_name_fields(line, parts), number, substitute=False)
            elif kind == "info":
                if len(parts) >= 3:
                    game.info[parts[1]] = ",".join(parts[2:])
            elif kind == "data":
                if len(parts) != 4 or parts[1] != "er" or not parts[3].isdigit():
                    raise _GameRejected(number, f"data line {line!r} is not data,er,player,n")
                game.earned[parts[2]] = game.earned.get(parts[2], 0) + int(parts[3])
            elif kind == "radj":
                # Extra-inning runner placed on base (2020-): he starts the next half-inning there.
                if len(parts) != 3 or parts[2] not in ("1", "2", "3"):
                    raise _GameRejected(number, f"radj line {line!r} is not radj,player,base")
                game.pending_runners.append(int(parts[2]))
            elif kind in ("com", "badj", "padj", "ladj", "presadj", "version"):
                pass  # comments and handedness/order adjustments do not change counts
            else:
                out.quarantined.append(
                    quarantine_line(file_name, number, line, f"unknown record type {kind!r}")
                )
        except _GameRejected as exc:
            rejected = exc
    close()
    return out


def _name_fields(line: str, parts: list[str]) -> list[str]:
    """start/sub fields with the quoted name kept whole (a name may hold a comma)."""
    if line.count('"') == 2:
        head, name, tail = line.split('"')
        return [*head.rstrip(",").split(","), name, *tail.lstrip(",").split(",")]
    return parts


# --- rosters ----------------------------------------------------------------------------------


def parse_roster_text(text: str, file_name: str, season: int) -> EventParse:
    """Parse one roster file: `id,last,first,bats,throws,team,position` per line."""
    out = EventParse()
    seen: set[tuple[str, str]] = set()
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) != 7 or not parts[0]:
            out.quarantined.append(
                quarantine_line(file_name, number, line, f"{len(parts)} fields, a roster has 7")
            )
            continue
        player, last, first, bats, throws, code, position = parts
        try:
            team = team_from_retrosheet(code, season)
        except UnknownTeamError as exc:
            out.quarantined.append(quarantine_line(file_name, number, line, str(exc)))
            continue
        if (team, player) in seen:
            out.quarantined.append(
                quarantine_line(file_name, number, line, f"{player} twice on the roster")
            )
            continue
        seen.add((team, player))
        out.rosters.append(RosterEntry(season, team, player, last, first, bats, throws, position))
    return out
