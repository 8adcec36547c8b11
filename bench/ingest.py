"""Live ingest benchmark: synthetic odds snapshots via the collector, naive INSERTs, raw COPY."""

# The rows are SYNTHETIC (generated here, named synthetic-*): 1,000,000 odds snapshots, each one
# bookmaker's two prices (home/away or over/under) for one h2h, totals or spreads market at one
# time (2,000,000 prices), from 12 synthetic bookmakers over a season-like timeline, in time
# order, as successive fetches would deliver them. Every path starts from an empty database on
# the same server (the embedded one, or BULLPEN_BENCH_DATABASE_URL's) and writes the same rows:
#
# - collector: live_store.write_odds_batch per batch of --batch rows (payload archived as gzip,
#   events and books upserted, snapshots COPYed, quarantine, event linking; one commit a batch)
# - raw COPY: the same rows, encoded by the same code, one binary COPY into an unindexed copy
#   of odds_snapshots
# - naive: one INSERT ... ON CONFLICT DO NOTHING per row, autocommit (the first --naive-rows)
#
# Collector and raw COPY run --rounds times, interleaved, and report the median (the machine
# may be shared). Usage:
#
#     .venv/bin/python bench/ingest.py [--rows 1000000] [--batch 100000] [--naive-rows 20000]

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from bullpen.collect.http import FetchedPayload
from bullpen.collect.live import store as live_store
from bullpen.collect.live.odds_api import MARKETS, OddsEvent, OddsParse, OddsSnapshot
from bullpen.db import engine
from bullpen.prices import american_to_decimal_exact
from bullpen.runtime import prepare_database
from bullpen.teams import TEAMS

Batch = tuple[FetchedPayload, OddsParse]
START = datetime(2041, 4, 1, 16, 0, tzinfo=UTC)
BOOKS = [f"synthetic_book_{i:02d}" for i in range(12)]
TEAM_IDS = sorted(TEAMS)


def synthetic_snapshots(rows: int, seed: int = 20240524) -> list[OddsSnapshot]:
    """`rows` synthetic snapshots in time order: every 15 minutes each open event's markets
    move with probability 0.3 at each book; 15 events open per day, each for 2 days."""
    rng = random.Random(seed)
    prices: dict[int, tuple[int, Decimal]] = {}

    def price(american: int) -> tuple[int, Decimal]:
        if american not in prices:
            prices[american] = (american, american_to_decimal_exact(american))
        return prices[american]

    out: list[OddsSnapshot] = []
    tick, event_no = 0, 0
    open_events: list[tuple[str, datetime]] = []
    while len(out) < rows:
        now = START + timedelta(minutes=15 * tick)
        if tick % 96 == 0:  # a new day of games
            for _ in range(15):
                start = now + timedelta(days=2, hours=rng.randint(0, 8))
                open_events.append((f"synthetic-event-{event_no:06d}", start))
                event_no += 1
        open_events = [(e, s) for e, s in open_events if s > now]
        for event_id, _ in open_events:
            for book in BOOKS:
                for market in MARKETS:
                    if rng.random() >= 0.3:  # this book did not move this market
                        continue
                    update = now + timedelta(seconds=rng.randint(0, 899))
                    fav = rng.randint(110, 190)
                    point = None
                    if market == "totals":
                        point = Decimal(rng.choice(["7.5", "8.0", "8.5", "9.0"]))
                    elif market == "spreads":
                        point = Decimal("-1.5")
                    (a1, d1), (a2, d2) = price(-fav), price(fav - 10)
                    out.append(OddsSnapshot(event_id, book, market, update, point, a1, a2, d1, d2))
        tick += 1
    del out[rows:]
    out.sort(key=lambda s: s.last_update)  # fetches arrive in time order
    return out


def _event(event_id: str) -> OddsEvent:
    n = int(event_id.rsplit("-", 1)[1])
    home, away = TEAM_IDS[n % 30], TEAM_IDS[(n * 7 + 3) % 30]
    if home == away:
        away = TEAM_IDS[(n + 1) % 30]
    return OddsEvent(event_id, START + timedelta(days=2 + n // 15), away, home)


def batches(snapshots: list[OddsSnapshot], size: int) -> list[Batch]:
    """Batches of `size` rows, each with a synthetic Odds API body (archived like a real one)."""
    out: list[Batch] = []
    for i in range(0, len(snapshots), size):
        rows = snapshots[i : i + size]
        events = sorted({s.event_id for s in rows})
        fetched = rows[-1].last_update + timedelta(seconds=1)
        body = json.dumps(_body(rows), separators=(",", ":")).encode()
        payload = FetchedPayload(
            "odds_api", f"/synthetic?batch={i // size}", fetched, 200, {}, body
        )
        parsed = OddsParse(
            events=[_event(e) for e in events],
            bookmakers={b: b.replace("_", " ").title() for b in BOOKS},
            snapshots=rows,
            earliest=min(s.last_update for s in rows),  # as parse_odds notes it while parsing
        )
        out.append((payload, parsed))
    return out


def _body(rows: list[OddsSnapshot]) -> list[dict[str, object]]:
    tree: dict[str, dict[str, dict[str, list[dict[str, object]]]]] = {}
    for s in rows:
        outcomes = tree.setdefault(s.event_id, {}).setdefault(s.book, {}).setdefault(s.market, [])
        for side, point, american, _ in s.outcomes():
            outcome: dict[str, object] = {"name": side, "price": american}
            if point is not None:
                outcome["point"] = float(point)
            outcomes.append(outcome)
    return [
        {
            "id": e,
            "sport_key": "baseball_mlb",
            "bookmakers": [
                {"key": b, "markets": [{"key": m, "outcomes": o} for m, o in markets.items()]}
                for b, markets in books.items()
            ],
        }
        for e, books in tree.items()
    ]


# -- the three paths ---------------------------------------------------------------------------


def collector_path(conn: psycopg.Connection, work: list[Batch]) -> tuple[int, float]:
    started = time.perf_counter()
    written = sum(live_store.write_odds_batch(conn, p, parsed).new_snapshots for p, parsed in work)
    return written, time.perf_counter() - started


def _keys(conn: psycopg.Connection, work: list[Batch]) -> tuple[dict[str, int], dict[str, int]]:
    """Events and books inserted up front (untimed) for the paths that do not upsert them."""
    events = {e.event_id: e for _, parsed in work for e in parsed.events}
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO odds_events (event_id, commence_time, away_team, home_team, seen_at)"
            " VALUES (%s, %s, %s, %s, now())",
            [(e.event_id, e.commence_time, e.away_team, e.home_team) for e in events.values()],
        )
        cur.executemany(
            "INSERT INTO bookmakers (book, title) VALUES (%s, %s)", [(b, b) for b in BOOKS]
        )
    event_keys = dict(conn.execute("SELECT event_id, event_key FROM odds_events").fetchall())
    book_ids = dict(conn.execute("SELECT book, book_id FROM bookmakers").fetchall())
    return event_keys, book_ids


def raw_copy_path(conn: psycopg.Connection, work: list[Batch]) -> tuple[int, float]:
    """The same rows, encoded by the same code, in one COPY into a table without any index."""
    event_keys, book_ids = _keys(conn, work)
    conn.execute("CREATE TABLE raw_snapshots (LIKE odds_snapshots)")  # LIKE copies no key
    conn.commit()
    rows = [s for _, parsed in work for s in parsed.snapshots]
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        live_store.copy_snapshots(cur, "raw_snapshots", rows, event_keys, book_ids, 1)
    return len(rows), time.perf_counter() - started


def naive_path(conn: psycopg.Connection, work: list[Batch]) -> tuple[int, float]:
    """What a first version does: one INSERT per row, each committed on its own."""
    event_keys, book_ids = _keys(conn, work)
    conn.commit()
    conn.autocommit = True
    started = time.perf_counter()
    written = 0
    for _, parsed in work:
        for s in parsed.snapshots:
            cur = conn.execute(
                "INSERT INTO odds_snapshots (last_update, event_key, book_id, market, point,"
                " home_over_american, away_under_american, home_over_decimal,"
                " away_under_decimal, payload_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1) ON CONFLICT DO NOTHING",
                (
                    s.last_update,
                    event_keys[s.event_id],
                    book_ids[s.book],
                    MARKETS[s.market],
                    s.point,
                    s.home_over_american,
                    s.away_under_american,
                    s.home_over_decimal,
                    s.away_under_decimal,
                ),
            )
            written += cur.rowcount
    return written, time.perf_counter() - started


def fresh_database(server_url: str, name: str) -> str:
    with engine.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    url = engine.ensure_database(server_url, name)
    prepare_database(url)
    return url


def timed(
    server: str,
    name: str,
    path: Callable[[psycopg.Connection, list[Batch]], tuple[int, float]],
    work: list[Batch],
    *,
    rerun: bool = False,
) -> tuple[int, float]:
    """Rows written and seconds, on a fresh database (after a first untimed write if rerun)."""
    url = fresh_database(server, f"bench_live_{name}")
    with engine.connect(url) as conn:
        if rerun:
            path(conn, work)
        return path(conn, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--fetch-batch", type=int, default=2_000)
    parser.add_argument("--naive-rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    snapshots = synthetic_snapshots(args.rows)
    work = batches(snapshots, args.batch)
    fetch_sized = batches(snapshots[:100_000], args.fetch_batch)
    naive_work = batches(snapshots[: args.naive_rows], args.naive_rows)
    events = len({s.event_id for s in snapshots})
    body_mb = sum(len(p.body) for p, _ in work) / 1e6
    print(
        f"# live ingest benchmark: {len(snapshots):,} SYNTHETIC odds snapshots"
        f" ({2 * len(snapshots):,} prices), {events:,} synthetic events,"
        f" {len(BOOKS)} synthetic books"
        f" (generated in {time.perf_counter() - started:.0f} s)"
    )
    tmp = None
    server = os.environ.get("BULLPEN_BENCH_DATABASE_URL")
    if server is None:
        tmp = Path(tempfile.mkdtemp(prefix="bp-bench-live-"))
        server = engine.start_embedded(tmp / "pgdata")
    where = "embedded PostgreSQL" if tmp else "BULLPEN_BENCH_DATABASE_URL"
    print(
        f"# python {platform.python_version()}, {os.cpu_count()} cores, {where};"
        f" collector batches of {args.batch:,} rows ({body_mb:.0f} MB of JSON archived);"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    try:
        rates: dict[str, list[float]] = {"collector": [], "raw": []}
        for _ in range(args.rounds):  # interleaved, so load on a shared machine hits both alike
            for name, path in (("collector", collector_path), ("raw", raw_copy_path)):
                written, seconds = timed(server, name, path, work)
                assert written == len(snapshots), (name, written)
                rates[name].append(written / seconds)
        written, seconds = timed(server, "naive", naive_path, naive_work)
        assert written == args.naive_rows
        naive = written / seconds
        fetch_n, fetch_s = timed(server, "fetch", collector_path, fetch_sized)
        rerun_n, rerun_s = timed(server, "rerun", collector_path, work, rerun=True)
        assert rerun_n == 0, "a rerun must write nothing"
    finally:
        if tmp is not None:
            engine.stop_embedded(tmp / "pgdata")
            shutil.rmtree(tmp, ignore_errors=True)

    collector, raw = statistics.median(rates["collector"]), statistics.median(rates["raw"])

    def line(label: str, rate: float, note: str) -> None:
        print(f"{label:<44}{rate:12,.0f} rows/s   {note}")

    runs = ", ".join(f"{r:,.0f}" for r in rates["collector"])
    line("collector write path (COPY, merge on key)", collector, f"(median of {runs})")
    runs = ", ".join(f"{r:,.0f}" for r in rates["raw"])
    line("raw COPY into an unindexed table", raw, f"(median of {runs})")
    line("naive INSERT per row, autocommit", naive, f"(first {args.naive_rows:,} rows)")
    line(
        f"collector, batches of {args.fetch_batch:,} (one fetch)",
        fetch_n / fetch_s,
        "(first 100,000 rows)",
    )
    line("collector rerun, all rows already stored", len(snapshots) / rerun_s, "(0 written)")
    paired = ", ".join(
        f"{c / r:.2f}" for c, r in zip(rates["collector"], rates["raw"], strict=True)
    )
    print(f"collector / raw COPY = {collector / raw:.2f}   (target >= 0.7; per round: {paired})")
    print(f"collector / naive    = {collector / naive:.0f}x   (target >= 50x)")
    print(f"# load average at the end {os.getloadavg()[0]:.1f} (other processes share these cores)")


if __name__ == "__main__":
    main()
