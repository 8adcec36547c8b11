"""scram-sha-256 only: pg_hba.conf, the generated password and its 0600 pgpass file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import stat
import subprocess
from pathlib import Path

from bullpen.db.embedded.account import (
    DB_USER,
    START_TIMEOUT_S,
    EmbeddedPostgresError,
    ServerUser,
    mode_of,
    owner_of,
    pg_bin_dir,
)

log = logging.getLogger(__name__)


PASSFILE_NAME = "bullpen.pgpass"  # in pgdata: deleting the cluster deletes its password too


PG_HBA = """\
# Written by bullpen (bullpen.db.embedded) and checked on every start: no trust anywhere.
# Every connection, over the socket or loopback TCP, needs the generated password.
# Anything not listed (other addresses, replication) is rejected.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""


def passfile_path(pgdata: Path) -> Path:
    return pgdata.expanduser().resolve() / PASSFILE_NAME


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
            f"{passfile} must be a regular file of {owner_of(os.geteuid())} with mode 0600"
            f" (it is {owner_of(st.st_uid)}, {mode_of(st)})"
        )
    for line in passfile.read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 5 and fields[3] == DB_USER and fields[4]:
            return fields[4]
    return None


def write_private(path: Path, text: str, owner: ServerUser | None = None) -> None:
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


def auth_in_place(pgdata: Path) -> bool:
    try:
        hba = (pgdata / "pg_hba.conf").read_text()
    except FileNotFoundError:
        return False
    return hba == PG_HBA and read_password(pgdata / PASSFILE_NAME) is not None


def subprocess_env() -> dict[str, str]:
    # PG* variables (PGPORT, PGHOST, PGPASSWORD...) must not steer the server or leak into it.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def ensure_password(pgdata: Path) -> str:
    """The password in pgdata's pgpass file, generated (once) if there is none."""
    passfile = pgdata / PASSFILE_NAME
    password = read_password(passfile)
    if password is None:
        password = secrets.token_urlsafe(32)  # pgpass-safe: no ':' or '\'
        write_private(passfile, f"*:*:*:{DB_USER}:{password}\n")
    return password


def ensure_auth(pgdata: Path, user: ServerUser) -> None:
    """Server stopped: make pg_hba.conf scram-only and give role postgres the password in the
    pgpass file (generated once). Also converts clusters initialised with trust by older
    versions."""
    if auth_in_place(pgdata):
        return
    password = ensure_password(pgdata)
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
        env=subprocess_env(),
        cwd="/",
        timeout=START_TIMEOUT_S,
        **user.run_as(),  # type: ignore[arg-type]
    )
    if done.returncode != 0:
        raise EmbeddedPostgresError(
            f"setting the password of role {DB_USER} failed (exit {done.returncode}):"
            f" {done.stderr.strip()[-500:]}"
        )
    write_private(pgdata / "pg_hba.conf", PG_HBA, owner=user)
