"""History writes: one SBR season file (with its Retrosheet results) per transaction, COPYed into
staging and merged on natural keys; idempotent."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter

import psycopg

from bullpen.collect.records import GameRecord, QuarantinedRecord
from bullpen.db.staging import (
    copy_rows,
    record_ingested_file,
    table_fingerprints,
    update_changed,
    write_quarantine,
)

log = logging.getLogger(__name__)

GAME_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(GameRecord))
# dataclasses.astuple deep-copies every field: 27x slower than this on a season of games.
game_row = attrgetter(*GAME_COLUMNS)

# Postgres types for the staging copy of GameRecord, in field order.
_STAGE_TYPES = {
    "season": "integer",
    "game_date": "date",
    "game_number": "smallint",
    "neutral_site": "boolean",
    "away_score": "smallint",
    "home_score": "smallint",
    "outs": "smallint",
    "source_row": "integer",
    "open_total": "numeric(4,1)",
    "close_total": "numeric(4,1)",
    "home_runline": "numeric(4,1)",
}
_INT_PRICE_COLUMNS = {c for c in GAME_COLUMNS if c.endswith(("_ml", "_price"))}

_GAME_ATTRS = (
    "season",
    "neutral_site",
    "away_pitcher",
    "home_pitcher",
    "away_pitcher_hand",
    "home_pitcher_hand",
    "away_starter_id",
    "home_starter_id",
    "source_file",
    "source_row",
)
_ODDS_VALUES = (
    "away_ml",
    "home_ml",
    "total",
    "over_price",
    "under_price",
    "home_spread",
    "home_spread_price",
    "away_spread_price",
)


@dataclass(frozen=True, slots=True)
class WriteSummary:
    file: str
    games: int
    results: int
    odds_rows: int
    quarantined: int


def _stage_type(column: str) -> str:
    if column in _INT_PRICE_COLUMNS:
        return "integer"
    return _STAGE_TYPES.get(column, "text")


def copy_games_to_stage(cur: psycopg.Cursor, games: Iterable[GameRecord]) -> None:
    """COPY game records into a session-temporary `stage_games` table (dropped on commit)."""
    column_defs = ", ".join(f"{c} {_stage_type(c)}" for c in GAME_COLUMNS)
    cur.execute(f"CREATE TEMP TABLE stage_games ({column_defs}) ON COMMIT DROP")
    copy_rows(cur, "stage_games", GAME_COLUMNS, map(game_row, games))


_MERGE_GAMES = f"""
INSERT INTO games (game_date, away_team, home_team, game_number, {", ".join(_GAME_ATTRS)})
SELECT game_date, away_team, home_team, game_number, {", ".join(_GAME_ATTRS)} FROM stage_games
ON CONFLICT ON CONSTRAINT games_natural_key {update_changed("games", _GAME_ATTRS)}
"""

_STAGE_JOIN = """
FROM stage_games s JOIN games g
  ON (g.game_date, g.away_team, g.home_team, g.game_number)
   = (s.game_date, s.away_team, s.home_team, s.game_number)
"""

_MERGE_RESULTS = f"""
INSERT INTO results (game_id, away_score, home_score, outs, source)
SELECT g.game_id, s.away_score, s.home_score, s.outs, s.score_source {_STAGE_JOIN}
WHERE s.away_score IS NOT NULL AND s.home_score IS NOT NULL
ON CONFLICT (game_id) {update_changed("results", ("away_score", "home_score", "outs", "source"))}
"""

# SBR's run line is not labelled open or close; it is stored with the closing line, as is usual.
_MERGE_ODDS = f"""
INSERT INTO odds (game_id, source, book, phase, {", ".join(_ODDS_VALUES)})
SELECT game_id, %(source)s, %(book)s, phase, {", ".join(_ODDS_VALUES)} FROM (
    SELECT g.game_id, 'open' AS phase, s.away_open_ml AS away_ml, s.home_open_ml AS home_ml,
           s.open_total AS total, s.open_over_price AS over_price,
           s.open_under_price AS under_price, NULL::numeric AS home_spread,
           NULL::integer AS home_spread_price, NULL::integer AS away_spread_price
    {_STAGE_JOIN}
    UNION ALL
    SELECT g.game_id, 'close', s.away_close_ml, s.home_close_ml, s.close_total,
           s.close_over_price, s.close_under_price, s.home_runline, s.home_runline_price,
           s.away_runline_price
    {_STAGE_JOIN}
) lines
WHERE COALESCE(away_ml, home_ml, over_price, under_price, home_spread_price) IS NOT NULL
   OR total IS NOT NULL
ON CONFLICT (game_id, source, book, phase) {update_changed("odds", _ODDS_VALUES)}
"""


def write_history_file(
    conn: psycopg.Connection,
    *,
    file: str,
    sha256: str,
    games: Sequence[GameRecord],
    quarantined: Sequence[QuarantinedRecord],
    source: str = "sbr",
    book: str = "sbr",
) -> WriteSummary:
    """Write one source file's games, results, lines and quarantine in one transaction.

    Idempotent: every table merges on its natural key, so rerunning a file (or retrying after a
    crash, which rolls the whole file back) neither duplicates nor loses rows.
    """
    with conn.transaction(), conn.cursor() as cur:
        copy_games_to_stage(cur, games)
        cur.execute(_MERGE_GAMES)
        cur.execute(_MERGE_RESULTS)
        cur.execute(_MERGE_ODDS, {"source": source, "book": book})
        write_quarantine(cur, quarantined)
        record_ingested_file(
            cur,
            source=source,
            file=file,
            sha256=sha256,
            games=len(games),
            quarantined=len(quarantined),
        )
        counts = cur.execute(
            "SELECT count(*) FILTER (WHERE s.away_score IS NOT NULL AND s.home_score IS NOT NULL),"
            " count(*) " + _STAGE_JOIN
        ).fetchone()
        odds_rows = cur.execute(
            "SELECT count(*) " + _STAGE_JOIN + " JOIN odds o ON o.game_id = g.game_id"
        ).fetchone()
    assert counts is not None and odds_rows is not None
    summary = WriteSummary(file, counts[1], counts[0], odds_rows[0], len(quarantined))
    log.info("wrote %s", summary)
    return summary


# Content checksums keyed by natural keys, so surrogate ids (which a rolled-back run may burn)
# do not make two equal databases look different.
_CHECKSUM_QUERIES = {
    "teams": "SELECT t::text FROM teams t ORDER BY team_id",
    "games": "SELECT (g.season, g.game_date, g.away_team, g.home_team, g.game_number,"
    " g.neutral_site, g.away_pitcher, g.home_pitcher, g.away_pitcher_hand, g.home_pitcher_hand,"
    " g.away_starter_id, g.home_starter_id, g.source_file, g.source_row)::text FROM games g"
    " ORDER BY g.game_date, g.away_team, g.home_team, g.game_number",
    "results": "SELECT (g.game_date, g.away_team, g.home_team, g.game_number, r.away_score,"
    " r.home_score, r.outs, r.source)::text FROM results r JOIN games g USING (game_id)"
    " ORDER BY g.game_date, g.away_team, g.home_team, g.game_number",
    "odds": "SELECT (g.game_date, g.away_team, g.home_team, g.game_number, o.source, o.book,"
    " o.phase, o.away_ml, o.home_ml, o.total, o.over_price, o.under_price, o.home_spread,"
    " o.home_spread_price, o.away_spread_price)::text FROM odds o JOIN games g USING (game_id)"
    " ORDER BY g.game_date, g.away_team, g.home_team, g.game_number, o.source, o.book, o.phase",
    "quarantine": "SELECT (source, file, row_number, reason, raw)::text FROM quarantine"
    " ORDER BY source, file, row_number, reason",
}


def history_fingerprints(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """(row count, md5 of ordered content) per history table."""
    return table_fingerprints(conn, _CHECKSUM_QUERIES)
