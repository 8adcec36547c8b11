"""Replay bundled seasons (SBR odds + Retrosheet logs, Retrosheet play-by-play) into Postgres,
one file per batch."""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from bullpen.collect.history.events import store as events_store
from bullpen.collect.history.events.rows import EventCounts, EventParse
from bullpen.collect.history.events.season import read_event_season
from bullpen.collect.history.seasons import read_season_files
from bullpen.collect.history.store import WriteSummary, write_history_file
from bullpen.db import engine

_ODDS_FILE = re.compile(r"mlb_odds_(\d{4})\.csv(\.gz)?$")


@dataclass(frozen=True)
class SeasonFiles:
    season: int
    odds: Path
    retrosheet: Path | None


def find_season_files(data_dir: Path) -> list[SeasonFiles]:
    """Every SBR season file under data_dir/odds, with its Retrosheet log when one exists."""
    seasons = []
    for path in sorted((data_dir / "odds").iterdir()):
        match = _ODDS_FILE.match(path.name)
        if not match:
            continue
        season = int(match.group(1))
        retro = [p for p in (data_dir / "retrosheet").glob(f"GL{season}.TXT*")]
        seasons.append(SeasonFiles(season, path, retro[0] if retro else None))
    return seasons


def file_sha256(*paths: Path | None) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def replay_season(database_url: str, files: SeasonFiles) -> WriteSummary:
    """Parse one season and write it with one connection in one transaction (idempotent)."""
    parsed = read_season_files(files.odds, files.retrosheet)
    with engine.connect(database_url) as conn:
        return write_history_file(
            conn,
            file=files.odds.name,
            sha256=file_sha256(files.odds, files.retrosheet),
            games=parsed.games,
            quarantined=parsed.quarantined,
        )


# --- Retrosheet play-by-play -------------------------------------------------------------------

_EVENT_TARBALL = re.compile(r"(\d{4})\.tar\.gz$")


@dataclass(frozen=True)
class EventSeasonFiles:
    season: int
    events: Path  # data/retrosheet/events/YYYY.tar.gz
    gamelog: Path | None  # data/retrosheet/GLYYYY.TXT.gz: games missing from it are quarantined


@dataclass(frozen=True, kw_only=True)
class EventSeasonSummary(EventCounts):
    season: int
    file: str
    skipped: bool  # tarball and game log unchanged since the ledger's last complete load
    files_written: int = 0
    files_skipped: int = 0
    parse_seconds: float = 0.0
    write_seconds: float = 0.0


def find_event_seasons(data_dir: Path) -> list[EventSeasonFiles]:
    """Every season tarball under data_dir/retrosheet/events, with its game log when one exists.

    Independent of the odds files: 2009 and 2021 have events and logs but no odds.
    """
    folder = data_dir / "retrosheet" / "events"
    if not folder.is_dir():
        return []
    seasons = []
    for path in sorted(folder.iterdir()):
        match = _EVENT_TARBALL.match(path.name)
        if not match:
            continue
        season = int(match.group(1))
        logs = sorted((data_dir / "retrosheet").glob(f"GL{season}.TXT*"))
        seasons.append(EventSeasonFiles(season, path, logs[0] if logs else None))
    return seasons


def replay_events(
    database_url: str, tar_path: Path, gamelog_path: Path | None
) -> EventSeasonSummary:
    """Parse one season of event files and write it, one transaction per event file.

    Skips the season without parsing when the ledger holds the same digest of tarball and game
    log (a rerun writes nothing); otherwise files already in the ledger with their digest are
    skipped one by one.
    """
    match = _EVENT_TARBALL.match(tar_path.name)
    if match is None:
        raise ValueError(f"{tar_path.name} is not an event tarball YYYY.tar.gz")
    season = int(match.group(1))
    season_sha = file_sha256(tar_path, gamelog_path)
    log_sha = file_sha256(gamelog_path) if gamelog_path is not None else ""
    with engine.connect(database_url) as conn:
        if events_store.season_is_current(conn, tar_path.name, season_sha):
            nothing = asdict(EventParse().counts())
            return EventSeasonSummary(season=season, file=tar_path.name, skipped=True, **nothing)
        started = time.perf_counter()
        parse = read_event_season(tar_path, gamelog_path)
        parsed = time.perf_counter()
        summaries = events_store.write_event_season(
            conn, parse, season_file=tar_path.name, extra_digest=log_sha
        )
        events_store.record_season(
            conn, tar_path.name, season_sha, len(parse.games), len(parse.quarantined)
        )
        written = time.perf_counter()
    return EventSeasonSummary(
        season=season,
        file=tar_path.name,
        skipped=False,
        files_written=sum(not s.skipped for s in summaries),
        files_skipped=sum(s.skipped for s in summaries),
        parse_seconds=round(parsed - started, 3),
        write_seconds=round(written - parsed, 3),
        **asdict(parse.counts()),
    )


def replay_event_seasons(
    database_url: str, seasons: Sequence[EventSeasonFiles], *, workers: int = 2
) -> list[EventSeasonSummary]:
    """replay_events for several seasons, `workers` seasons at a time, each in its own process.

    Each process parses and writes its season itself: a parse is too costly to pickle to another
    process (about 1.5x the time of parsing it). While one season is written (mostly PostgreSQL's
    work) another is parsed (Python's). Seasons share no game keys, so their transactions do not
    conflict; every guarantee of replay_events holds per season. Summaries come in `seasons`'
    order. The processes are spawned, not forked: the caller may run threads (Prefect does); a
    script calling this needs the `if __name__ == "__main__":` guard.
    """
    if workers <= 1 or len(seasons) <= 1:
        return [replay_events(database_url, s.events, s.gamelog) for s in seasons]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(seasons)), mp_context=context) as pool:
        futures = [pool.submit(replay_events, database_url, s.events, s.gamelog) for s in seasons]
        return [f.result() for f in futures]
