"""The backup manifest: what a backup holds and how to check it, signed with an HMAC of the key."""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from bullpen.backup import archive
from bullpen.backup.errors import AuthenticityError, IntegrityError, WrongKeyError

FORMAT = "bullpen-backup/1"
_ID_RE = re.compile(r"^(\d{8}T\d{6}Z)-([a-z][a-z0-9]*)-([0-9a-f]{6})$")


class TableStat(BaseModel):
    rows: int
    checksum: str  # md5 over the sorted md5s of each row's text form (see checksum.py)


class DatabaseEntry(BaseModel):
    source: str  # database name at backup time
    dump: str  # archive member holding the pg_dump custom-format file
    server_version: str
    tables: dict[str, TableStat]
    sequences: dict[str, str]


class PayloadEntry(BaseModel):
    object: str
    bytes: int
    sha256: str
    plain_bytes: int
    cipher: str = archive.CIPHER
    kdf: str = archive.KDF
    compression: str = archive.COMPRESSION
    chunk_bytes: int = archive.CHUNK_BYTES
    salt: str  # base64; per-backup HKDF salt, not secret
    key_id: str


class MemberEntry(BaseModel):
    name: str
    bytes: int
    sha256: str


class ArtifactsEntry(BaseModel):
    # The artifact store at backup time: a local folder's path, or s3://bucket/prefix; restores
    # elsewhere rewrite MLflow's URIs from it.
    root: str
    files: int
    bytes: int


class ModelAlias(BaseModel):
    name: str
    alias: str
    version: str


class Manifest(BaseModel):
    format: str = FORMAT
    id: str
    kind: str
    created_at: datetime
    finished_at: datetime
    versions: dict[str, str]
    payload: PayloadEntry
    members: list[MemberEntry]
    databases: dict[str, DatabaseEntry]
    artifacts: ArtifactsEntry
    models: list[ModelAlias]
    config_member: str
    mac: str = ""

    def canonical(self) -> bytes:
        """The signed bytes: everything but the MAC, keys sorted, no whitespace."""
        body = self.model_dump(mode="json", exclude={"mac"})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True).encode()

    def salt(self) -> bytes:
        return base64.b64decode(self.payload.salt)

    def packed_members(self) -> list[archive.PackedMember]:
        return [archive.PackedMember(m.name, m.bytes, m.sha256) for m in self.members]


def new_backup_id(kind: str, now: datetime | None = None) -> str:
    """`20261123T093000Z-nightly-3fa9c2`: sorts by time; the kind names the schedule."""
    if not re.fullmatch(r"[a-z][a-z0-9]*", kind):
        raise ValueError(f"backup kind must be lower-case letters and digits, got {kind!r}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{kind}-{secrets.token_hex(3)}"


def parse_backup_id(backup_id: str) -> tuple[datetime, str] | None:
    """(created_at, kind) from a backup id, or None for a name bullpen did not make."""
    match = _ID_RE.match(backup_id)
    if match is None:
        return None
    created = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return created, match.group(2)


def sign(manifest: Manifest, key: archive.BackupKey) -> Manifest:
    mac_key = key.derive(manifest.salt(), "manifest")
    return manifest.model_copy(update={"mac": archive.mac(mac_key, manifest.canonical())})


def read_unverified(raw: bytes) -> Manifest:
    """Parse without checking the MAC: for listing only, never for restoring."""
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise IntegrityError(f"manifest is unreadable ({exc.error_count()} errors)") from exc


def open_manifest(raw: bytes, key: archive.BackupKey, backup_id: str) -> Manifest:
    """A manifest whose key id and HMAC verify against `key`; the only way to get one to restore.

    Raises:
        IntegrityError: not a readable bullpen manifest, or one for another backup id.
        WrongKeyError: made with another backup key.
        AuthenticityError: the manifest was altered after it was signed.
    """
    manifest = read_unverified(raw)
    if manifest.format != FORMAT:
        raise IntegrityError(f"unsupported backup format {manifest.format!r} (expected {FORMAT})")
    if manifest.id != backup_id:
        raise IntegrityError(f"manifest is for backup {manifest.id}, not {backup_id}")
    if not hmac.compare_digest(manifest.payload.key_id, key.key_id()):
        raise WrongKeyError(
            f"backup {backup_id} was encrypted with another key (key id "
            f"{manifest.payload.key_id}, the key supplied has id {key.key_id()}); "
            "nothing was restored"
        )
    expected = archive.mac(key.derive(manifest.salt(), "manifest"), manifest.canonical())
    if not hmac.compare_digest(expected, manifest.mac):
        raise AuthenticityError(
            f"manifest of backup {backup_id} failed its HMAC check: it was altered after the "
            "backup was made; nothing was restored"
        )
    return manifest
