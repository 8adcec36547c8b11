"""Idempotent writes of parsed Retrosheet events: one transaction per event file.

One transaction per event file (`YYYY.tar.gz:YYYY/YYYYTTT.EVx`: the home games of one team) and
one for the season's rosters. Each is recorded in `ingested_files` with the sha256 of what it was
built from (the file's bytes and the season's game log, which decides which games are
quarantined); a file whose digest is already in the ledger is skipped without writing. A whole
season whose tarball and game log are unchanged is skipped before parsing (`season_is_current`).

Two ways to write a file's games, both in the file's one transaction:
  first load  no row of the file and none of its games is in the tables yet (a fresh database):
              COPY straight into the tables. A merge into empty key ranges would insert exactly
              these rows, so this writes the same, without staging tables or conflict checks;
  merge       anything else (a rerun after a crash, a changed file or game log): COPY into
              staging, delete what the file no longer has, upsert on natural keys, where an
              unchanged row is not rewritten.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from typing import Any

import psycopg

from bullpen.collect.history.events.rows import TABLE_COLUMNS, EventCounts, EventParse
from bullpen.db.staging import copy_rows, record_ingested_file, update_changed, write_quarantine

log = logging.getLogger(__name__)

SOURCE = "retrosheet_events"

# Natural keys of each table; the other columns are updated only when they changed.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "event_games": ("game_key",),
    "plate_appearances": ("game_key", "seq"),
    "pitcher_games": ("game_key", "pitcher"),
    "lineups": ("game_key", "side", "batting_order"),
    "rosters": ("season", "team", "player"),
}
_GAME_CHILDREN = ("plate_appearances", "pitcher_games", "lineups")
# attrgetter over all columns: a tuple per row without dataclasses.astuple's deep copies.
_ROW = {table: attrgetter(*columns) for table, columns in TABLE_COLUMNS.items()}


@dataclass(slots=True)
class FileBatch:
    """Everything one ledger entry writes."""

    file: str
    sha256: str | None  # None: the file could not be read (only its quarantine is written)
    rows: EventParse = field(default_factory=EventParse)  # this entry's share of the parse
    kind: str = "events"  # "events" (games of one file) | "rosters" (a season's rosters)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventWriteSummary(EventCounts):
    file: str
    skipped: bool  # the ledger already had this digest: nothing was written


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def split_by_file(
    parse: EventParse, *, season_file: str, extra_digest: str = ""
) -> list[FileBatch]:
    """Group a season's parse into one batch per event file plus one for the rosters.

    `extra_digest` (the game log's sha256) goes into every event file's digest, because the game
    log decides which of the file's games are quarantined.
    """
    by_file: dict[str, FileBatch] = {}
    rosters = FileBatch(f"{season_file}:rosters", None, kind="rosters")
    roster_digests: list[str] = []
    for name, sha in sorted(parse.file_sha256.items()):
        if name.endswith(".ROS"):
            roster_digests.append(f"{name}={sha}")
        else:
            by_file[name] = FileBatch(name, _digest(sha, extra_digest))
    if roster_digests:
        rosters.sha256 = _digest(*roster_digests)
    game_file: dict[str, str] = {}
    for game in parse.games:
        game_file[game.game_key] = game.source_file
        by_file[game.source_file].rows.games.append(game)
    for pa in parse.plate_appearances:
        by_file[game_file[pa.game_key]].rows.plate_appearances.append(pa)
    for pg in parse.pitcher_games:
        by_file[game_file[pg.game_key]].rows.pitcher_games.append(pg)
    for slot in parse.lineups:
        by_file[game_file[slot.game_key]].rows.lineups.append(slot)
    rosters.rows.rosters.extend(parse.rosters)
    for q in parse.quarantined:
        batch = by_file.get(q.file)
        if batch is None:
            if q.file.endswith(".ROS") and rosters.sha256 is not None:
                batch = rosters
            else:
                batch = by_file.setdefault(q.file, FileBatch(q.file, None))
        batch.rows.quarantined.append(q)
    batches = list(by_file.values())
    if rosters.sha256 is not None or rosters.rows.quarantined:
        batches.append(rosters)
    return batches


def _copy(cur: psycopg.Cursor, table: str, rows: Iterable[Any]) -> None:
    """COPY rows into a transaction-local staging copy of `table` (no indexes, no checks)."""
    cur.execute(f"CREATE TEMP TABLE stage_{table} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
    copy_rows(cur, f"stage_{table}", TABLE_COLUMNS[table], map(_ROW[table], rows))


def _copy_into(cur: psycopg.Cursor, table: str, rows: Iterable[Any]) -> None:
    """COPY rows straight into `table`: keys, checks and foreign keys still apply (first load)."""
    copy_rows(cur, table, TABLE_COLUMNS[table], map(_ROW[table], rows))


# True when the tables hold a row of this file or of one of its games: then the merge decides
# what changes. Game keys matter too: a game may have moved here from another file of the season
# (the first file of a game id wins, see season._drop_games_seen_before). The child
# tables need no look: their foreign key means a child row has its game in event_games.
_FILE_LOADED = """
SELECT EXISTS (SELECT 1 FROM event_games WHERE source_file = %(file)s OR game_key = ANY(%(keys)s))
"""


def _merge(table: str) -> str:
    """Upsert staging into `table`; an unchanged row is not rewritten (no dead tuple)."""
    columns = TABLE_COLUMNS[table]
    keys = TABLE_KEYS[table]
    values = [c for c in columns if c not in keys]
    cols = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage_{table}"
        f" ON CONFLICT ({', '.join(keys)}) {update_changed(table, values)}"
    )


def _delete_stale_children(table: str) -> str:
    """Rows of the file's games that the new parse no longer has (e.g. a corrected game)."""
    keys = TABLE_KEYS[table]
    match = " AND ".join(f"s.{k} = t.{k}" for k in keys)
    return (
        f"DELETE FROM {table} t USING stage_event_games g WHERE t.game_key = g.game_key"
        f" AND NOT EXISTS (SELECT 1 FROM stage_{table} s WHERE {match})"
    )


_DELETE_STALE_GAMES = """
DELETE FROM event_games e WHERE e.source_file = %(file)s
AND NOT EXISTS (SELECT 1 FROM stage_event_games s WHERE s.game_key = e.game_key)
"""

_DELETE_STALE_ROSTERS = """
DELETE FROM rosters r WHERE r.season IN (SELECT DISTINCT season FROM stage_rosters)
AND NOT EXISTS (SELECT 1 FROM stage_rosters s
                WHERE (s.season, s.team, s.player) = (r.season, r.team, r.player))
"""


def ledger_sha256(conn: psycopg.Connection, file: str) -> str | None:
    row = conn.execute(
        "SELECT sha256 FROM ingested_files WHERE source = %s AND file = %s", (SOURCE, file)
    ).fetchone()
    return None if row is None else str(row[0])


def record_ledger(
    cur: psycopg.Cursor | psycopg.Connection, file: str, sha256: str, games: int, quarantined: int
) -> None:
    record_ingested_file(
        cur, source=SOURCE, file=file, sha256=sha256, games=games, quarantined=quarantined
    )


def write_event_file(conn: psycopg.Connection, batch: FileBatch) -> EventWriteSummary:
    """Write one batch in one transaction: its rows (first load or merge), quarantine, ledger.

    Skipped (nothing written) when the ledger already holds the batch's digest. Idempotent: a
    rerun after a crash (which rolls the whole file back) neither duplicates nor loses rows.
    """
    rows = batch.rows
    counts = rows.counts()
    with conn.transaction(), conn.cursor() as cur:
        # Two loaders of the same file (two runs at once) take turns: the second one then sees
        # the first one's ledger row and skips, where the first-load COPY would hit its keys.
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{SOURCE}:{batch.file}",)
        )
        if batch.sha256 is not None and ledger_sha256(conn, batch.file) == batch.sha256:
            return EventWriteSummary(file=batch.file, skipped=True, **asdict(counts))
        # Not waiting for the WAL flush at commit: a crash can lose only the last commits, whose
        # ledger rows are lost with them, so the next run writes those files again. Atomicity and
        # the order of commits are unchanged; only this transaction is affected. The season's
        # ledger row (record_season) commits synchronously, and the WAL is flushed in order, so
        # once it is durable every file of the season is too.
        cur.execute("SET LOCAL synchronous_commit = off")
        if batch.kind == "events" and batch.sha256 is not None:
            keys = [g.game_key for g in rows.games]
            loaded = cur.execute(_FILE_LOADED, {"file": batch.file, "keys": keys}).fetchone()
            if loaded is not None and not loaded[0]:
                _copy_into(cur, "event_games", rows.games)
                for table in _GAME_CHILDREN:
                    _copy_into(cur, table, getattr(rows, table))
            else:
                _copy(cur, "event_games", rows.games)
                for table in _GAME_CHILDREN:
                    _copy(cur, table, getattr(rows, table))
                # A changed file replaces its earlier load: rows it no longer has go.
                for table in ("event_games", *_GAME_CHILDREN):
                    cur.execute(f"ANALYZE stage_{table}")
                cur.execute(_DELETE_STALE_GAMES, {"file": batch.file})
                for table in _GAME_CHILDREN:
                    cur.execute(_delete_stale_children(table))
                cur.execute(_merge("event_games"))
                for table in _GAME_CHILDREN:
                    cur.execute(_merge(table))
        elif batch.kind == "rosters" and batch.sha256 is not None:
            _copy(cur, "rosters", rows.rosters)
            cur.execute(_DELETE_STALE_ROSTERS)
            cur.execute(_merge("rosters"))
        write_quarantine(cur, rows.quarantined)
        if batch.sha256 is not None:
            record_ledger(cur, batch.file, batch.sha256, counts.games, counts.quarantined)
    summary = EventWriteSummary(file=batch.file, skipped=False, **asdict(counts))
    log.debug("wrote %s", summary)
    return summary


def write_event_season(
    conn: psycopg.Connection, parse: EventParse, *, season_file: str, extra_digest: str = ""
) -> list[EventWriteSummary]:
    """Write a parsed season file by file (see split_by_file); one transaction per file."""
    return [
        write_event_file(conn, batch)
        for batch in split_by_file(parse, season_file=season_file, extra_digest=extra_digest)
    ]


def season_is_current(conn: psycopg.Connection, season_file: str, sha256: str) -> bool:
    """The ledger says this season (tarball + game log) was loaded completely with this digest."""
    with conn.transaction():
        return ledger_sha256(conn, season_file) == sha256


def record_season(
    conn: psycopg.Connection, season_file: str, sha256: str, games: int, quarantined: int
) -> None:
    """Ledger row for a whole season, written after all its files (so a crash mid-season makes
    the next run look at every file again)."""
    with conn.transaction():
        record_ledger(conn, season_file, sha256, games, quarantined)


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Row counts of the event tables (checks, benchmarks)."""
    out: dict[str, int] = defaultdict(int)
    for table in TABLE_COLUMNS:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        out[table] = int(row[0])
    return dict(out)
