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

import gzip
import hashlib
import re
import tarfile
from collections.abc import Container
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from bullpen.collect.history.retrosheet import parse_retrosheet_file
from bullpen.collect.history.sbr import ACTION_DROPPED_GAME
from bullpen.collect.records import QuarantinedRecord
from bullpen.teams import UnknownTeamError, team_from_retrosheet

SOURCE = "retrosheet_events"
ACTION_DROPPED_LINE = "dropped_line"
ACTION_DROPPED_FILE = "dropped_file"

OUTCOMES = ("K", "BB", "IBB", "HBP", "1B", "2B", "3B", "HR", "OUT", "ROE", "FC", "CI")
HIT_OUTCOMES = frozenset({"1B", "2B", "3B", "HR"})


# --- rows -----------------------------------------------------------------------------------


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


# --- pitches ----------------------------------------------------------------------------------

# Retrosheet pitch codes that are pitches thrown (B ball, C called strike, F foul, H hit batter,
# I intentional ball, K strike, L foul bunt, M missed bunt, O foul tip on bunt, P pitchout,
# Q swinging on pitchout, R foul on pitchout, S swinging strike, T foul tip, U unknown pitch,
# X in play, Y in play on pitchout). Not pitches: N (no pitch), the markers + * . > and pickoff
# throws 1 2 3, and V, an awarded ball that was never thrown (pitcher went to his mouth, or one
# of the four balls of an automatic intentional walk, written "VVVV" since 2017).
_PITCH_CODES = frozenset("BCFHIKLMOPQRSTUXY")
_NOT_PITCHES = "".join(chr(c) for c in range(128) if chr(c) not in _PITCH_CODES)
_DROP_NOT_PITCHES = str.maketrans("", "", _NOT_PITCHES)


def count_pitches(sequence: str) -> int:
    return len(sequence.translate(_DROP_NOT_PITCHES))


# --- one event ---------------------------------------------------------------------------------

# Event prefixes of plays that are not plate appearances. Order matters where one is a prefix of
# another (POCS before PO); a single "S" or a double "D" must not match SB or DI.
_NOT_PA = ("NP", "SB", "CS", "POCS", "PO", "WP", "PB", "BK", "DI", "OA", "FLE")


class EventError(ValueError):
    """An event string this parser cannot read."""


@dataclass(frozen=True, slots=True)
class Play:
    """What an event does, independent of who is on base: moves of the batter ("B") and runners
    ("1"-"3") to a base 1-4 (4 = scored) or 0 (out). `force` = the batter was awarded first base
    (walk, hit by pitch, interference) or reached it, so unmoved runners behind him are forced."""

    is_pa: bool
    outcome: str | None
    moves: tuple[tuple[str, int], ...]
    force: bool
    all_score: bool  # home run: runners not moved explicitly score


_BASE = {"1": 1, "2": 2, "3": 3, "H": 4, "B": 0}
_ADVANCE = re.compile(r"([B123])([-X])([123H])((?:\([^)]*\))*)$")
_GROUP = re.compile(r"\(([^)]*)\)")
_FIELDING_ERROR = re.compile(r"^\d*E\d")
_HIT = re.compile(r"([SDT])\d*$")
_HOMER = re.compile(r"(HR|H)\d*$")
_FIELDED = re.compile(r"(?:\d+|\([B123]\))+$")
_FIELDED_ERROR = re.compile(r"(?:\d+|\([B123]\))*E\d+(?:\d+|\([B123]\))*$")
_RUNNER_EVENT = re.compile(r"(SB|CS|POCS|PO)([123H])((?:\([^)]*\))*)$")
_OTHER_RUNNER_EVENTS = ("WP", "PB", "BK", "DI", "OA", "NP", "FLE")
_HIT_BASES = {"S": 1, "D": 2, "T": 3}


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses (a throw like "(E2/TH)" holds a slash)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _error_in(groups: str) -> bool:
    """True when the fielding in `groups` negates an out: it holds an error and no clean putout.

    "1X3(E5)", "CS2(2E4)", "2XH(UR)(5E2)": safe on the error. "1X2(54)(E5/TH)" and
    "1XH(E6/TH)(92)": a throwing error, but a clean putout too, so out (both agree with the game
    logs' outs and scores). Remarks such as (UR), (NR), (RBI) are not fieldings.
    """
    fieldings = [g for g in _GROUP.findall(groups) if g[:1].isdigit() or g[:1] == "E"]
    return bool(fieldings) and all(_FIELDING_ERROR.match(g) for g in fieldings)


def _runner_event(text: str, moves: dict[str, int]) -> None:
    """SB/CS/PO/POCS (alone, joined by ';', or after K+ / W+) into runner moves."""
    for item in text.split(";"):
        if item.startswith(_OTHER_RUNNER_EVENTS) or (item.startswith("E") and item[1:].isdigit()):
            continue  # advances, if any, are written after the '.'
        match = _RUNNER_EVENT.match(item)
        if not match:
            raise EventError(f"unknown runner event {item!r}")
        kind, base, groups = match.groups()
        target = _BASE[base]
        if kind == "PO":
            if target == 4:
                raise EventError(f"pickoff at home {item!r}")
            # Picked off: out unless an error let him stay (his advance then follows the '.').
            if not _error_in(groups):
                moves[base] = 0
            continue
        runner = str(target - 1)
        if kind == "SB":
            moves[runner] = target
        elif _error_in(groups):
            moves[runner] = target  # caught stealing negated by an error: he reaches the base
        else:
            moves[runner] = 0


@lru_cache(maxsize=65536)
def parse_event(event: str) -> Play:
    """Read one event string (the 7th field of a `play` line).

    Raises:
        EventError: the event does not follow Retrosheet's grammar as far as this parser reads it.
    """
    text = event.replace("!", "").replace("#", "").replace("?", "").replace(" ", "")
    main, _, advances = text.partition(".")
    basic = _split_top(main, "/")[0]
    if not basic:
        raise EventError("empty event")
    moves: dict[str, int] = {}
    outcome: str | None = None
    force = all_score = False
    is_pa = not basic.startswith(_NOT_PA)

    if not is_pa:
        _runner_event(basic, moves)
    elif basic[0] == "K":
        # K, K23 (dropped third strike thrown out), K+SB2, K+WP (the batter reaches only if an
        # advance B-1 says so).
        outcome = "K"
        moves["B"] = 0
        _, plus, extra = basic.partition("+")
        if plus:
            _runner_event(extra, moves)
    elif basic.startswith(("IW", "I", "W")) and not basic.startswith("WP"):
        outcome = "BB" if basic[0] == "W" else "IBB"
        head, plus, extra = basic.partition("+")
        if head not in ("W", "IW", "I"):
            raise EventError(f"unknown walk {basic!r}")
        moves["B"] = 1
        force = True
        if plus:
            _runner_event(extra, moves)
    elif basic == "HP":
        outcome, force = "HBP", True
        moves["B"] = 1
    elif basic == "C":
        outcome, force = "CI", True
        moves["B"] = 1
    elif basic.startswith("DGR"):
        outcome = "2B"
        moves["B"] = 2
    elif _HOMER.match(basic):
        outcome, all_score = "HR", True
        moves["B"] = 4
    elif _HIT.match(basic):
        outcome = {"S": "1B", "D": "2B", "T": "3B"}[basic[0]]
        moves["B"] = _HIT_BASES[basic[0]]
        force = True
    elif basic.startswith("FC"):
        outcome, force = "FC", True
        moves["B"] = 1
    elif basic[0] == "E" and basic[1:].isdigit():
        outcome, force = "ROE", True
        moves["B"] = 1
    elif _FIELDED.match(basic) or _FIELDED_ERROR.match(basic):
        groups = _GROUP.findall(basic)
        for base in groups:
            moves[base] = 0
        if "E" in basic:
            outcome = "ROE"
            moves.setdefault("B", 1)
        else:
            outcome = "OUT"
            if basic[-1] != ")":
                moves["B"] = 0  # the last fielder in the chain put the batter out
            elif "B" not in moves:
                moves["B"] = 1  # a force out on a runner: the batter reached first
        force = moves.get("B") == 1
    else:
        raise EventError(f"unknown event {basic!r}")

    if advances:
        for item in advances.split(";"):
            match = _ADVANCE.match(item)
            if not match:
                raise EventError(f"unreadable advance {item!r}")
            runner, sep, dest, groups = match.groups()
            out = sep == "X" and not _error_in(groups)
            moves[runner] = 0 if out else _BASE[dest]
    if not is_pa and "B" in moves:
        raise EventError(f"batter moves on a play that is not a plate appearance: {event!r}")
    return Play(is_pa, outcome, tuple(moves.items()), force, all_score)


def apply_play(play: Play, bases: list[bool]) -> tuple[int, int]:
    """Move runners on `bases` (index 1-3 occupied?) for one play; return (outs, runs)."""
    moves = dict(play.moves)
    outs = runs = 0
    if play.force and moves.get("B", 0) >= 1:
        # Unmoved runners forced by the batter (a walk with the bases loaded scores a run).
        pushed = 1
        while pushed <= 3 and bases[pushed] and str(pushed) not in moves:
            moves[str(pushed)] = pushed + 1
            pushed += 1
    if play.all_score:
        for base in (1, 2, 3):
            if bases[base] and str(base) not in moves:
                moves[str(base)] = 4
    new = bases.copy()
    for runner in ("3", "2", "1"):  # lead runner first, so a base he leaves is free
        dest = moves.get(runner)
        if dest is None:
            continue
        base = int(runner)
        new[base] = False
        if dest == 0:
            outs += 1
        elif dest == 4:
            runs += 1
        else:
            new[dest] = True
    dest = moves.get("B")
    if dest is not None:
        if dest == 0:
            outs += 1
        elif dest == 4:
            runs += 1
        else:
            new[dest] = True
    bases[:] = new
    return outs, runs


@lru_cache(maxsize=65536)
def _step(event: str, bases: tuple[bool, ...]) -> tuple[Play, int, int, tuple[bool, ...]]:
    """parse_event + apply_play, memoised: a season has ~5,000 distinct events and far fewer
    (event, bases) pairs than its ~220,000 plays."""
    play = parse_event(event)
    after = list(bases)
    outs, runs = apply_play(play, after)
    return play, outs, runs, tuple(after)


# --- one file ---------------------------------------------------------------------------------


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
            play, outs, runs, self.bases = _step(event, self.bases)
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
        thrown = sequence.translate(_DROP_NOT_PITCHES)
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


def _quarantine_line(file_name: str, line: int, text: str, reason: str) -> QuarantinedRecord:
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
                    _quarantine_line(file_name, number, line, f"game id {key!r} is malformed")
                )
                continue
            game = _Game(key, number, file_name, season)
            if key in seen_keys:
                rejected = _GameRejected(number, f"game {key} appears twice in the file")
            seen_keys.add(key)
            continue
        if game is None:
            out.quarantined.append(
                _quarantine_line(file_name, number, line, f"{kind!r} record outside a game")
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
                    _quarantine_line(file_name, number, line, f"unknown record type {kind!r}")
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

_ROSTER_FILE = re.compile(r"([A-Z]{3})(\d{4})\.ROS$")
_EVENT_FILE = re.compile(r"(\d{4})[A-Z]{3}\.EV[AN]$")


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
                _quarantine_line(file_name, number, line, f"{len(parts)} fields, a roster has 7")
            )
            continue
        player, last, first, bats, throws, code, position = parts
        try:
            team = team_from_retrosheet(code, season)
        except UnknownTeamError as exc:
            out.quarantined.append(_quarantine_line(file_name, number, line, str(exc)))
            continue
        if (team, player) in seen:
            out.quarantined.append(
                _quarantine_line(file_name, number, line, f"{player} twice on the roster")
            )
            continue
        seen.add((team, player))
        out.rosters.append(RosterEntry(season, team, player, last, first, bats, throws, position))
    return out


# --- a season tarball -------------------------------------------------------------------------


def _decode(data: bytes) -> str | None:
    """Event files are ASCII; a member that is not text (NUL bytes, invalid UTF-8) is corrupt."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _quarantine_file(file_name: str, reason: str) -> QuarantinedRecord:
    return QuarantinedRecord(SOURCE, file_name, 0, reason, {"action": ACTION_DROPPED_FILE})


def read_event_season(tar_path: Path, gamelog_path: Path | None = None) -> EventParse:
    """Parse a season tarball (YYYY/*.EVA, *.EVN, *.ROS) in memory, without extracting it.

    With `gamelog_path` (GLYYYY.TXT[.gz]), games missing from the game log are quarantined
    (`quarantine_missing_games`). A member that is not text is quarantined whole; a tarball that
    breaks off keeps the members read before the break and quarantines the rest.
    """
    out = EventParse()
    tar_name = tar_path.name
    seen_games: dict[str, str] = {}
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.rsplit("/", 1)[-1]
                event_match = _EVENT_FILE.match(name)
                roster_match = _ROSTER_FILE.match(name)
                if not (event_match or roster_match):
                    continue  # the TEAMYYYY file and anything else: not needed
                where = f"{tar_name}:{member.name}"
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                text = _decode(data) if handle is not None else None
                if text is None:
                    out.quarantined.append(_quarantine_file(where, "member is not a text file"))
                    continue
                if event_match:
                    parsed = parse_event_text(text, where, int(event_match.group(1)))
                    out.extend(_drop_games_seen_before(parsed, seen_games))
                else:
                    assert roster_match is not None
                    out.extend(parse_roster_text(text, where, int(roster_match.group(2))))
                out.file_sha256[where] = hashlib.sha256(data).hexdigest()
    except (tarfile.TarError, OSError, EOFError) as exc:
        out.quarantined.append(_quarantine_file(tar_name, f"tarball unreadable: {exc}"))
    if gamelog_path is not None:
        out = quarantine_missing_games(out, read_gamelog_keys(gamelog_path))
    return out


def _without_games(parse: EventParse, keys: Container[str]) -> EventParse:
    """A copy of `parse` without every row of the games in `keys` (quarantine copied too)."""
    return EventParse(
        games=[g for g in parse.games if g.game_key not in keys],
        plate_appearances=[r for r in parse.plate_appearances if r.game_key not in keys],
        pitcher_games=[r for r in parse.pitcher_games if r.game_key not in keys],
        lineups=[r for r in parse.lineups if r.game_key not in keys],
        rosters=parse.rosters,
        quarantined=list(parse.quarantined),
        file_sha256=dict(parse.file_sha256),
    )


def _drop_games_seen_before(parse: EventParse, seen: dict[str, str]) -> EventParse:
    """A game id already read from another file of the season (a suspended game written at
    both parks) is quarantined here, so every game appears once (from its first file)."""
    again = {g.game_key for g in parse.games if g.game_key in seen}
    for g in parse.games:
        seen.setdefault(g.game_key, g.source_file)
    if not again:
        return parse
    out = _without_games(parse, again)
    for g in parse.games:
        if g.game_key in again:
            reason = f"game {g.game_key} is also in {seen[g.game_key]}: loaded from there"
            raw = {"action": ACTION_DROPPED_GAME, "game_key": g.game_key}
            out.quarantined.append(QuarantinedRecord(SOURCE, g.source_file, 0, reason, raw))
    return out


# --- game logs ----------------------------------------------------------------------------------

GamelogKey = tuple[date, str, int]  # (date, home team, game number)


@dataclass(frozen=True, slots=True)
class GamelogGame:
    away_team: str
    away_score: int | None
    home_score: int | None
    outs: int | None


def read_gamelog_keys(gamelog_path: Path) -> dict[GamelogKey, GamelogGame]:
    """(date, home team, game number) -> score and length in outs, from a Retrosheet game log."""
    data = gamelog_path.read_bytes()
    if gamelog_path.suffix == ".gz":
        data = gzip.decompress(data)
    parsed = parse_retrosheet_file(data.decode("latin-1"), gamelog_path.name)
    return {
        (g.game_date, g.home_team, g.game_number): GamelogGame(
            g.away_team, g.away_score, g.home_score, g.outs
        )
        for g in parsed.games
    }


def quarantine_missing_games(
    parse: EventParse, gamelog: dict[GamelogKey, GamelogGame]
) -> EventParse:
    """A copy of `parse` without the games that the season's game log does not have; each one
    is quarantined (the play-by-play of a game nobody can confirm happened is not loaded)."""
    missing = {
        g.game_key: g
        for g in parse.games
        if (g.game_date, g.home_team, g.game_number) not in gamelog
    }
    if not missing:
        return parse
    out = _without_games(parse, missing)
    for g in missing.values():
        reason = (
            f"game {g.game_key} ({g.game_date} {g.away_team}@{g.home_team} number "
            f"{g.game_number}) is not in the season's game log"
        )
        swapped = gamelog.get((g.game_date, g.away_team, g.game_number))
        if swapped is not None and swapped.away_team == g.home_team:
            # Neutral-site series (2011 FLO "home" in Seattle, 2015 BAL "home" in St. Petersburg)
            reason += " (the log has it with home and visitor swapped)"
        raw = {"action": ACTION_DROPPED_GAME, "game_key": g.game_key}
        out.quarantined.append(QuarantinedRecord(SOURCE, g.source_file, 0, reason, raw))
    return out


@dataclass(frozen=True, slots=True)
class Reconciliation:
    games: int  # event games found in the game log with a length in outs and a score
    outs_match: int
    runs_match: int
    outs_mismatches: list[str]
    runs_mismatches: list[str]

    @property
    def outs_share(self) -> float:
        return self.outs_match / self.games if self.games else 0.0

    @property
    def runs_share(self) -> float:
        return self.runs_match / self.games if self.games else 0.0


def reconcile_with_gamelog(
    parse: EventParse, gamelog: dict[GamelogKey, GamelogGame]
) -> Reconciliation:
    """Compare each game's outs and runs per side (summed over its pitchers) with the game log."""
    outs: dict[str, int] = {}
    runs: dict[tuple[str, int], int] = {}
    for p in parse.pitcher_games:
        outs[p.game_key] = outs.get(p.game_key, 0) + p.outs_recorded
        # Runs allowed by a side's pitchers are the other side's runs.
        key = (p.game_key, 1 - p.side)
        runs[key] = runs.get(key, 0) + p.runs_allowed
    n = outs_ok = runs_ok = 0
    bad_outs: list[str] = []
    bad_runs: list[str] = []
    for g in parse.games:
        log_game = gamelog.get((g.game_date, g.home_team, g.game_number))
        if log_game is None or log_game.outs is None or log_game.home_score is None:
            continue
        n += 1
        if outs.get(g.game_key, 0) == log_game.outs:
            outs_ok += 1
        else:
            bad_outs.append(f"{g.game_key}: {outs.get(g.game_key, 0)} vs {log_game.outs}")
        mine = (runs.get((g.game_key, 0), 0), runs.get((g.game_key, 1), 0))
        if mine == (log_game.away_score, log_game.home_score):
            runs_ok += 1
        else:
            bad_runs.append(f"{g.game_key}: {mine} vs {(log_game.away_score, log_game.home_score)}")
    return Reconciliation(n, outs_ok, runs_ok, bad_outs, bad_runs)
