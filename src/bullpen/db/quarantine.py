"""Read the quarantine: records that could not be trusted, each with the reason (written by the
collectors through db/staging.py)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class QuarantinedEntry:
    source: str
    file: str
    row_number: int
    reason: str


@dataclass(frozen=True)
class QuarantineListing:
    rows: tuple[QuarantinedEntry, ...]  # newest first
    total: int  # records in quarantine, of every source


def list_quarantine(
    conn: psycopg.Connection, *, source: str | None = None, limit: int = 50
) -> QuarantineListing:
    """The newest `limit` quarantined records (of `source` only, if given) and the total."""
    rows = conn.execute(
        "SELECT source, file, row_number, reason FROM quarantine"
        " WHERE %(source)s::text IS NULL OR source = %(source)s"
        " ORDER BY first_seen DESC, file, row_number LIMIT %(limit)s",
        {"source": source, "limit": limit},
    ).fetchall()
    total = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    return QuarantineListing(
        tuple(QuarantinedEntry(*row) for row in rows), int(total[0]) if total else 0
    )
