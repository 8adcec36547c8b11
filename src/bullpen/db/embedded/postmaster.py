"""postmaster.pid is believed only when its PID is this cluster's postmaster."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bullpen.db.embedded.account import (
    ServerUser,
    owner_of,
    server_user,
)

log = logging.getLogger(__name__)


# The process named in postmaster.pid is the postmaster only if it started when the file says
# (the file holds whole seconds; pg_ctl forks a shell that execs postgres a moment later).
START_TIME_TOLERANCE_S = 5.0


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
        return None, f"PID {pid} is a postgres of {owner_of(uid)}, not of {user.name}"
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


def drop_stale(pgdata: Path, pid_file: PidFile, reason: str) -> None:
    log.warning(
        "removing stale %s: %s; it is not this cluster's postmaster and is left alone",
        pgdata / "postmaster.pid",
        reason,
    )
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
