"""Event ingestion benchmark: all 13 bundled seasons of Retrosheet play-by-play (2009-2021).

In one run, on a fresh scratch database of the embedded server (or BULLPEN_BENCH_DATABASE_URL's
server), it times:
  parse    read_event_season over every tarball (with its game log check), in memory;
  store    events_store.write_event_season: one transaction per event file with its ledger row;
           on a fresh database every file takes the first-load path (COPY straight into the
           keyed, indexed tables; foreign keys checked row by row);
  rerun    the same seasons again through replay.replay_events: the ledger skips them;
  raw COPY the same rows, COPY'd into unindexed tables of the same columns, one transaction
           (the baseline: what writing the rows costs with no keys, indexes or merge);
  replay   parse + store of every season on a fresh database, as collect-history does it:
           replay.replay_events season after season (1 process), then
           replay.replay_event_seasons with 2 processes; both must end with the same rows.
Rows = rows of event_games + plate_appearances + pitcher_games + lineups + rosters.

    .venv/bin/python bench/ingest_events.py
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bullpen.collect.history.events import store as events_store
from bullpen.collect.history.events.rows import TABLE_COLUMNS, EventParse, table_rows
from bullpen.collect.history.events.season import read_event_season
from bullpen.collect.history.replay import (
    file_sha256,
    find_event_seasons,
    replay_event_seasons,
    replay_events,
)
from bullpen.db import engine
from bullpen.db.staging import table_fingerprints
from bullpen.runtime import prepare_database, repo_root


def fresh_database(server_url: str, name: str) -> str:
    with engine.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    url = engine.ensure_database(server_url, name)
    prepare_database(url)
    return url


def row_count(parse: EventParse) -> int:
    return sum(len(table_rows(parse, table)) for table in TABLE_COLUMNS)


def raw_copy(url: str, parses: list[EventParse]) -> None:
    with engine.connect(url) as conn, conn.cursor() as cur:
        for table, columns in TABLE_COLUMNS.items():
            # Same column types, no keys, indexes or checks (LIKE copies NOT NULL only).
            cur.execute(f"CREATE TABLE raw_{table} (LIKE {table})")
            with cur.copy(f"COPY raw_{table} ({', '.join(columns)}) FROM STDIN") as copy:
                for parse in parses:
                    for row in table_rows(parse, table):
                        copy.write_row(tuple(getattr(row, c) for c in columns))
        conn.commit()


def main() -> None:
    data = repo_root() / "data"
    seasons = find_event_seasons(data)
    tmp = None
    server = os.environ.get("BULLPEN_BENCH_DATABASE_URL")
    if server is None:
        tmp = Path(tempfile.mkdtemp(prefix="bp-bench-events-"))
        server = engine.start_embedded(tmp / "pgdata")
    where = "embedded server" if tmp else "BULLPEN_BENCH_DATABASE_URL"
    print(f"# event ingestion: {len(seasons)} seasons {seasons[0].season}-{seasons[-1].season}")
    print(f"# python {platform.python_version()}, {os.cpu_count()} cores, PostgreSQL: {where}")
    total_started = time.perf_counter()

    started = time.perf_counter()
    parses = [read_event_season(s.events, s.gamelog) for s in seasons]
    parse_seconds = time.perf_counter() - started
    rows = sum(row_count(p) for p in parses)
    pas = sum(len(p.plate_appearances) for p in parses)
    print(
        f"rows: {rows:,} ({pas:,} plate appearances, "
        f"{sum(len(p.games) for p in parses):,} games, "
        f"{sum(len(p.quarantined) for p in parses)} quarantined records)"
    )

    store_url = fresh_database(server, "bench_events_store")
    started = time.perf_counter()
    with engine.connect(store_url) as conn:
        for s, parse in zip(seasons, parses, strict=True):
            log_sha = file_sha256(s.gamelog) if s.gamelog else ""
            events_store.write_event_season(
                conn, parse, season_file=s.events.name, extra_digest=log_sha
            )
            events_store.record_season(
                conn,
                s.events.name,
                file_sha256(s.events, s.gamelog),
                len(parse.games),
                len(parse.quarantined),
            )
    store_seconds = time.perf_counter() - started
    with engine.connect(store_url) as conn:
        stored = sum(events_store.count_rows(conn).values())
    assert stored == rows, (stored, rows)

    started = time.perf_counter()
    reruns = [replay_events(store_url, s.events, s.gamelog) for s in seasons]
    rerun_seconds = time.perf_counter() - started
    assert all(r.skipped for r in reruns)

    raw_url = fresh_database(server, "bench_events_raw")
    started = time.perf_counter()
    raw_copy(raw_url, parses)
    raw_seconds = time.perf_counter() - started

    del parses  # the processes below parse for themselves
    serial_url = fresh_database(server, "bench_events_replay_1")
    started = time.perf_counter()
    for s in seasons:
        replay_events(serial_url, s.events, s.gamelog)
    serial_seconds = time.perf_counter() - started
    parallel_url = fresh_database(server, "bench_events_replay_2")
    started = time.perf_counter()
    replay_event_seasons(parallel_url, seasons, workers=2)
    parallel_seconds = time.perf_counter() - started
    contents = {t: f"SELECT t::text FROM {t} t ORDER BY 1" for t in TABLE_COLUMNS}
    with engine.connect(serial_url) as one, engine.connect(parallel_url) as two:
        assert table_fingerprints(one, contents) == table_fingerprints(two, contents)
    total_seconds = time.perf_counter() - total_started

    def line(name: str, seconds: float) -> None:
        print(f"{name:<44} {seconds:8.2f} s  {rows / seconds:12,.0f} rows/s")

    line("parse (13 tarballs, in memory)", parse_seconds)
    line("store (per event file, first load)", store_seconds)
    line("raw COPY (unindexed tables, one transaction)", raw_seconds)
    print(f"{'rerun (ledger skips every season)':<44} {rerun_seconds:8.2f} s")
    print(f"store / raw COPY = {store_seconds / raw_seconds:.2f}x the time")
    line("replay parse+store, 1 process", serial_seconds)
    line("replay parse+store, 2 processes", parallel_seconds)
    print(f"2 processes / 1 process = {parallel_seconds / serial_seconds:.2f}x the time")
    print(f"total {total_seconds:.1f} s")
    if tmp is not None:
        engine.stop_embedded(tmp / "pgdata")
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
