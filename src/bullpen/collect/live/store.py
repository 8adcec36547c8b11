"""Live writes: merge MLB games and Odds API snapshots (payloads archived with them), quarantine;
one commit per batch."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter

import psycopg
from psycopg import sql

from bullpen.collect.http import FetchedPayload
from bullpen.collect.live import archive
from bullpen.collect.live.mlb_stats import GamesParse, LiveGame
from bullpen.collect.live.odds_api import MARKETS, OddsParse, OddsSnapshot
from bullpen.collect.records import QuarantinedRecord
from bullpen.db.staging import table_fingerprints, write_quarantine

log = logging.getLogger(__name__)

GAMES_SOURCE_FILE = "mlb_stats"  # games.source_file of rows the live collector created
# Advisory locks serialise writers of one kind: the odds fast path relies on it (see below).
_ODDS_LOCK = 0x62706F64
_GAMES_LOCK = 0x62706761

SNAPSHOT_COLUMNS = (
    "last_update",
    "event_key",
    "book_id",
    "market",
    "point",
    "home_over_american",
    "away_under_american",
    "home_over_decimal",
    "away_under_decimal",
    "payload_id",
)
_LAST_UPDATE = attrgetter("last_update")
SNAPSHOT_TYPES = (
    "timestamptz",
    "int4",
    "int2",
    "int2",
    "numeric",
    "int4",
    "int4",
    "numeric",
    "numeric",
    "int8",
)


@dataclass(frozen=True, slots=True)
class GamesWrite:
    payloads: int
    games: int  # listings taken (a listing older than what is stored is ignored)
    results: int  # final games in the batch
    quarantined: int
    skipped: int
    linked_events: int
    unlinked_events: int  # Odds API events newly quarantined: no game for them (or a duplicate)


@dataclass(frozen=True, slots=True)
class OddsWrite:
    payload_id: int
    events: int
    snapshots: int  # snapshots (one book's prices for one market) in the batch
    new_snapshots: int  # of which not stored before
    fast_path: int  # written by COPY straight into odds_snapshots
    quarantined: int
    linked_events: int
    unlinked_events: int  # Odds API events newly quarantined: no game for them (or a duplicate)


# -- games -----------------------------------------------------------------------------------

_GAME_STAGE = (
    ("game_pk", "bigint"),
    ("game_type", "text"),
    ("season", "integer"),
    ("official_date", "date"),
    ("listed_date", "date"),
    ("start_time", "timestamptz"),
    ("start_time_tbd", "boolean"),
    ("away_team", "text"),
    ("home_team", "text"),
    ("game_number", "smallint"),
    ("double_header", "text"),
    ("mlb_game_number", "smallint"),
    ("status", "text"),
    ("detailed_state", "text"),
    ("status_reason", "text"),
    ("rescheduled_to", "timestamptz"),
    ("venue", "text"),
    ("away_score", "smallint"),
    ("home_score", "smallint"),
    ("away_probable_pitcher", "text"),
    ("away_probable_pitcher_id", "integer"),
    ("home_probable_pitcher", "text"),
    ("home_probable_pitcher_id", "integer"),
    ("seen_at", "timestamptz"),
    ("payload_id", "bigint"),
)
_GAME_FIELDS = attrgetter(*(name for name, _ in _GAME_STAGE[:-2]))
# mlb_games columns written from staging (game_id comes from the games row).
_MLB_COLUMNS = tuple(
    name
    for name, _ in _GAME_STAGE
    if name not in ("season", "away_team", "home_team", "game_number", "payload_id", "seen_at")
)
_MLB_CHANGED = tuple(c for c in _MLB_COLUMNS if c != "game_pk") + ("game_id",)

_GAME_JOIN = """JOIN games g ON (g.game_date, g.away_team, g.home_team, g.game_number)
    = (s.official_date, s.away_team, s.home_team, s.game_number)"""

_MERGE_MLB_GAMES = f"""
INSERT INTO mlb_games (game_id, {", ".join(_MLB_COLUMNS)}, seen_at, payload_id)
SELECT g.game_id, {", ".join("s." + c for c in _MLB_COLUMNS)}, s.seen_at, s.payload_id
FROM stage_mlb_games s {_GAME_JOIN}
ON CONFLICT (game_pk) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _MLB_CHANGED)},
    seen_at = EXCLUDED.seen_at, payload_id = EXCLUDED.payload_id
WHERE ({", ".join("mlb_games." + c for c in _MLB_CHANGED)})
    IS DISTINCT FROM ({", ".join("EXCLUDED." + c for c in _MLB_CHANGED)})
"""

# Only final games have a result; a result another source wrote (Retrosheet, SBR) is kept.
_MERGE_RESULTS = f"""
INSERT INTO results (game_id, away_score, home_score, outs, source)
SELECT g.game_id, s.away_score, s.home_score, NULL, 'mlb_stats'
FROM stage_mlb_games s {_GAME_JOIN}
WHERE s.status = 'final'
ON CONFLICT (game_id) DO UPDATE SET away_score = EXCLUDED.away_score,
    home_score = EXCLUDED.home_score
WHERE results.source = 'mlb_stats'
  AND (results.away_score, results.home_score)
      IS DISTINCT FROM (EXCLUDED.away_score, EXCLUDED.home_score)
"""

# A game whose date or number changed (postponed to a known day) leaves its old row behind;
# it is removed only if nothing else refers to it.
_DROP_ORPHANS = """
DELETE FROM games g USING moved_games m
WHERE g.game_id = m.old_game_id AND g.source_file = %(marker)s
  AND NOT EXISTS (SELECT 1 FROM mlb_games x WHERE x.game_id = g.game_id)
  AND NOT EXISTS (SELECT 1 FROM results r WHERE r.game_id = g.game_id)
  AND NOT EXISTS (SELECT 1 FROM odds o WHERE o.game_id = g.game_id)
"""


def _newest_listings(
    batches: Sequence[tuple[FetchedPayload, GamesParse]],
) -> list[tuple[LiveGame, FetchedPayload]]:
    best: dict[int, tuple[LiveGame, FetchedPayload]] = {}
    for payload, parsed in batches:
        for game in parsed.games:
            seen = best.get(game.game_pk)
            rank = (game.listed_date, payload.fetched_at)
            if seen is None or rank >= (seen[0].listed_date, seen[1].fetched_at):
                best[game.game_pk] = (game, payload)
    return list(best.values())


def write_games_batch(
    conn: psycopg.Connection,
    batches: Sequence[tuple[FetchedPayload, GamesParse]],
    *,
    extra_quarantine: Sequence[QuarantinedRecord] = (),
) -> GamesWrite:
    """Archive the payloads and merge their games, results and quarantine in one transaction.

    Idempotent: games merge on (date, teams, game number), MLB state on gamePk, and a listing
    older than the stored one (earlier schedule date, or earlier fetch) changes nothing.
    """
    listings = _newest_listings(batches)
    quarantined = [q for _, parsed in batches for q in parsed.quarantined]
    quarantined.extend(extra_quarantine)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_GAMES_LOCK,))
        payload_ids = archive.archive_payloads(cur, [payload for payload, _ in batches])
        columns = ", ".join(f"{name} {kind}" for name, kind in _GAME_STAGE)
        cur.execute(f"CREATE TEMP TABLE stage_mlb_games ({columns}) ON COMMIT DROP")
        with cur.copy(
            f"COPY stage_mlb_games ({', '.join(n for n, _ in _GAME_STAGE)}) FROM STDIN"
        ) as copy:
            for game, payload in listings:
                copy.write_row(
                    (*_GAME_FIELDS(game), payload.fetched_at, payload_ids[payload.label])
                )
        cur.execute(
            "DELETE FROM stage_mlb_games s USING mlb_games m WHERE m.game_pk = s.game_pk"
            " AND (s.listed_date, s.seen_at) < (m.listed_date, m.seen_at)"
        )
        cur.execute(
            "INSERT INTO games (season, game_date, away_team, home_team, game_number, source_file)"
            " SELECT season, official_date, away_team, home_team, game_number, %s"
            " FROM stage_mlb_games ON CONFLICT ON CONSTRAINT games_natural_key DO NOTHING",
            (GAMES_SOURCE_FILE,),
        )
        cur.execute(
            "CREATE TEMP TABLE moved_games ON COMMIT DROP AS SELECT m.game_id AS old_game_id"
            f" FROM stage_mlb_games s JOIN mlb_games m USING (game_pk) {_GAME_JOIN}"
            " WHERE m.game_id <> g.game_id"
        )
        cur.execute(_MERGE_MLB_GAMES)
        taken = cur.execute("SELECT count(*) FROM stage_mlb_games").fetchone()
        cur.execute(_MERGE_RESULTS)
        finals = cur.execute(
            "SELECT count(*) FROM stage_mlb_games WHERE status = 'final'"
        ).fetchone()
        _drop_orphans(conn, cur)
        write_quarantine(cur, quarantined, payload_ids)
        linked, unlinked = link_odds_events(cur)
        cur.execute("DROP TABLE stage_mlb_games; DROP TABLE moved_games")
    assert taken is not None and finals is not None
    summary = GamesWrite(
        payloads=len(batches),
        games=int(taken[0]),
        results=int(finals[0]),
        quarantined=len(quarantined),
        skipped=sum(parsed.skipped for _, parsed in batches),
        linked_events=linked,
        unlinked_events=unlinked,
    )
    log.info("wrote %s", summary)
    return summary


def _drop_orphans(conn: psycopg.Connection, cur: psycopg.Cursor) -> None:
    # Another module may reference games without a cascade; then the old row simply stays.
    try:
        with conn.transaction():
            cur.execute(_DROP_ORPHANS, {"marker": GAMES_SOURCE_FILE})
    except psycopg.errors.ForeignKeyViolation:
        log.warning("a moved game's old row is still referenced; kept it")


# -- odds ------------------------------------------------------------------------------------

# Events take the latest fetch's values (start time, teams); replaying an old payload changes
# nothing because its fetch time is older.
_UPSERT_EVENTS = """
INSERT INTO odds_events (event_id, commence_time, away_team, home_team, seen_at)
SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::text[], %s::timestamptz[])
ON CONFLICT (event_id) DO UPDATE SET commence_time = EXCLUDED.commence_time,
    away_team = EXCLUDED.away_team, home_team = EXCLUDED.home_team, seen_at = EXCLUDED.seen_at
WHERE EXCLUDED.seen_at > odds_events.seen_at
  AND (odds_events.commence_time, odds_events.away_team, odds_events.home_team)
      IS DISTINCT FROM (EXCLUDED.commence_time, EXCLUDED.away_team, EXCLUDED.home_team)
"""

# An Odds API event is the MLB game with the same teams whose first pitch is nearest in time
# (within 12 hours): that tells doubleheader games apart by start time, and leaves an event of
# a postponed game (moved by a day or more) unmatched rather than matched wrongly. A game takes
# one event, the nearest (then the lowest key): a second event on it is a duplicate, left
# unlinked so its prices never mix into the game's lines.
_EVENT_CANDIDATES = """
CREATE TEMP TABLE event_candidates ON COMMIT DROP AS
SELECT DISTINCT ON (e.event_key) e.event_key, m.game_pk,
    abs(extract(epoch FROM coalesce(m.rescheduled_to, m.start_time) - e.commence_time)) AS gap
FROM odds_events e
JOIN mlb_games m ON coalesce(m.rescheduled_to, m.start_time)
    BETWEEN e.commence_time - interval '12 hours' AND e.commence_time + interval '12 hours'
JOIN games g ON g.game_id = m.game_id
 AND g.away_team = e.away_team AND g.home_team = e.home_team
WHERE m.status <> 'cancelled'
ORDER BY e.event_key, gap, m.game_pk
"""

_LINK_EVENTS = """
UPDATE odds_events e SET game_pk = chosen.game_pk
FROM (
    SELECT c.event_key, CASE WHEN w.event_key = c.event_key THEN c.game_pk END AS game_pk
    FROM event_candidates c
    JOIN (SELECT DISTINCT ON (game_pk) game_pk, event_key FROM event_candidates
          ORDER BY game_pk, gap, event_key) w USING (game_pk)
) chosen
WHERE e.event_key = chosen.event_key AND e.game_pk IS DISTINCT FROM chosen.game_pk
"""

# An unlinked event is quarantined once the schedule around its start is known (some game
# within 12 hours of it is stored); before that it simply waits for collect-games. The reason
# is stable, so reruns add nothing; an event linked later keeps its record as history. Values
# are quoted so the metric's reason kind (ops/probes.reason_kind) stays one series per case.
_QUARANTINE_UNLINKED_EVENTS = """
INSERT INTO quarantine (source, file, row_number, reason, raw)
SELECT 'odds_api', 'odds_events/' || e.event_id, 0,
    CASE
        WHEN dup.game_pk IS NOT NULL THEN
            format('duplicate event: game %s is linked to event %L', dup.game_pk, dup.winner)
        WHEN cancelled.game_pk IS NOT NULL THEN
            format('its game %L (gamePk %s) was cancelled', e.away_team || '@' || e.home_team,
                   cancelled.game_pk)
        WHEN elsewhere.at IS NOT NULL THEN
            format('no %L game within 12 hours of its start; one is listed at %L (moved?)',
                   e.away_team || '@' || e.home_team,
                   to_char(elsewhere.at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'))
        ELSE format('no %L game within 12 hours of its start in the collected schedule',
                    e.away_team || '@' || e.home_team)
    END,
    jsonb_build_object('event_id', e.event_id, 'commence_time', e.commence_time,
                       'away_team', e.away_team, 'home_team', e.home_team)
FROM odds_events e
LEFT JOIN LATERAL (
    SELECT c.game_pk, w.event_id AS winner FROM event_candidates c
    JOIN odds_events w ON w.game_pk = c.game_pk
    WHERE c.event_key = e.event_key LIMIT 1
) dup ON true
LEFT JOIN LATERAL (
    SELECT m.game_pk FROM mlb_games m JOIN games g ON g.game_id = m.game_id
    WHERE g.away_team = e.away_team AND g.home_team = e.home_team AND m.status = 'cancelled'
      AND coalesce(m.rescheduled_to, m.start_time)
          BETWEEN e.commence_time - interval '12 hours' AND e.commence_time + interval '12 hours'
    ORDER BY m.game_pk LIMIT 1
) cancelled ON true
LEFT JOIN LATERAL (
    SELECT coalesce(m.rescheduled_to, m.start_time) AS at
    FROM mlb_games m JOIN games g ON g.game_id = m.game_id
    WHERE g.away_team = e.away_team AND g.home_team = e.home_team AND m.status <> 'cancelled'
      AND coalesce(m.rescheduled_to, m.start_time)
          BETWEEN e.commence_time - interval '7 days' AND e.commence_time + interval '7 days'
    ORDER BY abs(extract(epoch FROM coalesce(m.rescheduled_to, m.start_time) - e.commence_time)),
        m.game_pk
    LIMIT 1
) elsewhere ON true
WHERE e.game_pk IS NULL
  AND EXISTS (
    SELECT 1 FROM mlb_games m WHERE coalesce(m.rescheduled_to, m.start_time)
        BETWEEN e.commence_time - interval '12 hours' AND e.commence_time + interval '12 hours')
ON CONFLICT ON CONSTRAINT quarantine_natural_key DO NOTHING
"""


def link_odds_events(cur: psycopg.Cursor) -> tuple[int, int]:
    """Point Odds API events at their MLB game (gamePk) and quarantine, with the reason, those
    that match no game once its day's schedule is known; returns (links changed, newly
    quarantined)."""
    cur.execute(_EVENT_CANDIDATES)
    cur.execute(_LINK_EVENTS)
    linked = cur.rowcount
    cur.execute(_QUARANTINE_UNLINKED_EVENTS)
    quarantined = cur.rowcount
    cur.execute("DROP TABLE event_candidates")
    return linked, quarantined


def _upsert_bookmakers(cur: psycopg.Cursor, books: dict[str, str]) -> dict[str, int]:
    keys = sorted(books)
    cur.execute(
        "INSERT INTO bookmakers (book, title) SELECT * FROM unnest(%s::text[], %s::text[])"
        " ON CONFLICT (book) DO NOTHING",
        (keys, [books[k] for k in keys]),
    )
    rows = cur.execute("SELECT book, book_id FROM bookmakers WHERE book = ANY(%s)", (keys,))
    return {book: int(book_id) for book, book_id in rows}


def _upsert_events(cur: psycopg.Cursor, parsed: OddsParse, seen_at: object) -> dict[str, int]:
    events = sorted(parsed.events, key=attrgetter("event_id"))
    ids = [e.event_id for e in events]
    cur.execute(
        _UPSERT_EVENTS,
        (
            ids,
            [e.commence_time for e in events],
            [e.away_team for e in events],
            [e.home_team for e in events],
            [seen_at] * len(events),
        ),
    )
    rows = cur.execute(
        "SELECT event_id, event_key FROM odds_events WHERE event_id = ANY(%s)", (ids,)
    )
    return {event_id: int(key) for event_id, key in rows}


def copy_snapshots(
    cur: psycopg.Cursor,
    table: str,
    snapshots: Iterable[OddsSnapshot],
    event_keys: dict[str, int],
    book_ids: dict[str, int],
    payload_id: int,
) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, SNAPSHOT_COLUMNS))
    )
    with cur.copy(statement) as copy:
        copy.set_types(SNAPSHOT_TYPES)
        write = copy.write_row
        for s in snapshots:
            write(
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
                    payload_id,
                )
            )


def write_odds_batch(
    conn: psycopg.Connection,
    payload: FetchedPayload,
    parsed: OddsParse,
    *,
    retried: Sequence[FetchedPayload] = (),
) -> OddsWrite:
    """Archive one odds payload and write its events, snapshots and quarantine in one transaction.

    Snapshots are append-only and keyed (last_update, event, book, market). Rows newer
    than every stored snapshot cannot collide with one, so they are COPYed straight into the
    table (the writers' advisory lock keeps that true); the rest (unchanged prices seen again,
    replays) are COPYed to staging and merged with ON CONFLICT DO NOTHING. The primary key stays
    the guard: if the fast path ever met a duplicate it rolls back to its savepoint and every row
    takes the merge path. A rerun or a retry after a crash therefore writes nothing twice.
    `retried` are the error answers that preceded `payload` (archived with it).
    """
    # Hashing and compressing a large body takes as long as a fifth of the COPY: do it on the
    # core the COPY leaves idle, and insert the archive row (under a reserved id) at the end.
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        conn.transaction(),
        conn.cursor() as cur,
    ):
        packing = pool.submit(archive.pack_body, payload.body)
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_ODDS_LOCK,))
        payload_ids = archive.archive_payloads(cur, retried)
        payload_id, stored = archive.reserve_payload_id(cur, payload)
        payload_ids[payload.label] = payload_id
        book_ids = _upsert_bookmakers(cur, parsed.bookmakers)
        event_keys = _upsert_events(cur, parsed, payload.fetched_at)
        row = cur.execute("SELECT max(last_update) FROM odds_snapshots").fetchone()
        watermark = row[0] if row else None
        rows = parsed.snapshots
        earliest = parsed.earliest or min(map(_LAST_UPDATE, rows), default=None)
        if watermark is None or earliest is None or earliest > watermark:
            known, fresh = [], rows
        else:
            fresh = [s for s in rows if s.last_update > watermark]
            known = [s for s in rows if s.last_update <= watermark]
        fast = 0
        if fresh:
            try:
                with conn.transaction():
                    copy_snapshots(cur, "odds_snapshots", fresh, event_keys, book_ids, payload_id)
                fast = len(fresh)
            except psycopg.errors.UniqueViolation:
                log.warning("odds fast path met a stored snapshot; merging the whole batch")
                known = rows
        inserted = fast
        if known:
            cur.execute(
                "CREATE TEMP TABLE stage_odds_snapshots (LIKE odds_snapshots) ON COMMIT DROP"
            )
            copy_snapshots(cur, "stage_odds_snapshots", known, event_keys, book_ids, payload_id)
            cur.execute(
                "INSERT INTO odds_snapshots SELECT * FROM stage_odds_snapshots"
                " ON CONFLICT ON CONSTRAINT odds_snapshots_natural_key DO NOTHING"
            )
            inserted += cur.rowcount
            cur.execute("DROP TABLE stage_odds_snapshots")
        if not stored:
            archive.insert_payload(cur, payload, payload_id, packing.result())
        write_quarantine(cur, parsed.quarantined, payload_ids)
        linked, unlinked = link_odds_events(cur)
    summary = OddsWrite(
        payload_id=payload_id,
        events=len(parsed.events),
        snapshots=len(rows),
        new_snapshots=inserted,
        fast_path=fast,
        quarantined=len(parsed.quarantined),
        linked_events=linked,
        unlinked_events=unlinked,
    )
    log.info("wrote %s", summary)
    return summary


# -- checksums -------------------------------------------------------------------------------

_PAYLOAD_KEY = (
    "(SELECT (p.source, p.request, p.fetched_at) FROM raw_payloads p"
    " WHERE p.payload_id = {alias}.payload_id)"
)

# Content keyed by natural keys: surrogate ids (burnt by a rolled-back batch) never differ
# between two databases that hold the same data.
LIVE_CHECKSUM_QUERIES = {
    "raw_payloads": "SELECT (source, request, fetched_at, http_status, headers, sha256,"
    " body_bytes, md5(body_gzip))::text FROM raw_payloads ORDER BY source, request, fetched_at",
    "mlb_games": "SELECT (m.game_pk, g.game_date, g.away_team, g.home_team, g.game_number,"
    " m.game_type, m.official_date, m.listed_date, m.start_time, m.start_time_tbd, m.status,"
    " m.detailed_state, m.status_reason, m.double_header, m.mlb_game_number, m.rescheduled_to,"
    " m.venue, m.away_score, m.home_score, m.away_probable_pitcher, m.away_probable_pitcher_id,"
    " m.home_probable_pitcher, m.home_probable_pitcher_id, m.seen_at, "
    + _PAYLOAD_KEY.format(alias="m")
    + ")::text FROM mlb_games m JOIN games g USING (game_id) ORDER BY m.game_pk",
    "bookmakers": "SELECT (book, title)::text FROM bookmakers ORDER BY book",
    "odds_events": "SELECT (event_id, commence_time, away_team, home_team, game_pk, seen_at)::text"
    " FROM odds_events ORDER BY event_id",
    "odds_snapshots": "SELECT (e.event_id, b.book, s.market, s.last_update, s.point,"
    " s.home_over_american, s.away_under_american, s.home_over_decimal, s.away_under_decimal, "
    + _PAYLOAD_KEY.format(alias="s")
    + ")::text FROM odds_snapshots s JOIN odds_events e USING (event_key)"
    " JOIN bookmakers b USING (book_id)"
    " ORDER BY s.last_update, e.event_id, b.book, s.market",
    "quarantine_payloads": "SELECT (q.source, q.file, q.row_number, q.reason, "
    + _PAYLOAD_KEY.format(alias="q")
    + ")::text FROM quarantine q ORDER BY q.source, q.file, q.row_number, q.reason",
}


def live_fingerprints(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """(row count, md5 of ordered content) per live-collection table."""
    return table_fingerprints(conn, LIVE_CHECKSUM_QUERIES)
