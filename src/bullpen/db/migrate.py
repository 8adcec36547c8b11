"""Versioned SQL migrations (db/migrations/NNNN_name.sql), applied once each, in order, and the
seed of the canonical teams (bullpen.teams) that every source refers to."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

from bullpen.teams import TEAMS

log = logging.getLogger(__name__)

# Any constant works; it serialises concurrent migrators on the same database.
_MIGRATION_LOCK_ID = 0x62756C6C


def list_migrations() -> list[tuple[str, str]]:
    """(version, sql) pairs sorted by version, read from the package."""
    folder = resources.files("bullpen.db") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the versions applied."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in list_migrations():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            log.info("applied migration %s", version)
            applied_now.append(version)
    return applied_now


def write_teams(conn: psycopg.Connection) -> None:
    """Upsert the canonical teams (names follow bullpen.teams)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO teams (team_id, name, league) VALUES (%s, %s, %s)"
            " ON CONFLICT (team_id) DO UPDATE SET name = EXCLUDED.name, league = EXCLUDED.league"
            " WHERE (teams.name, teams.league) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.league)",
            [(t.team_id, t.name, t.league) for t in TEAMS.values()],
        )
