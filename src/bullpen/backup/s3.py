"""Backups on S3: upload (payload first, manifest last), download, list, apply_retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bullpen.backup import manifest as manifest_mod
from bullpen.backup import retention
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


@dataclass(frozen=True)
class ListedBackup:
    id: str
    created_at: datetime
    kind: str
    complete: bool  # the manifest exists: the upload finished
    payload_bytes: int
    objects: tuple[str, ...]


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


def list_backups(target: BackupTarget) -> list[ListedBackup]:
    """Every backup under the prefix, newest first, complete or not (names bullpen did not make
    are ignored)."""
    from botocore.exceptions import ClientError

    grouped: dict[str, dict[str, int]] = {}
    paginator = target.client.get_paginator("list_objects_v2")
    root = f"{target.prefix.strip('/')}/".lstrip("/")
    try:
        for page in paginator.paginate(Bucket=target.bucket, Prefix=root):
            for obj in page.get("Contents", []):
                backup_id, _, name = obj["Key"][len(root) :].partition("/")
                if name:
                    grouped.setdefault(backup_id, {})[name] = int(obj["Size"])
    except ClientError as exc:
        if _error_code(exc) != "NoSuchBucket":
            raise
        return []  # no bucket yet: the first upload creates it
    listed = []
    for backup_id, objects in grouped.items():
        parsed = manifest_mod.parse_backup_id(backup_id)
        if parsed is None:
            continue
        listed.append(
            ListedBackup(
                id=backup_id,
                created_at=parsed[0],
                kind=parsed[1],
                complete=MANIFEST in objects and PAYLOAD in objects,
                payload_bytes=objects.get(PAYLOAD, 0),
                objects=tuple(sorted(objects)),
            )
        )
    return sorted(listed, key=lambda b: b.id, reverse=True)


def latest_complete(target: BackupTarget) -> str:
    for backup in list_backups(target):
        if backup.complete:
            return backup.id
    raise BackupUnavailableError(
        f"no complete backup in s3://{target.bucket}/{target.prefix} (run `bullpen backup run`)"
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
    """Delete the manifest first: a backup half-deleted is then incomplete, never 'good'."""
    names = sorted(backup.objects, key=lambda name: name != MANIFEST)
    for name in names:
        target.client.delete_object(Bucket=target.bucket, Key=target.key(backup.id, name))
    log.info("deleted backup %s", backup.id)


def apply_retention(
    target: BackupTarget, policy: retention.RetentionPolicy, now: datetime, just_uploaded: str
) -> list[str]:
    """Delete what `policy` does not keep; only after `just_uploaded` is listed complete.

    Raises:
        BackupError: `just_uploaded` is not a complete backup in the bucket, so nothing is deleted.
    """
    listed = list_backups(target)
    if not any(b.id == just_uploaded and b.complete for b in listed):
        raise BackupError(
            f"retention skipped: backup {just_uploaded} is not complete in the bucket"
        )
    stored = [retention.StoredBackup(b.id, b.created_at, b.complete) for b in listed]
    decision = retention.decide_retention(stored, policy, now)
    by_id = {b.id: b for b in listed}
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
