"""bullpen.db.embedded without a server: SCRAM verifier, postmaster.pid parsing, telling a live
unrelated process from a postmaster, and the directory checks (real files, real processes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bullpen.db.embedded import account, auth, dirs, postmaster, server
from bullpen.db.embedded.account import EmbeddedPostgresError
from bullpen.db.embedded.postmaster import PidFile

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as other users")


@pytest.fixture
def base() -> Iterator[Path]:
    # Under /tmp (not pytest's 0700 tmp_path) so other users can be involved.
    path = Path(tempfile.mkdtemp(prefix="bpu-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_scram_verifier_matches_rfc7677_example() -> None:
    """RFC 7677 section 3: user/pencil; the server signature v= and the client proof p= of that
    exchange must verify with the keys of our verifier."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = auth.scram_verifier("pencil", salt=salt)
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    stored, server_key = (base64.b64decode(k) for k in verifier.rsplit("$", 1)[1].split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    message = (
        f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        f"c=biws,r={nonce}"
    ).encode()
    server_signature = hmac.new(server_key, message, "sha256").digest()
    assert base64.b64encode(server_signature) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_key = bytes(
        a ^ b for a, b in zip(proof, hmac.new(stored, message, "sha256").digest(), strict=True)
    )
    assert hashlib.sha256(client_key).digest() == stored
    # A fresh salt each time: two verifiers of one password differ.
    assert auth.scram_verifier("pencil") != auth.scram_verifier("pencil")


def test_pid_file_parses_full_truncated_and_garbage(base: Path) -> None:
    pid_path = base / "postmaster.pid"
    pid_path.write_text(f"4242\n{base}\n1764900000\n5432\n/run/x\n\n  1 2\nready   \n")
    info = PidFile.read(base)
    assert info is not None
    assert (info.pid, info.start_time, info.port) == (4242, 1764900000, 5432)
    assert (info.socket_dir, info.listen, info.status) == (Path("/run/x"), "", "ready")

    pid_path.write_text("4242\n")  # a crash mid-write
    info = PidFile.read(base)
    assert info is not None and info.pid == 4242 and info.start_time is None
    assert info.socket_dir is None

    pid_path.write_text("not a pid\n")
    info = PidFile.read(base)
    assert info is not None and info.pid == 0
    assert PidFile.read(base / "missing") is None


def _pid_file(pid: int, start_time: float, pgdata: Path) -> PidFile:
    return PidFile(pid, int(start_time), 5432, pgdata, "", "ready")


def test_live_unrelated_processes_are_not_the_postmaster(base: Path) -> None:
    """The PID of a stale file now names something else: never taken for the postmaster."""
    import psutil

    user = account.server_user()
    me = psutil.Process()
    mine = _pid_file(me.pid, me.create_time(), base)
    proc, reason = postmaster.postmaster_process(base, mine, user)
    assert proc is None and f"PID {me.pid} is now {me.name()!r}" in reason

    sleeper = subprocess.Popen(["sleep", "60"], **user.run_as())  # type: ignore[call-overload]
    try:
        created = psutil.Process(sleeper.pid).create_time()
        proc, reason = postmaster.postmaster_process(
            base, _pid_file(sleeper.pid, created, base), user
        )
        assert proc is None and "'sleep'" in reason
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
    proc, reason = postmaster.postmaster_process(base, _pid_file(sleeper.pid, created, base), user)
    assert proc is None and "not running" in reason
    proc, reason = postmaster.postmaster_process(base, _pid_file(0, created, base), user)
    assert proc is None and "no PID" in reason


def test_a_process_named_postgres_started_at_another_time_is_not_it(base: Path) -> None:
    """Same name, same user, but created long after the time recorded in the file."""
    import psutil

    user = account.server_user()
    fake = base / "postgres"
    shutil.copy("/bin/sleep", fake)  # a process whose name is `postgres`
    fake.chmod(0o755)
    base.chmod(0o755)  # the test's own directory, so the server user can run the copy
    child = subprocess.Popen([str(fake), "60"], **user.run_as())  # type: ignore[call-overload]
    try:
        process = psutil.Process(child.pid)
        assert process.name() == "postgres"
        stale = _pid_file(child.pid, process.create_time() - 3600, base)
        proc, reason = postmaster.postmaster_process(base, stale, user)
        assert proc is None and "not the postmaster the file records" in reason
        # Right time, but it works in another directory than this pgdata.
        other = base / "other"
        other.mkdir()
        fresh = _pid_file(child.pid, process.create_time(), base)
        proc, reason = postmaster.postmaster_process(other, fresh, user)
        assert proc is None and "another data directory" in reason
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_private_dir_check_accepts_0700_and_refuses_the_rest(base: Path) -> None:
    uid = os.geteuid()
    good = base / "good"
    good.mkdir(mode=0o700)
    dirs.check_private_dir(good, uid)

    open_dir = base / "open"
    open_dir.mkdir()
    open_dir.chmod(0o755)
    with pytest.raises(EmbeddedPostgresError, match="mode 0755"):
        dirs.check_private_dir(open_dir, uid)
    assert stat.S_IMODE(open_dir.stat().st_mode) == 0o755  # refused, not "fixed"

    link = base / "link"
    link.symlink_to(good)
    with pytest.raises(EmbeddedPostgresError, match="symlink"):
        dirs.check_private_dir(link, uid)

    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by all, no sticky bit: the entry could be swapped
    inner = shared / "sock"
    inner.mkdir(mode=0o700)
    with pytest.raises(EmbeddedPostgresError, match="another user could replace it"):
        dirs.check_private_dir(inner, uid)

    with pytest.raises(EmbeddedPostgresError, match="does not exist"):
        dirs.check_private_dir(base / "missing", uid)


@AS_ROOT
def test_private_dir_check_refuses_another_owner(base: Path) -> None:
    theirs = base / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)  # nobody
    with pytest.raises(EmbeddedPostgresError, match="belongs to nobody"):
        dirs.check_private_dir(theirs, account.server_user().uid)


def test_socket_dir_is_pgdata_when_short_else_a_new_private_dir(base: Path) -> None:
    user = account.server_user()
    short = base / "pgdata"
    assert dirs.choose_socket_dir(short, 5432, user) == short

    long_pgdata = base / ("x" * 120) / "pgdata"
    chosen = dirs.choose_socket_dir(long_pgdata, 5432, user)
    try:
        assert chosen != long_pgdata and dirs.socket_path_fits(chosen, 5432)
        st = os.lstat(chosen)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == user.uid
        assert f"bullpen-pg-{user.uid}-" in chosen.name
        # Deterministic per pgdata, so a restart finds the same directory.
        assert dirs.choose_socket_dir(long_pgdata, 5432, user) == chosen
    finally:
        chosen.rmdir()


@AS_ROOT
def test_socket_dir_planted_by_another_user_is_refused_and_left_alone(base: Path) -> None:
    """The attack: `nobody` pre-creates the predictable directory, 0777. Start must refuse,
    and must not chmod/chown a directory it does not own."""
    user = account.server_user()
    long_pgdata = base / ("y" * 120) / "pgdata"
    digest = hashlib.sha256(os.fsencode(long_pgdata)).hexdigest()[:12]
    planted = Path("/tmp") / f"bullpen-pg-{user.uid}-{digest}"
    subprocess.run(
        ["runuser", "-u", "nobody", "--", "mkdir", "-m", "0777", str(planted)], check=True
    )
    try:
        with pytest.raises(EmbeddedPostgresError, match="belongs to nobody"):
            dirs.choose_socket_dir(long_pgdata, 5432, user)
        st = os.lstat(planted)
        assert st.st_uid == 65534 and stat.S_IMODE(st.st_mode) == 0o777
    finally:
        planted.rmdir()


@AS_ROOT
def test_root_owned_private_parent_opens_to_the_server_user_alone(base: Path) -> None:
    """A 0700 parent owned by root (a `mktemp -d` checkout) gets one ACL entry: embedded_postgres
    may traverse it, nobody still may not, and the other bits stay as they were."""
    user = account.server_user()
    home = base / "home"
    home.mkdir(mode=0o700)
    base.chmod(0o711)
    (home / "pgdata").mkdir(mode=0o700)
    dirs.check_reachable(home / "pgdata", user, "the data directory")
    assert stat.S_IMODE(home.stat().st_mode) & 0o007 == 0  # other: still nothing

    def can_stat(who: str) -> bool:
        cmd = ["runuser", "-u", who, "--", "stat", str(home / "pgdata")]
        return subprocess.run(cmd, capture_output=True, check=False).returncode == 0

    assert can_stat(user.name)
    assert not can_stat("nobody")
    listing = ["runuser", "-u", user.name, "--", "ls", str(home)]
    assert subprocess.run(listing, capture_output=True, check=False).returncode != 0  # x, not r
    dirs.check_reachable(home / "pgdata", user, "the data directory")  # idempotent


@AS_ROOT
def test_private_parent_owned_by_someone_else_is_refused_and_left_alone(base: Path) -> None:
    user = account.server_user()
    base.chmod(0o711)
    theirs = base / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(EmbeddedPostgresError, match=f"cannot enter {theirs} .*owned by nobody"):
        dirs.check_reachable(theirs / "pgdata", user, "the data directory")
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o700
    with pytest.raises(OSError):
        os.getxattr(theirs, "system.posix_acl_access")


def test_password_file_must_be_private(base: Path) -> None:
    passfile = base / auth.PASSFILE_NAME
    assert auth.read_password(passfile) is None
    passfile.write_text("*:*:*:postgres:s3cret\n")
    passfile.chmod(0o600)
    assert auth.read_password(passfile) == "s3cret"
    passfile.chmod(0o644)
    with pytest.raises(EmbeddedPostgresError, match="mode 0600") as raised:
        auth.read_password(passfile)
    assert "s3cret" not in str(raised.value)


def test_url_names_the_passfile_and_no_password(base: Path) -> None:
    from urllib.parse import parse_qs, urlparse

    info = PidFile(1, 0, 5433, base / "sock dir", "127.0.0.1", "ready")
    url = server.url_for(info, base / "pgdata", "bullpen")
    parsed = urlparse(url)
    assert parsed.password is None and parsed.username == "postgres"
    assert parsed.path == "/bullpen"
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert query == {
        "host": str(base / "sock dir"),
        "port": "5433",
        "passfile": str(base / "pgdata" / auth.PASSFILE_NAME),
    }
