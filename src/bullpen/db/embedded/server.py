"""Start and stop the private embedded server (initdb, pg_ctl); convert an old trust cluster."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import psutil
import psycopg
from psycopg import sql

from bullpen.db.embedded.account import (
    DB_USER,
    DEFAULT_PORT,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    EmbeddedPostgresError,
    ServerUser,
    owner_of,
    pg_bin_dir,
    server_user,
)
from bullpen.db.embedded.auth import (
    PASSFILE_NAME,
    PG_HBA,
    auth_in_place,
    ensure_auth,
    ensure_password,
    scram_verifier,
    subprocess_env,
    write_private,
)
from bullpen.db.embedded.dirs import (
    check_private_dir,
    check_reachable,
    choose_socket_dir,
)
from bullpen.db.embedded.postmaster import (
    PidFile,
    drop_stale,
    postmaster_process,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _cluster_lock(pgdata: Path) -> Iterator[None]:
    """One start/stop at a time per cluster (the worker and the CLI may both start it)."""
    fd = os.open(pgdata, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _prepare_pgdata(pgdata: Path, user: ServerUser) -> None:
    check_reachable(pgdata.parent, user, "the data directory")  # before creating anything
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    check_reachable(pgdata.parent, user, "the data directory")
    bin_dir = pg_bin_dir()
    check_reachable(bin_dir, user, "the PostgreSQL binaries in")
    try:
        os.mkdir(pgdata, 0o700)
    except FileExistsError:
        st = os.lstat(pgdata)
        if not stat.S_ISDIR(st.st_mode):
            raise EmbeddedPostgresError(f"{pgdata} exists and is not a directory") from None
        if st.st_uid != user.uid:
            # Only an empty directory of ours is handed over (as the wheel did); a cluster that
            # belongs to someone else is not taken.
            if st.st_uid == os.geteuid() and not any(pgdata.iterdir()):
                os.chown(pgdata, user.uid, user.gid)
                os.chmod(pgdata, 0o700)  # narrowing only
            else:
                raise EmbeddedPostgresError(
                    f"{pgdata} belongs to {owner_of(st.st_uid)}; the server runs as {user.name}"
                ) from None
    else:
        if not user.is_self:
            os.chown(pgdata, user.uid, user.gid)


def _initdb(pgdata: Path, user: ServerUser) -> None:
    # reject until ensure_auth writes the scram rules: trust never exists, not even briefly.
    done = subprocess.run(
        [
            str(pg_bin_dir() / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            DB_USER,
            "--auth=reject",
            "--encoding=utf8",
            "--no-instructions",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd="/",
        timeout=300,
        **user.run_as(),  # type: ignore[arg-type]
    )
    if done.returncode != 0:
        raise EmbeddedPostgresError(f"initdb failed for {pgdata}: {done.stderr.strip()[-800:]}")


def _pg_ctl_start(pgdata: Path, socket_dir: Path, port: int, listen: str, user: ServerUser) -> None:
    # pg_ctl hands -o to a shell, hence the quoting.
    options = " ".join(
        [
            f"-c listen_addresses={shlex.quote(listen)}",
            f"-k {shlex.quote(str(socket_dir))}",
            f"-p {port}",
            "-c unix_socket_permissions=0700",
        ]
    )
    log_file = pgdata / "log"
    done = subprocess.run(
        [
            str(pg_bin_dir() / "pg_ctl"),
            "-D",
            str(pgdata),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(log_file),
            "-o",
            options,
            "start",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd="/",
        timeout=START_TIMEOUT_S + 30,
        **user.run_as(),  # type: ignore[arg-type]
    )
    if done.returncode != 0:
        try:
            tail = log_file.read_text()[-1500:]
        except OSError:
            tail = ""
        raise EmbeddedPostgresError(
            f"the embedded server in {pgdata} did not start: {done.stderr.strip()}\n{tail}"
        )


def url_for(pid_file: PidFile, pgdata: Path, database: str = DB_USER) -> str:
    """libpq URL over the socket; the password is read by libpq from the pgpass file."""
    if pid_file.socket_dir is None:
        raise EmbeddedPostgresError(f"the server of {pgdata} has no Unix socket")
    query = {"host": str(pid_file.socket_dir)}
    if pid_file.port and pid_file.port != DEFAULT_PORT:
        query["port"] = str(pid_file.port)
    query["passfile"] = str(pgdata / PASSFILE_NAME)
    return f"postgresql://{DB_USER}@/{database}?{urlencode(query, safe='/', quote_via=quote)}"


def _convert_running(pgdata: Path, pid_file: PidFile, user: ServerUser) -> None:
    """A server started by an older bullpen (trust in pg_hba.conf) whose socket is already
    private: set the password and the scram rules in place, reload, and check that a connection
    without the password is now refused. (A socket in a shared directory cannot be fixed
    without a restart; `_check_running` refuses that case first.)"""
    password = ensure_password(pgdata)
    socket_dir = str(pid_file.socket_dir)
    where = {"host": socket_dir, "port": pid_file.port or DEFAULT_PORT, "dbname": DB_USER}
    passfile = str(pgdata / PASSFILE_NAME)
    with psycopg.connect(user=DB_USER, passfile=passfile, autocommit=True, **where) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(DB_USER), sql.Literal(scram_verifier(password))
            )
        )
        write_private(pgdata / "pg_hba.conf", PG_HBA, owner=user)
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:  # the postmaster reloads on SIGHUP, a moment after pg_reload_conf returns
        try:
            psycopg.connect(user=DB_USER, passfile="/dev/null", **where).close()
        except psycopg.OperationalError as exc:
            if "password" in str(exc):
                break
            raise
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(
                f"the running server of {pgdata} still accepts connections without a password"
                " after switching it to scram-sha-256; stop it (`bullpen db stop`)"
            )
        time.sleep(0.1)
    log.warning(
        "the running server of %s used trust authentication (older bullpen); switched it to"
        " scram-sha-256 with a generated password (%s)",
        pgdata,
        passfile,
    )


def _check_running(pgdata: Path, pid_file: PidFile, user: ServerUser, tcp_port: int | None) -> None:
    """A server already running is reused only if it meets the same rules as a new one."""
    why_restart = f"stop it (`bullpen db stop`) and start again; PID {pid_file.pid}"
    if pid_file.socket_dir is None:
        raise EmbeddedPostgresError(f"the running server of {pgdata} has no socket; {why_restart}")
    try:
        check_private_dir(pid_file.socket_dir, user.uid)
    except EmbeddedPostgresError as exc:
        raise EmbeddedPostgresError(
            f"the running server of {pgdata} is not private ({exc}); {why_restart}"
        ) from None
    if not auth_in_place(pgdata):
        _convert_running(pgdata, pid_file, user)
    if tcp_port is not None and pid_file.port != tcp_port:
        raise EmbeddedPostgresError(
            f"the running server of {pgdata} listens on port {pid_file.port}, not {tcp_port};"
            f" {why_restart}"
        )


def start(pgdata: Path, *, tcp_port: int | None = None) -> str:
    """Start (or reuse) the private embedded server in `pgdata`; return its libpq URL.

    Socket only by default; with `tcp_port` it also listens on 127.0.0.1 at that port (scram
    as well). The server keeps running after this process exits; `stop` stops it.
    """
    pgdata = pgdata.expanduser().resolve()
    user = server_user()
    _prepare_pgdata(pgdata, user)
    with _cluster_lock(pgdata):
        if not (pgdata / "PG_VERSION").exists():
            _initdb(pgdata, user)
        pid_file = PidFile.read(pgdata)
        if pid_file is not None:
            proc, reason = postmaster_process(pgdata, pid_file, user)
            if proc is not None:
                _check_running(pgdata, pid_file, user, tcp_port)
                return url_for(pid_file, pgdata)
            drop_stale(pgdata, pid_file, reason)
        ensure_auth(pgdata, user)
        port = tcp_port or DEFAULT_PORT
        socket_dir = choose_socket_dir(pgdata, port, user)
        _pg_ctl_start(pgdata, socket_dir, port, "127.0.0.1" if tcp_port else "", user)
        pid_file = PidFile.read(pgdata)
        if pid_file is None or postmaster_process(pgdata, pid_file, user)[0] is None:
            raise EmbeddedPostgresError(f"the embedded server in {pgdata} exited after starting")
        if pid_file.socket_dir != socket_dir:
            raise EmbeddedPostgresError(
                f"the server put its socket in {pid_file.socket_dir}, not {socket_dir}"
            )
        check_private_dir(socket_dir, user.uid)
        log.info("embedded PostgreSQL started in %s (socket in %s)", pgdata, socket_dir)
        return url_for(pid_file, pgdata)


def stop(pgdata: Path) -> bool:
    """Stop the cluster's postmaster (fast shutdown) if it runs; return whether it ran.

    Only a process verified to be this cluster's postmaster is signalled; a postmaster.pid that
    names anything else is removed with a warning."""
    pgdata = pgdata.expanduser().resolve()
    if not pgdata.is_dir():
        return False
    user = server_user()
    with _cluster_lock(pgdata):
        pid_file = PidFile.read(pgdata)
        if pid_file is None:
            return False
        proc, reason = postmaster_process(pgdata, pid_file, user)
        if proc is None:
            drop_stale(pgdata, pid_file, reason)
            return False
        try:
            # SIGINT is PostgreSQL's fast shutdown; psutil re-checks the PID was not reused.
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=STOP_TIMEOUT_S)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            raise EmbeddedPostgresError(
                f"the embedded server (PID {proc.pid}) did not stop within {STOP_TIMEOUT_S} s"
            ) from None
        return True
