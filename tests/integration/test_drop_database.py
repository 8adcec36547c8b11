"""Dropping and renaming databases as a role that is not a superuser, as worker hosts do when
backup-verify drops its scratch copy (the multi-host lab's CI run failed there once: a fresh
restore drew an autovacuum worker, and DROP DATABASE ... WITH (FORCE) may not end it)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from bullpen.backup import dump
from bullpen.backup.errors import BackupError
from bullpen.db import urls


def _role_url(server_url: str, role: str, password: str) -> str:
    host = psycopg.conninfo.conninfo_to_dict(server_url)["host"]
    return f"postgresql://{role}:{password}@/postgres?host={host}"


@pytest.fixture(scope="module")
def owner_url(pg_server_url: str) -> Iterator[str]:
    """A login role with CREATEDB only, and autovacuum waking every second while it is used."""
    role, password = f"owner_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{password}'")
        conn.execute("ALTER SYSTEM SET autovacuum_naptime = 1")
        conn.execute("SELECT pg_reload_conf()")
    yield _role_url(pg_server_url, role, password)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET autovacuum_naptime")
        conn.execute("SELECT pg_reload_conf()")


def _scratch(owner_url: str, rows: int = 0) -> tuple[str, str]:
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = urls.with_database(owner_url, name)
    if rows:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE t (a int, b text) WITH (autovacuum_vacuum_insert_threshold = 1,"
                " autovacuum_analyze_threshold = 1)"
            )
            conn.execute(
                "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, %s) g", (rows,)
            )
    return url, name


def _exists(server_url: str, name: str) -> bool:
    return dump.database_exists(server_url, name)


def _wait_for_autovacuum(server_url: str, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(server_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute(
                "SELECT 1 FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'autovacuum worker'",
                (name,),
            ).fetchone()
            if found:
                return
            time.sleep(0.02)
    raise AssertionError(f"no autovacuum worker came to {name} in {timeout} s")


@pytest.mark.parametrize("operation", ["drop", "rename"])
def test_an_autovacuum_worker_on_the_database_does_not_stop_its_owner(
    pg_server_url: str, owner_url: str, operation: str
) -> None:
    url, name = _scratch(owner_url, rows=1_000_000)
    _wait_for_autovacuum(pg_server_url, name)
    if operation == "drop":
        dump.drop_database(url)
        assert not _exists(pg_server_url, name)
    else:
        renamed = dump.rename_database(url, f"{name}_old")
        assert _exists(pg_server_url, f"{name}_old") and not _exists(pg_server_url, name)
        dump.drop_database(renamed)


def test_the_owners_own_sessions_are_ended(pg_server_url: str, owner_url: str) -> None:
    url, name = _scratch(owner_url)
    with psycopg.connect(url) as held:
        held.execute("BEGIN")
        held.execute("SELECT 1")
        dump.drop_database(url)
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
    assert not _exists(pg_server_url, name)


def test_another_roles_session_leaves_the_database_whole_with_a_clear_error(
    pg_server_url: str, owner_url: str
) -> None:
    url, name = _scratch(owner_url)
    other, password = f"other_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {other} LOGIN PASSWORD '{password}'")
    other_url = urls.with_database(_role_url(pg_server_url, other, password), name)
    with psycopg.connect(other_url) as held:
        held.execute("SELECT 1")
        with pytest.raises(BackupError, match=rf"{name} not dropped: sessions of \['{other}'\]"):
            dump.drop_database(url, attempts=1)
        held.execute("SELECT 1")  # not ended
    assert _exists(pg_server_url, name)
    with psycopg.connect(url) as conn:  # connections are allowed again
        conn.execute("SELECT 1")
    dump.drop_database(url)
    assert not _exists(pg_server_url, name)


def test_dropping_a_missing_database_is_a_no_op(pg_server_url: str, owner_url: str) -> None:
    dump.drop_database(urls.with_database(owner_url, f"missing_{uuid.uuid4().hex[:8]}"))
