"""Backups on S3: upload (payload first, manifest last), download, list and verify, retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bullpen.backup import archive, retention
from bullpen.backup import manifest as manifest_mod
from bullpen.backup.errors import BackupError, BackupUnavailableError

log = logging.getLogger(__name__)

PAYLOAD = "payload.tar.gz.enc"
MANIFEST = "manifest.json"
# Multipart above 16 MiB, in 16 MiB parts: fewer requests than boto3's 8 MiB default, and a
# failed part is retried alone.
MULTIPART_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class BackupTarget:
    """Where backups live: a boto3 S3 client, a bucket and a key prefix."""

    client: Any
    bucket: str
    prefix: str

    def key(self, backup_id: str, name: str) -> str:
        return f"{self.prefix.strip('/')}/{backup_id}/{name}".lstrip("/")

    def __repr__(self) -> str:  # the client holds credentials: show only the location
        return f"BackupTarget(s3://{self.bucket}/{self.prefix.strip('/')})"


def make_client(
    endpoint_url: str | None,
    region: str | None,
    *,
    session: Any | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    max_attempts: int = 3,
    read_timeout: float = 60,
) -> Any:
    """The one boto3 S3 client builder: from a session (e.g. a saved AwsCredentials block's) or
    from keys (none: boto3's default chain). `region` applies when the session names none.

    Few, quick retries by default: the backup flow's upload task retries with longer backoff.
    """
    import boto3
    from botocore.config import Config

    if session is None:
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
        )
    options: dict[str, Any] = {
        "retries": {"max_attempts": max_attempts, "mode": "standard"},
        "connect_timeout": 5,
        "read_timeout": read_timeout,
    }
    if endpoint_url:
        options["s3"] = {"addressing_style": "path"}  # S3-compatible servers on a bare host:port
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=session.region_name or region,
        config=Config(**options),
    )


# Statuses of a listed backup. Only VERIFIED counts as complete: restorable by `--latest`,
# counted by retention. UNVERIFIED and FUTURE ones are never deleted by retention (they may be
# evidence, or a real backup whose manifest was overwritten) and never chosen.
VERIFIED = "verified"  # manifest HMAC verified with the key, payload of the recorded size
UNVERIFIED = "unverified"  # manifest and payload exist, but the manifest does not verify
INCOMPLETE = "incomplete"  # manifest or payload missing: an upload that never finished
FUTURE = "future"  # id dated after now + CLOCK_SKEW: ignored, whatever its manifest says
UNCHECKED = "unchecked"  # listed without a key: both objects exist, nothing more is known

# A real manifest is a few KB per hundred artifact files; a forged giant is not downloaded.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ListedBackup:
    id: str
    created_at: datetime
    kind: str
    status: str  # VERIFIED, UNVERIFIED, INCOMPLETE, FUTURE or UNCHECKED
    payload_bytes: int
    objects: tuple[str, ...]
    problem: str = ""  # why it is not VERIFIED

    @property
    def complete(self) -> bool:
        """Counts as a good backup: verified with the key (or, listed without a key, both
        objects present; only status displays list that way, nothing that deletes or restores)."""
        return self.status in (VERIFIED, UNCHECKED)


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def ensure_bucket(target: BackupTarget) -> None:
    """Create the bucket if it is missing (the local server starts empty; AWS buckets come from
    Terraform, where this is a no-op)."""
    from botocore.exceptions import ClientError

    try:
        target.client.head_bucket(Bucket=target.bucket)
    except ClientError as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        target.client.create_bucket(Bucket=target.bucket)
        log.info("created bucket %s", target.bucket)


def upload_backup(target: BackupTarget, backup_id: str, payload: Path, manifest: bytes) -> None:
    """Upload the payload (multipart when large), check its size on the server, then the manifest.

    The manifest is the completion marker: until it exists the backup is listed as incomplete and
    nothing restores or counts it, so an interrupted upload never looks like a good backup.
    Re-running after a failure overwrites the same keys (idempotent).
    """
    ensure_bucket(target)
    payload_key = target.key(backup_id, PAYLOAD)
    target.client.upload_file(str(payload), target.bucket, payload_key, Config=_transfer_config())
    stored = target.client.head_object(Bucket=target.bucket, Key=payload_key)["ContentLength"]
    if stored != payload.stat().st_size:
        raise BackupError(f"uploaded payload is {stored} bytes, expected {payload.stat().st_size}")
    target.client.put_object(
        Bucket=target.bucket,
        Key=target.key(backup_id, MANIFEST),
        Body=manifest,
        ContentType="application/json",
    )
    log.info("uploaded backup %s (%d bytes)", backup_id, stored)


def _list_objects(target: BackupTarget) -> dict[str, dict[str, int]]:
    """{backup id: {object name: size}} for every name bullpen could have made."""
    from botocore.exceptions import ClientError

    grouped: dict[str, dict[str, int]] = {}
    paginator = target.client.get_paginator("list_objects_v2")
    root = f"{target.prefix.strip('/')}/".lstrip("/")
    try:
        for page in paginator.paginate(Bucket=target.bucket, Prefix=root):
            for obj in page.get("Contents", []):
                backup_id, _, name = obj["Key"][len(root) :].partition("/")
                if name and manifest_mod.parse_backup_id(backup_id) is not None:
                    grouped.setdefault(backup_id, {})[name] = int(obj["Size"])
    except ClientError as exc:
        if _error_code(exc) != "NoSuchBucket":
            raise
        return {}  # no bucket yet: the first upload creates it
    return grouped


def _check(
    target: BackupTarget,
    backup_id: str,
    objects: dict[str, int],
    key: archive.BackupKey | None,
    now: datetime,
) -> ListedBackup:
    """One backup's status; with a key, its manifest is downloaded and its HMAC checked."""
    created, kind = manifest_mod.parse_backup_id(backup_id) or (now, "")
    status, problem = VERIFIED, ""
    if created > now + retention.CLOCK_SKEW:
        status, problem = FUTURE, f"dated {created:%Y-%m-%d %H:%M}Z, later than now"
    elif MANIFEST not in objects or PAYLOAD not in objects:
        missing = MANIFEST if MANIFEST not in objects else PAYLOAD
        status, problem = INCOMPLETE, f"no {missing}"
    elif key is None:
        status = UNCHECKED
    elif objects[MANIFEST] > MAX_MANIFEST_BYTES:
        status, problem = UNVERIFIED, f"manifest of {objects[MANIFEST]} bytes is too large"
    else:
        try:
            raw = download_manifest(target, backup_id)
            opened = manifest_mod.open_manifest(raw, key, backup_id)
        except BackupUnavailableError:
            status, problem = INCOMPLETE, "manifest gone since listing"
        except BackupError as exc:
            status, problem = UNVERIFIED, str(exc)
        else:
            if opened.payload.bytes != objects[PAYLOAD]:
                status, problem = (
                    UNVERIFIED,
                    f"payload is {objects[PAYLOAD]} bytes, the manifest records "
                    f"{opened.payload.bytes}",
                )
    return ListedBackup(
        id=backup_id,
        created_at=created,
        kind=kind,
        status=status,
        payload_bytes=objects.get(PAYLOAD, 0),
        objects=tuple(sorted(objects)),
        problem=problem,
    )


def _warn_ignored(listed: list[ListedBackup]) -> None:
    """One warning per kind of ignored backup (24 forged objects make one line, not 24)."""
    for status, why in (
        (FUTURE, "dated in the future (beyond a 5 min clock skew)"),
        (UNVERIFIED, "whose manifest does not verify with the backup key"),
    ):
        ignored = [b for b in listed if b.status == status]
        if ignored:
            log.warning(
                "ignoring %d backup(s) %s: neither restored, counted nor deleted; e.g. %s (%s)",
                len(ignored),
                why,
                ignored[0].id,
                ignored[0].problem,
            )


def list_backups(
    target: BackupTarget, key: archive.BackupKey | None = None, now: datetime | None = None
) -> list[ListedBackup]:
    """Every backup under the prefix, newest first, with its status (names bullpen could not
    have made are left out).

    With `key`, each manifest is downloaded and verified (one small GET per backup): only then
    is a backup VERIFIED. Without a key nothing can tell a forged backup from a real one, so the
    result is for display only (status UNCHECKED); retention and `--latest` always pass the key.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    listed = [_check(target, i, objs, key, now) for i, objs in _list_objects(target).items()]
    listed.sort(key=lambda b: b.id, reverse=True)
    _warn_ignored(listed)
    return listed


def latest_verified(
    target: BackupTarget, key: archive.BackupKey, now: datetime | None = None
) -> str:
    """The newest backup whose manifest verifies with `key` (and is not dated in the future).

    Raises:
        BackupUnavailableError: none verifies.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    skipped: list[ListedBackup] = []
    for backup_id, objects in sorted(_list_objects(target).items(), reverse=True):
        checked = _check(target, backup_id, objects, key, now)
        if checked.status == VERIFIED:
            _warn_ignored(skipped)
            return backup_id
        skipped.append(checked)
    _warn_ignored(skipped)
    raise BackupUnavailableError(
        f"no complete backup in s3://{target.bucket}/{target.prefix} whose manifest verifies "
        f"with this key ({len(skipped)} listed; run `bullpen backup run`, or check the key)"
    )


def download_manifest(target: BackupTarget, backup_id: str) -> bytes:
    from botocore.exceptions import ClientError

    try:
        response = target.client.get_object(
            Bucket=target.bucket, Key=target.key(backup_id, MANIFEST)
        )
    except ClientError as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise BackupUnavailableError(
                f"backup {backup_id} has no manifest: it does not exist or its upload never "
                "finished, so it cannot be trusted"
            ) from exc
        raise
    return bytes(response["Body"].read())


def download_payload(target: BackupTarget, backup_id: str, dest: Path) -> Path:
    from botocore.exceptions import ClientError

    try:
        target.client.download_file(
            target.bucket, target.key(backup_id, PAYLOAD), str(dest), Config=_transfer_config()
        )
    except ClientError as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            raise BackupUnavailableError(
                f"backup {backup_id} has a manifest but no payload object: it was deleted or "
                "never uploaded; nothing was restored"
            ) from exc
        raise
    return dest


def delete_backup(target: BackupTarget, backup: ListedBackup) -> None:
    """Delete the manifest first: a backup half-deleted is then incomplete, never 'good'.

    On a versioned bucket with Object Lock (terraform/modules/s3_backup_bucket) this adds delete
    markers: the locked versions stay recoverable until the lock and lifecycle expire them.

    Raises:
        BackupError: this identity may not delete (the workers' role in production).
    """
    from botocore.exceptions import ClientError

    names = sorted(backup.objects, key=lambda name: name != MANIFEST)
    for name in names:
        try:
            target.client.delete_object(Bucket=target.bucket, Key=target.key(backup.id, name))
        except ClientError as exc:
            if _error_code(exc) not in ("AccessDenied", "403"):
                raise
            raise BackupError(
                f"not allowed to delete backup {backup.id}: this S3 identity has no "
                "s3:DeleteObject (by design for workers); run retention with the retention "
                "role (flow backup-retention, docs/backup.md)"
            ) from exc
    log.info("deleted backup %s", backup.id)


def apply_retention(
    target: BackupTarget,
    key: archive.BackupKey,
    policy: retention.RetentionPolicy,
    now: datetime,
    just_uploaded: str | None = None,
) -> list[str]:
    """Delete what `policy` does not keep, judging only backups whose manifest verifies.

    Forged or damaged backups (manifest does not verify) and future-dated ones are neither
    counted nor deleted: a name in the bucket proves nothing. Incomplete ones (no manifest) past
    the grace period are deleted. `just_uploaded`, when given, must be verified in the bucket
    and is never deleted.

    Raises:
        BackupError: `just_uploaded` is not a verified backup in the bucket, deleting would leave
            fewer than `policy.min_verified` verified backups, or this identity may not delete
            (production workers may not: docs/backup.md); nothing more is deleted.
    """
    listed = list_backups(target, key, now)
    verified = [b for b in listed if b.status == VERIFIED]
    if just_uploaded is not None and just_uploaded not in {b.id for b in verified}:
        raise BackupError(
            f"retention skipped: backup {just_uploaded} is not complete and verified in the bucket"
        )
    judged = [b for b in listed if b.status in (VERIFIED, INCOMPLETE)]
    stored = [retention.StoredBackup(b.id, b.created_at, b.status == VERIFIED) for b in judged]
    protect = (just_uploaded,) if just_uploaded else ()
    decision = retention.decide_retention(stored, policy, now, protect)
    doomed = set(decision.delete)
    left = sum(b.id not in doomed for b in verified)
    # decide_retention guarantees both; checked again here because deleting cannot be undone.
    if left < min(policy.min_verified, len(verified)) or (just_uploaded in doomed):
        raise BackupError(
            f"retention refused: it would leave {left} verified backups "
            f"(at least {policy.min_verified} are kept)"
        )
    if len(verified) < policy.min_verified:
        log.warning(
            "only %d verified backups, fewer than the %d retention keeps: none is deleted",
            len(verified),
            policy.min_verified,
        )
    by_id = {b.id: b for b in judged}
    for backup_id in decision.delete:
        delete_backup(target, by_id[backup_id])
    return list(decision.delete)


def is_transient(exc: BaseException) -> bool:
    """S3 errors worth a retry: unreachable endpoint, timeouts, throttling, 5xx."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(
            seen,
            EndpointConnectionError
            | ConnectionClosedError
            | ConnectTimeoutError
            | ReadTimeoutError
            | ConnectionError
            | TimeoutError,
        ):
            return True
        if isinstance(seen, ClientError) and _error_code(seen) in (
            "500",
            "502",
            "503",
            "504",
            "InternalError",
            "ServiceUnavailable",
            "SlowDown",
            "RequestTimeout",
        ):
            return True
        # boto3's transfer manager flattens the cause into the message.
        if isinstance(seen, S3UploadFailedError) and any(
            marker in str(seen) for marker in ("Could not connect", "timed out", "503", "500")
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
