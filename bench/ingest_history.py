"""Ingest benchmark: the collector's write path vs one INSERT per row vs raw COPY, same rows.

Rows are every game record of the bundled seasons (real data). Each path starts from empty
tables in a scratch database on the embedded server (or BULLPEN_BENCH_DATABASE_URL's server).

    .venv/bin/python bench/ingest_history.py
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bullpen.collect.history.replay import find_season_files
from bullpen.collect.history.seasons import read_season_files
from bullpen.collect.history.store import GAME_COLUMNS, game_row, write_history_file
from bullpen.db import engine
from bullpen.runtime import prepare_database, repo_root


def fresh_database(server_url: str, name: str) -> str:
    with engine.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    url = engine.ensure_database(server_url, name)
    prepare_database(url)
    return url


def collector_path(url: str, seasons: list) -> None:
    with engine.connect(url) as conn:
        for season_file, parsed in seasons:
            write_history_file(
                conn,
                file=season_file,
                sha256="bench",
                games=parsed.games,
                quarantined=parsed.quarantined,
            )


def naive_path(url: str, seasons: list) -> None:
    """What a first version usually does: one INSERT per table row, each committed on its own."""
    with engine.connect(url, autocommit=True) as conn:
        for _, parsed in seasons:
            for g in parsed.games:
                game_id = conn.execute(
                    "INSERT INTO games (season, game_date, away_team, home_team, game_number,"
                    " neutral_site, away_pitcher, home_pitcher) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT DO NOTHING RETURNING game_id",
                    (
                        g.season,
                        g.game_date,
                        g.away_team,
                        g.home_team,
                        g.game_number,
                        g.neutral_site,
                        g.away_pitcher,
                        g.home_pitcher,
                    ),
                ).fetchone()
                if game_id is None:
                    continue
                if g.home_score is not None and g.away_score is not None:
                    conn.execute(
                        "INSERT INTO results VALUES (%s,%s,%s,%s,%s)",
                        (game_id[0], g.away_score, g.home_score, g.outs, g.score_source),
                    )
                for phase, away, home, total in (
                    ("open", g.away_open_ml, g.home_open_ml, g.open_total),
                    ("close", g.away_close_ml, g.home_close_ml, g.close_total),
                ):
                    conn.execute(
                        "INSERT INTO odds (game_id, source, book, phase, away_ml, home_ml, total)"
                        " VALUES (%s,'sbr','sbr',%s,%s,%s,%s)",
                        (game_id[0], phase, away, home, total),
                    )


def raw_copy_path(url: str, seasons: list) -> None:
    with engine.connect(url) as conn, conn.cursor() as cur:
        columns = ", ".join(f"{c} text" for c in GAME_COLUMNS)
        cur.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS raw_games ({columns})")
        with cur.copy(f"COPY raw_games ({', '.join(GAME_COLUMNS)}) FROM STDIN") as copy:
            for _, parsed in seasons:
                for g in parsed.games:
                    copy.write_row(game_row(g))
        conn.commit()


def main() -> None:
    seasons = [
        (f.odds.name, read_season_files(f.odds, f.retrosheet))
        for f in find_season_files(repo_root() / "data")
    ]
    rows = sum(len(p.games) for _, p in seasons)
    tmp = None
    server = os.environ.get("BULLPEN_BENCH_DATABASE_URL")
    if server is None:
        tmp = Path(tempfile.mkdtemp(prefix="bp-bench-"))
        server = engine.start_embedded(tmp / "pgdata")
    print(f"# ingest benchmark: {rows} game records from {len(seasons)} real season files")
    where = "embedded server" if tmp else "BULLPEN_BENCH_DATABASE_URL"
    print(f"# python {platform.python_version()}, {os.cpu_count()} cores, PostgreSQL: {where}")
    rates = {}
    for name, path in (
        ("collector (COPY->stage->merge)", collector_path),
        ("naive (INSERT per row, autocommit)", naive_path),
        ("raw COPY (unindexed)", raw_copy_path),
    ):
        url = fresh_database(server, "bench_" + name.split()[0])
        started = time.perf_counter()
        path(url, seasons)
        seconds = time.perf_counter() - started
        rates[name] = rows / seconds
        print(f"{name:<38} {seconds:8.2f} s  {rows / seconds:12,.0f} records/s")
    collector, naive, raw = rates.values()
    print(f"collector / raw COPY = {collector / raw:.2f}")
    print(f"collector / naive    = {collector / naive:.1f}x")
    if tmp is not None:
        engine.stop_embedded(tmp / "pgdata")
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
