"""What every writer shares: COPY rows, merge without rewriting unchanged rows, quarantine,
the `ingested_files` ledger and table fingerprints.

The history, event-file and live stores (under `bullpen.collect`) build their own statements
from these; nothing here knows a source's record types, so `db` imports nothing above it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import psycopg


class QuarantineRow(Protocol):
    """The fields of `bullpen.collect.records.QuarantinedRecord` that the table stores."""

    @property
    def source(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def row(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def raw(self) -> Any: ...


def copy_rows(
    cur: psycopg.Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY `rows` (tuples in `columns` order) into `table` (text format)."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def update_changed(table: str, columns: Sequence[str]) -> str:
    """`DO UPDATE SET c = EXCLUDED.c ... WHERE changed`: an unchanged rerun rewrites no tuple."""
    assign = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    old = ", ".join(f"{table}.{c}" for c in columns)
    new = ", ".join(f"EXCLUDED.{c}" for c in columns)
    return f"DO UPDATE SET {assign} WHERE ({old}) IS DISTINCT FROM ({new})"


_QUARANTINE_COLUMNS = ("source", "file", "row_number", "reason", "raw", "payload_id")


def write_quarantine(
    cur: psycopg.Cursor,
    records: Iterable[QuarantineRow],
    payload_ids: Mapping[str, int] | None = None,
) -> int:
    """COPY quarantined records to staging and merge them (idempotent on the quarantine key).

    `payload_ids` maps a record's `file` to the archived payload it came from (live sources).
    Returns how many records were given. Callable more than once per transaction.
    """
    records = list(records)
    if not records:
        return 0
    ids = payload_ids or {}
    cur.execute(
        "CREATE TEMP TABLE stage_quarantine (source text, file text, row_number integer,"
        " reason text, raw jsonb, payload_id bigint) ON COMMIT DROP"
    )
    copy_rows(
        cur,
        "stage_quarantine",
        _QUARANTINE_COLUMNS,
        (
            (q.source, q.file, q.row, q.reason, json.dumps(q.raw, ensure_ascii=False, default=str),
             ids.get(q.file))
            for q in records
        ),
    )  # fmt: skip
    columns = ", ".join(_QUARANTINE_COLUMNS)
    cur.execute(
        f"INSERT INTO quarantine ({columns}) SELECT {columns} FROM stage_quarantine"
        " ON CONFLICT ON CONSTRAINT quarantine_natural_key DO NOTHING"
    )
    cur.execute("DROP TABLE stage_quarantine")
    return len(records)


def record_ingested_file(
    cur: psycopg.Cursor | psycopg.Connection,
    *,
    source: str,
    file: str,
    sha256: str,
    games: int,
    quarantined: int,
) -> None:
    """Upsert the `ingested_files` ledger row of one loaded file."""
    cur.execute(
        "INSERT INTO ingested_files (source, file, sha256, games, quarantined)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (source, file) DO UPDATE SET"
        " sha256 = EXCLUDED.sha256, games = EXCLUDED.games,"
        " quarantined = EXCLUDED.quarantined, loaded_at = now()",
        (source, file, sha256, games, quarantined),
    )


def table_fingerprints(
    conn: psycopg.Connection, queries: Mapping[str, str]
) -> dict[str, tuple[int, str]]:
    """(row count, md5 of ordered content) per table; `queries` maps a table to a query giving
    one text row per table row in a stable order."""
    out: dict[str, tuple[int, str]] = {}
    for table, query in queries.items():
        row = conn.execute(
            f"SELECT count(*), coalesce(md5(string_agg(x, E'\\n')), '') FROM ({query}) q(x)"
        ).fetchone()
        assert row is not None
        out[table] = (int(row[0]), str(row[1]))
    return out
