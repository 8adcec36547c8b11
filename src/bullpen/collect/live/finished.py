"""After a schedule write: probable pitchers recorded (linked by the register) and picks whose
starter changed flagged; the play-by-play of newly final games loaded from their game feeds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import psycopg

from bullpen.collect.history.events import store as event_store
from bullpen.collect.http import Source, error_message
from bullpen.collect.live import archive, game_feed, mlb_stats
from bullpen.collect.records import QuarantinedRecord
from bullpen.db.staging import write_quarantine
from bullpen.players import probables

log = logging.getLogger(__name__)

MAX_GAME_FEEDS_PER_RUN = 30  # a full day is 15 games; a backlog is worked off over runs


@lru_cache(maxsize=4)
def register_index(data_dir: Path) -> probables.RegisterIndex:
    # Read once per process: the register is a bundled file that changes only with a release.
    return probables.load_register_index(data_dir)


@dataclass(frozen=True, slots=True)
class ProbablesSummary:
    probables: int  # new probable-pitcher listings (first listings and changes)
    probables_unmapped: int  # of those, MLB ids the register does not map
    starter_changes: int  # new flags on picks


@dataclass(frozen=True, slots=True)
class PlaysSummary:
    start: date
    end: date
    plays_loaded: int  # finished games whose play-by-play was written
    plays_quarantined: int  # finished games whose feed was refused (reason in quarantine)
    unmapped_players: int  # players of the loaded games kept as mlbam:<id>
    waiting: int  # final games of the range still without plays (unreachable, over the cap)


# Final games in the collected range whose feed is not in the ledger yet.
_FINALS_WITHOUT_PLAYS = """
SELECT m.game_pk FROM mlb_games m
WHERE m.status = 'final' AND m.official_date BETWEEN %(start)s AND %(end)s
  AND NOT EXISTS (SELECT 1 FROM ingested_files f
                  WHERE f.source = %(source)s AND f.file = %(prefix)s || m.game_pk || '/feed/live')
ORDER BY m.official_date, m.game_pk
LIMIT %(limit)s
"""


def finals_without_plays(conn: psycopg.Connection, start: date, end: date) -> list[int]:
    with conn.transaction():
        rows = conn.execute(
            _FINALS_WITHOUT_PLAYS,
            {
                "start": start,
                "end": end,
                "source": event_store.SOURCE,
                "prefix": f"{mlb_stats.SOURCE}:/api/v1.1/game/",
                "limit": MAX_GAME_FEEDS_PER_RUN,
            },
        ).fetchall()
    return [int(r[0]) for r in rows]


def load_game_plays(
    conn: psycopg.Connection, source: Source, game_pk: int, register: probables.RegisterIndex
) -> tuple[bool, int]:
    """Fetch, archive and write one finished game's feed; (written, unmapped players).

    Refused feeds (an error answer, plays that disagree with the boxscore) are quarantined with
    the reason and written nowhere else; the next run of a date range that holds the game asks
    again. Raises ConnectionError when the API stays unreachable.
    """
    feed = mlb_stats.fetch_game_feed(source, game_pk)
    file = game_feed.feed_file(game_pk)
    with conn.transaction(), conn.cursor() as cur:
        ids = archive.archive_payloads(cur, [feed, *source.drain_failures()])
    if feed.status != 200:
        reason = f"game feed HTTP {feed.status}: {error_message(feed)}"
        refused: QuarantinedRecord | None = QuarantinedRecord(
            mlb_stats.SOURCE, file, 0, reason, {"gamePk": game_pk}
        )
        parsed = None
    else:
        parsed, refused = game_feed.parse_finished_game(
            feed.body, game_pk=game_pk, register=register
        )
    if parsed is None:
        assert refused is not None
        with conn.transaction(), conn.cursor() as cur:
            write_quarantine(cur, [refused], {file: ids[feed.label]})
        log.warning("game %d: feed refused: %s", game_pk, refused.reason)
        return False, 0
    batch = event_store.FileBatch(file, parsed.sha256, parsed.rows)
    event_store.write_event_file(conn, batch)
    return True, parsed.unmapped_players


def record_probables(conn: psycopg.Connection, data_dir: Path) -> ProbablesSummary:
    """The schedule's probable pitchers (from mlb_games) linked and stored, then the picks whose
    starter changed flagged; both idempotent."""
    written = probables.record_probables(conn, register_index(data_dir))
    flags = probables.flag_starter_changes(conn)
    return ProbablesSummary(written.listings, written.unmapped, flags)


def load_finished_games(
    conn: psycopg.Connection, source: Source, start: date, end: date, data_dir: Path
) -> PlaysSummary:
    """Play-by-play of the range's final games that have none yet, from their game feeds."""
    register = register_index(data_dir)
    loaded = refused = unmapped = 0
    for game_pk in finals_without_plays(conn, start, end):
        try:
            ok, players = load_game_plays(conn, source, game_pk, register)
        except ConnectionError as exc:  # retries spent or breaker open: the rest wait
            log.warning("game %d: feed unreachable: %s", game_pk, exc)
            break
        loaded += ok
        refused += not ok
        unmapped += players
    waiting = len(finals_without_plays(conn, start, end))
    return PlaysSummary(start, end, loaded, refused, unmapped, waiting)
