"""The raw-payload archive: every fetched body (answers and errors) stored gzip-compressed once,
read back for replaying a parse, and the Odds API quota the last answer reported."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence

import psycopg

from bullpen.collect.http import FetchedPayload


def _headers_json(payload: FetchedPayload) -> str:
    return json.dumps(dict(sorted(payload.headers.items())))


def pack_body(body: bytes) -> tuple[str, bytes]:
    """(sha256, gzip) of a body. Level 1: a third of level 6's time for a few percent more
    bytes; mtime=0: the same body always packs to the same bytes. Both release the GIL."""
    return hashlib.sha256(body).hexdigest(), gzip.compress(body, compresslevel=1, mtime=0)


def reserve_payload_id(cur: psycopg.Cursor, payload: FetchedPayload) -> tuple[int, bool]:
    """(payload_id, already archived): the stored row's id, or a new one reserved for it."""
    row = cur.execute(
        "SELECT payload_id FROM raw_payloads WHERE (source, request, fetched_at) = (%s, %s, %s)",
        (payload.source, payload.request, payload.fetched_at),
    ).fetchone()
    if row is not None:
        return int(row[0]), True
    row = cur.execute("SELECT nextval(pg_get_serial_sequence('raw_payloads', 'payload_id'))")
    reserved = row.fetchone()
    assert reserved is not None
    return int(reserved[0]), False


def insert_payload(
    cur: psycopg.Cursor, payload: FetchedPayload, payload_id: int, packed: tuple[str, bytes]
) -> None:
    sha256, body_gzip = packed
    cur.execute(
        "INSERT INTO raw_payloads (payload_id, source, request, fetched_at, http_status, headers,"
        " sha256, body_bytes, body_gzip) OVERRIDING SYSTEM VALUE"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            payload_id,
            payload.source,
            payload.request,
            payload.fetched_at,
            payload.status,
            _headers_json(payload),
            sha256,
            len(payload.body),
            body_gzip,
        ),
    )


def archive_payloads(cur: psycopg.Cursor, payloads: Sequence[FetchedPayload]) -> dict[str, int]:
    """Insert the payloads (idempotent on source, request, fetch time); {label: payload_id}.

    Callers hold their writer's advisory lock, so no one else archives the same fetch between
    the lookup and the insert.
    """
    ids: dict[str, int] = {}
    for payload in payloads:
        payload_id, stored = reserve_payload_id(cur, payload)
        if not stored:
            insert_payload(cur, payload, payload_id, pack_body(payload.body))
        ids[payload.label] = payload_id
    return ids


def read_payload(conn: psycopg.Connection, payload_id: int) -> FetchedPayload:
    """An archived payload, decompressed, exactly as it was fetched (for replaying a parse)."""
    row = conn.execute(
        "SELECT source, request, fetched_at, http_status, headers, body_gzip FROM raw_payloads"
        " WHERE payload_id = %s",
        (payload_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"no archived payload {payload_id}")
    source, request, fetched_at, status, headers, body = row
    return FetchedPayload(source, request, fetched_at, status, headers, gzip.decompress(body))


def last_odds_quota(conn: psycopg.Connection) -> int | None:
    """x-requests-remaining of the latest archived Odds API response that reported it."""
    row = conn.execute(
        "SELECT headers->>'x-requests-remaining' FROM raw_payloads"
        " WHERE source = 'odds_api' AND headers ? 'x-requests-remaining'"
        " ORDER BY fetched_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    try:
        return int(float(row[0]))
    except (TypeError, ValueError):
        return None
