"""Per-table row counts and content checksums of every table in a database, and their comparison."""

from __future__ import annotations

import psycopg
from psycopg import sql

from bullpen.backup.manifest import DatabaseEntry, TableStat

# Row text depends on these session settings; pin them so backup and restore hash the same text.
_SESSION = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)

_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2
"""

# Hash each row, then hash the sorted row hashes: independent of physical row order (a restore
# rewrites the heap), cheap to sort (32 bytes per row) and exact on content.
_TABLE_CHECKSUM = (
    "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h COLLATE \"C\")), '')"
    " FROM (SELECT md5(t::text) AS h FROM {table} t) s"
)

_SEQUENCES = (
    "SELECT schemaname, sequencename, coalesce(last_value::text, 'unset') FROM pg_sequences"
    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
)


def pin_session(conn: psycopg.Connection) -> None:
    """Fix the settings that change how values print (time zone, date style, float digits)."""
    for statement in _SESSION:
        conn.execute(statement)


def table_checksums(conn: psycopg.Connection) -> dict[str, TableStat]:
    """`schema.table` -> (rows, checksum) for every ordinary table outside the system schemas.

    Runs on the caller's transaction, so inside a snapshot it matches what pg_dump saw.
    """
    pin_session(conn)
    out: dict[str, TableStat] = {}
    for schema, table in conn.execute(_TABLES).fetchall():
        query = sql.SQL(_TABLE_CHECKSUM).format(table=sql.Identifier(schema, table))
        row = conn.execute(query).fetchone()
        assert row is not None  # an aggregate always returns a row
        out[f"{schema}.{table}"] = TableStat(rows=int(row[0]), checksum=str(row[1]))
    return out


def sequence_values(conn: psycopg.Connection) -> dict[str, str]:
    """`schema.sequence` -> last value ('unset' before the first nextval)."""
    return {f"{s}.{n}": str(v) for s, n, v in conn.execute(_SEQUENCES).fetchall()}


def compare_database(
    expected: DatabaseEntry, tables: dict[str, TableStat], sequences: dict[str, str]
) -> list[str]:
    """Every difference between a manifest entry and a restored database; empty when identical."""
    problems: list[str] = []
    for name in sorted(set(expected.tables) | set(tables)):
        want, got = expected.tables.get(name), tables.get(name)
        if want is None:
            problems.append(f"{name}: table not in the backup")
        elif got is None:
            problems.append(f"{name}: table missing after restore")
        elif want.rows != got.rows:
            problems.append(f"{name}: {got.rows} rows, backup had {want.rows}")
        elif want.checksum != got.checksum:
            problems.append(f"{name}: content checksum differs ({want.rows} rows)")
    for name in sorted(set(expected.sequences) | set(sequences)):
        if expected.sequences.get(name) != sequences.get(name):
            problems.append(
                f"sequence {name}: {sequences.get(name)}, backup had {expected.sequences.get(name)}"
            )
    return problems
