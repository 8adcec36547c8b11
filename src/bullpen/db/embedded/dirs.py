"""Directories the embedded server uses: private socket directories, and reaching pgdata and the
binaries as the server's user without opening them to anyone else."""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import stat
import struct
from pathlib import Path

from bullpen.db.embedded.account import (
    SOCKET_PATH_MAX,
    EmbeddedPostgresError,
    ServerUser,
    mode_of,
    owner_of,
)

log = logging.getLogger(__name__)


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
            f"socket directory {path} belongs to {owner_of(st.st_uid)},"
            f" not to {owner_of(owner_uid)} (the server's user); another user may have created"
            " it: remove it and start again"
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise EmbeddedPostgresError(
            f"socket directory {path} has mode {mode_of(st)}:"
            " other users could reach the server's socket;"
            f" it must be 0700 (chmod 700 {shlex.quote(str(path))})"
        )
    parent = os.stat(path.parent)
    writable_by_others = stat.S_IMODE(parent.st_mode) & (stat.S_IWGRP | stat.S_IWOTH)
    sticky = parent.st_mode & stat.S_ISVTX
    if parent.st_uid not in (0, owner_uid, os.geteuid()) or (writable_by_others and not sticky):
        raise EmbeddedPostgresError(
            f"socket directory {path} sits in {path.parent}"
            f" (owner {owner_of(parent.st_uid)}, mode {mode_of(parent)}),"
            " where another user could replace it"
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
        reason = f"is owned by {owner_of(st.st_uid)}"
        if st.st_uid == os.geteuid():
            try:
                grant_traverse(directory, user)
            except OSError as exc:
                reason = f"takes no ACL ({exc.strerror})"
            else:
                log.warning(
                    "gave %s (the embedded server's user) traverse permission on %s (owner %s,"
                    " mode %s) with an ACL entry; no other user's access changed",
                    user.name, directory, owner_of(st.st_uid), mode_of(st),
                )  # fmt: skip
                continue
        raise EmbeddedPostgresError(
            f"the embedded server runs as {user.name} (PostgreSQL refuses to run as root) and"
            f" cannot enter {directory} (owner {owner_of(st.st_uid)}, mode {mode_of(st)})"
            f" to reach {what} {path}; the directory {reason}, and bullpen does not widen its"
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
