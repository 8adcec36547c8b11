"""A season of play-by-play: read a season tarball in memory (event files and rosters), drop
games a file repeats, and check the result against the season's game log (games, outs, score)."""

from __future__ import annotations

import gzip
import hashlib
import re
import tarfile
from collections.abc import Container
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bullpen.collect.history.events.parse import (
    parse_event_text,
    parse_roster_text,
)
from bullpen.collect.history.events.rows import (
    ACTION_DROPPED_FILE,
    SOURCE,
    EventParse,
)
from bullpen.collect.history.retrosheet import parse_retrosheet_file
from bullpen.collect.history.sbr import ACTION_DROPPED_GAME
from bullpen.collect.records import QuarantinedRecord

_ROSTER_FILE = re.compile(r"([A-Z]{3})(\d{4})\.ROS$")
_EVENT_FILE = re.compile(r"(\d{4})[A-Z]{3}\.EV[AN]$")


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
