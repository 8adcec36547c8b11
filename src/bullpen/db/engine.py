"""Connections to the bullpen database: the embedded PostgreSQL server or any Postgres URL."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from bullpen.db.embedded import server
from bullpen.db.urls import with_database

log = logging.getLogger(__name__)


def start_embedded(pgdata: Path, *, tcp_port: int | None = None) -> str:
    """Start (or reuse) the private embedded PostgreSQL server in `pgdata`; return its libpq URL.

    The server keeps running after this process exits, so later commands reuse it in milliseconds;
    `stop_embedded` stops it. The URL carries no password: it names the 0600 pgpass file
    (`passfile=`) that libpq reads, see bullpen.db.embedded.
    """
    return server.start(pgdata, tcp_port=tcp_port)


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server if it runs; return whether it was running. Only the cluster's
    own postmaster is ever signalled."""
    return server.stop(pgdata)


def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url` if missing; return the URL pointing at it."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            log.info("created database %s", name)
    return with_database(url, name)


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)  # type: ignore[arg-type]
