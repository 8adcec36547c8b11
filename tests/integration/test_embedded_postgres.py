"""The private embedded PostgreSQL server (issue #18 item 2), against real servers started here.

Each test makes its own cluster under a fresh /tmp directory (not pytest's tmp_path: that sits in
/tmp/pytest-of-root, 0700, which the server's user may not enter and bullpen will not widen). As
root, that directory is made 0711 by the test, as an operator would make a bullpen home.
The attacks of the issue run for real as `nobody`.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psutil
import psycopg
import pytest
import sqlalchemy

from bullpen.db.embedded import account, auth, postmaster
from bullpen.db.embedded.account import EmbeddedPostgresError
from bullpen.db.engine import ensure_database, start_embedded, stop_embedded
from bullpen.db.urls import sqlalchemy_url

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks run as `nobody` via runuser")
PSQL = account.pg_bin_dir() / "psql"


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bpe-", dir="/tmp"))
    path.chmod(0o711)  # a home the server's user can traverse (not list)
    yield path
    for pgdata in [p for p in path.rglob("pgdata") if (p / "PG_VERSION").exists()]:
        stop_embedded(pgdata)
    shutil.rmtree(path, ignore_errors=True)


def _modes(paths: list[Path]) -> dict[Path, tuple[int, int]]:
    return {p: (stat.S_IMODE(os.stat(p).st_mode), os.stat(p).st_uid) for p in paths}


def _ancestors(path: Path) -> list[Path]:
    return [p for p in path.parents if p.exists()]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def _hba_methods(pgdata: Path) -> list[str]:
    lines = (pgdata / "pg_hba.conf").read_text().splitlines()
    return [line.split()[-1] for line in lines if line.strip() and not line.startswith("#")]


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}  # nothing of root's environment
    return subprocess.run(
        [runuser, "-u", "nobody", "--", *argv], capture_output=True, text=True, env=env
    )


def test_socket_private_scram_only_and_no_directory_widened(base: Path) -> None:
    pgdata = base / "home" / "pgdata"
    (base / "home").mkdir(mode=0o711)
    watched = [*_ancestors(pgdata), *_ancestors(account.pg_bin_dir()), account.pg_bin_dir()]
    before = _modes(watched)

    url = start_embedded(pgdata)

    assert _modes(watched) == before  # the wheel chmodded every parent o+rx; nothing now
    user = account.server_user()
    socket_dir = Path(_query(url)["host"])
    st = os.lstat(socket_dir)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == user.uid
    sock = socket_dir / ".s.PGSQL.5432"
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)

    methods = _hba_methods(pgdata)
    assert methods and set(methods) == {"scram-sha-256"}

    # The URL holds no password; libpq reads it from the 0600 pgpass file it names.
    assert urlparse(url).password is None
    passfile = Path(_query(url)["passfile"])
    pst = os.lstat(passfile)
    assert stat.S_IMODE(pst.st_mode) == 0o600 and pst.st_uid == os.geteuid()
    password = auth.read_password(passfile)
    assert password and password not in url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")
        assert stored.fetchone()[0].startswith("SCRAM-SHA-256$4096:")
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        # What the server loaded, not just the file: scram-sha-256 on every rule.
        rules = conn.execute("SELECT DISTINCT auth_method, error FROM pg_hba_file_rules")
        assert rules.fetchall() == [("scram-sha-256", None)]
    # SQLAlchemy (MLflow, Prefect blocks) passes host= and passfile= through to libpq.
    engine = sqlalchemy.create_engine(sqlalchemy_url(ensure_database(url, "mlflow_check")))
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar() == "mlflow_check"
    engine.dispose()

    # Without the password (no passfile), the socket itself refuses: no trust anywhere.
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(f"host={socket_dir} user=postgres dbname=postgres passfile=/dev/null")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            f"host={socket_dir} user=postgres dbname=postgres password=wrong passfile=/dev/null"
        )

    assert stop_embedded(pgdata)
    assert not sock.exists() and postmaster.running_postmaster(pgdata) is None
    assert _modes(watched) == before
    assert stop_embedded(pgdata) is False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_listens_on_loopback_only_and_needs_the_password(base: Path) -> None:
    pgdata = base / "pgdata"
    port = _free_port()
    url = start_embedded(pgdata, tcp_port=port)
    assert _query(url)["port"] == str(port)
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    tcp = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(f"{tcp} passfile=/dev/null")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"{tcp} password=not-it passfile=/dev/null")
    password = auth.read_password(pgdata / auth.PASSFILE_NAME)
    with psycopg.connect(tcp, password=password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT inet_server_addr()::text").fetchone()[0].startswith("127.0")
    # A running server is reused only as it was started.
    with pytest.raises(EmbeddedPostgresError, match=f"listens on port {port}, not"):
        start_embedded(pgdata, tcp_port=port + 1)


@AS_ROOT
@pytest.mark.parametrize("long_home", [False, True], ids=["socket-in-pgdata", "long-home"])
def test_nobody_cannot_reach_the_server(base: Path, long_home: bool) -> None:
    """The issue's attack: as `nobody`, connect to the socket (with a long BULLPEN_HOME the old
    wheel put it in a 0777 /tmp directory with trust) and read the password. Both fail."""
    home = base / ("h" * 110 if long_home else "home")
    home.mkdir(mode=0o711)
    pgdata = home / "pgdata"
    tmp_before = _modes([Path("/tmp")])
    url = start_embedded(pgdata)
    socket_dir = Path(_query(url)["host"])
    if long_home:
        assert socket_dir.parent == Path("/tmp") and socket_dir.name.startswith("bullpen-pg-")
    else:
        assert socket_dir == pgdata.resolve()
    assert stat.S_IMODE(os.lstat(socket_dir).st_mode) == 0o700
    assert _modes([Path("/tmp")]) == tmp_before

    attack = _as_nobody(str(PSQL), "-w", "-c", "COPY (SELECT 1) TO PROGRAM 'id'", url)
    assert attack.returncode != 0
    assert "Permission denied" in attack.stderr, attack.stderr
    by_name = _as_nobody(
        str(PSQL), "-w", "-h", str(socket_dir), "-U", "postgres", "-d", "postgres", "-c", "SELECT 1"
    )
    assert by_name.returncode != 0 and "Permission denied" in by_name.stderr
    read = _as_nobody("cat", _query(url)["passfile"])
    assert read.returncode != 0 and "Permission denied" in read.stderr
    # The owner still gets in.
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert stop_embedded(pgdata)
    if long_home:
        shutil.rmtree(socket_dir, ignore_errors=True)


def _write_pid_file(pgdata: Path, pid: int, start_time: float) -> None:
    # The layout PostgreSQL writes; the owner is the server's user, as after a crash.
    text = f"{pid}\n{pgdata}\n{int(start_time)}\n5432\n{pgdata}\n\n  5432001     32768\nready   \n"
    target = pgdata / "postmaster.pid"
    target.write_text(text)
    user = account.server_user()
    os.chown(target, user.uid, user.gid)


def test_stale_pid_of_a_live_process_is_removed_and_never_signalled(
    base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pgdata = base / "pgdata"
    start_embedded(pgdata)
    assert stop_embedded(pgdata)
    user = account.server_user()
    # Reused PIDs: this pytest process (root), and a `sleep` of the server's own user, which
    # PostgreSQL itself would take for a running postmaster ("lock file already exists").
    sleeper = subprocess.Popen(["sleep", "120"], **user.run_as())  # type: ignore[call-overload]
    try:
        for pid in (os.getpid(), sleeper.pid):
            process = psutil.Process(pid)
            _write_pid_file(pgdata, pid, process.create_time())
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="bullpen.db.embedded"):
                url = start_embedded(pgdata)
            message = caplog.text
            assert "removing stale" in message and f"PID {pid} is now" in message
            assert process.name() in message
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            info = postmaster.running_postmaster(pgdata)
            assert info is not None and info.pid != pid
            assert stop_embedded(pgdata)
            assert process.is_running() and process.status() != psutil.STATUS_ZOMBIE

        # `db stop` with a stale file: nothing is signalled, the file goes, False is returned.
        _write_pid_file(pgdata, sleeper.pid, psutil.Process(sleeper.pid).create_time())
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="bullpen.db.embedded"):
            assert stop_embedded(pgdata) is False
        assert f"PID {sleeper.pid} is now 'sleep'" in caplog.text
        assert not (pgdata / "postmaster.pid").exists()
        assert sleeper.poll() is None  # still alive: never signalled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_running_postmaster_is_recognised_and_reused(base: Path) -> None:
    pgdata = base / "pgdata"
    url = start_embedded(pgdata)
    info = postmaster.running_postmaster(pgdata)
    assert info is not None and psutil.Process(info.pid).name() == "postgres"
    assert start_embedded(pgdata) == url  # same server, no restart
    assert postmaster.running_postmaster(pgdata).pid == info.pid  # type: ignore[union-attr]


def _old_wheel_cluster(pgdata: Path, *, running: bool) -> None:
    """A cluster as the wheel made it: initdb --auth=trust, started with the socket in pgdata."""
    user = account.server_user()
    pgdata.mkdir(mode=0o700)
    os.chown(pgdata, user.uid, user.gid)
    bin_dir = account.pg_bin_dir()
    run_as = user.run_as()
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        cwd="/",
        **run_as,  # type: ignore[arg-type]
    )
    assert "trust" in _hba_methods(pgdata)
    if running:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-w", "-l", str(pgdata / "log")]
            + ["-o", f"-c listen_addresses='' -k {pgdata}", "start"],
            check=True,
            capture_output=True,
            cwd="/",
            **run_as,  # type: ignore[arg-type]
        )
        psycopg.connect(f"host={pgdata} user=postgres dbname=postgres passfile=/dev/null").close()


@pytest.mark.parametrize("running", [False, True], ids=["stopped", "running"])
def test_cluster_made_with_trust_by_the_old_wheel_is_converted(
    base: Path, running: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped: the next start sets the password and the scram rules before starting. Running
    (socket already private): switched in place and reloaded, the same postmaster kept."""
    pgdata = base / "pgdata"
    _old_wheel_cluster(pgdata, running=running)
    before = postmaster.running_postmaster(pgdata)
    with caplog.at_level(logging.WARNING, logger="bullpen.db.embedded"):
        url = start_embedded(pgdata)
    assert set(_hba_methods(pgdata)) == {"scram-sha-256"}
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        rules = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
        assert rules == [("scram-sha-256",)]
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(f"host={pgdata} user=postgres dbname=postgres passfile=/dev/null")
    after = postmaster.running_postmaster(pgdata)
    assert after is not None
    if running:
        assert before is not None and after.pid == before.pid
        assert "used trust authentication" in caplog.text
    passfile = pgdata / auth.PASSFILE_NAME
    assert stat.S_IMODE(os.lstat(passfile).st_mode) == 0o600
    assert auth.read_password(passfile) not in caplog.text  # type: ignore[operator]


@AS_ROOT
def test_running_server_with_a_shared_socket_dir_is_refused(base: Path) -> None:
    """A server left running by the old wheel with its socket in a 0777 directory cannot be
    made private in place: start refuses with the reason, `db stop` stops it, start fixes it."""
    pgdata = base / "pgdata"
    shared = base / "shared-sock"
    shared.mkdir()
    shared.chmod(0o777)
    _old_wheel_cluster(pgdata, running=False)
    user = account.server_user()
    subprocess.run(
        [str(account.pg_bin_dir() / "pg_ctl"), "-D", str(pgdata), "-w", "-l", str(pgdata / "log")]
        + ["-o", f"-c listen_addresses='' -k {shared}", "start"],
        check=True,
        capture_output=True,
        cwd="/",
        **user.run_as(),  # type: ignore[arg-type]
    )
    refused = r"not private \(socket directory .*shared-sock.*bullpen db stop"
    with pytest.raises(EmbeddedPostgresError, match=refused):
        start_embedded(pgdata)
    assert stop_embedded(pgdata)
    url = start_embedded(pgdata)
    assert _query(url)["host"] == str(pgdata)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777  # not ours to change


@AS_ROOT
def test_root_owned_private_home_starts_and_stays_closed_to_others(base: Path) -> None:
    """`d=$(mktemp -d); git clone . $d/p` as root: the server still starts, nobody still cannot
    enter the checkout, and the server itself refuses nobody."""
    home = base / "private-home"
    home.mkdir(mode=0o700)
    url = start_embedded(home / "pgdata")
    try:
        assert _query(url)["host"] == str(home / "pgdata")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert stat.S_IMODE(home.stat().st_mode) & 0o007 == 0
        probe = ["runuser", "-u", "nobody", "--", "stat", str(home / "pgdata")]
        assert subprocess.run(probe, capture_output=True, check=False).returncode != 0
    finally:
        stop_embedded(home / "pgdata")


@AS_ROOT
def test_home_under_another_users_private_dir_refuses_to_start(base: Path) -> None:
    theirs = base / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(EmbeddedPostgresError, match=f"cannot enter {theirs} .*does not widen"):
        start_embedded(theirs / "home" / "pgdata")
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o700
    assert not (theirs / "home").exists()
