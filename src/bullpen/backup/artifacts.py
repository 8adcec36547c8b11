"""MLflow's artifact store as backups see it: a local folder or an S3 bucket and prefix.

An S3 store (BULLPEN_ARTIFACT_ROOT=s3://bucket/prefix) is copied object by object into the
backup's `artifacts/` members, named by their key below the prefix: the same names a local
folder's files get, so a backup of either kind restores into either kind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bullpen.backup.errors import BackupError
from bullpen.config import S3_SCHEME

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Artifacts:
    """An S3 artifact root: a boto3 client, a bucket and a key prefix ('' for the whole bucket)."""

    client: Any
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def __repr__(self) -> str:  # the client holds credentials: show only the location
        return f"S3Artifacts({self.uri})"


def parse_s3_root(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of s3://bucket/prefix (prefix without slashes at either end)."""
    if not uri.startswith(S3_SCHEME):
        raise BackupError(f"{uri!r} is not an s3:// artifact root")
    bucket, _, prefix = uri[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise BackupError(f"artifact root {uri!r} names no bucket")
    return bucket, prefix.strip("/")


def root_uri(root: Path | str | S3Artifacts) -> str:
    """The URI MLflow stores for artifacts under `root` (what restores relocate from and to);
    a str is a URI already."""
    if isinstance(root, S3Artifacts):
        return root.uri
    return root.rstrip("/") if isinstance(root, str) else root.resolve().as_uri()


def _listing(store: S3Artifacts) -> dict[str, tuple[int, str]]:
    """{key below the prefix: (size, ETag)} of every object under the prefix."""
    from botocore.exceptions import ClientError

    found: dict[str, tuple[int, str]] = {}
    start = len(store.prefix) + 1 if store.prefix else 0
    listed = f"{store.prefix}/" if store.prefix else ""
    try:
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=listed
        )
        for page in pages:
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    found[obj["Key"][start:]] = (int(obj["Size"]), str(obj.get("ETag", "")))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
    return found


def merge_into(source: S3Artifacts, dest: S3Artifacts) -> int:
    """Copy (server-side) every object of `source` that `dest` lacks, under the same key below
    the prefix; return how many. Keys in both must hold the same bytes (size and ETag): MLflow
    writes a run's files once, so a clash means two different stores, and nothing is copied.

    Raises:
        BackupError: a key exists in both with different contents.
    """
    have, want = _listing(dest), _listing(source)
    clash = sorted(k for k, v in want.items() if k in have and have[k] != v)
    if clash:
        raise BackupError(
            f"{len(clash)} artifact(s) differ between {source.uri} and {dest.uri} (e.g. "
            f"{clash[0]}): nothing was copied"
        )
    missing = sorted(k for k in want if k not in have)
    for relative in missing:
        dest.client.copy_object(
            Bucket=dest.bucket,
            Key=dest.key(relative),
            CopySource={"Bucket": source.bucket, "Key": source.key(relative)},
        )
    log.info("copied %d artifact objects from %s to %s", len(missing), source.uri, dest.uri)
    return len(missing)


def _keys(store: S3Artifacts) -> list[tuple[str, int]]:
    """(key, size) of every object under the prefix, sorted; none when the bucket is missing."""
    return sorted((store.key(name), size) for name, (size, _etag) in _listing(store).items())


def is_empty(store: S3Artifacts) -> bool:
    return not _keys(store)


def download_all(store: S3Artifacts, dest: Path) -> list[tuple[str, Path]]:
    """Copy every object under the prefix into `dest`; return (name below the prefix, file).

    Raises:
        BackupError: a key would escape `dest` (`..`), which no MLflow run writes.
    """
    files: list[tuple[str, Path]] = []
    start = len(store.prefix) + 1 if store.prefix else 0
    root = dest.resolve()
    for key, _size in _keys(store):
        relative = key[start:]
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not relative:
            raise BackupError(f"artifact key {key!r} does not name a file below {store.uri}")
        path.parent.mkdir(parents=True, exist_ok=True)
        store.client.download_file(store.bucket, key, str(path))
        files.append((relative, path))
    log.info("copied %d artifact objects from %s", len(files), store.uri)
    return files


def upload_all(source: Path, store: S3Artifacts) -> int:
    """Upload every file under `source` to the prefix (the bucket is created if missing);
    return how many."""
    from bullpen.backup import s3

    s3.ensure_bucket(s3.BackupTarget(store.client, store.bucket, store.prefix))
    count = 0
    if source.exists():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                store.client.upload_file(
                    str(path), store.bucket, store.key(path.relative_to(source).as_posix())
                )
                count += 1
    log.info("restored %d artifact objects to %s", count, store.uri)
    return count


def delete_all(store: S3Artifacts) -> int:
    """Delete every object under the prefix (the undo of a failed restore into S3)."""
    keys = [key for key, _ in _keys(store)]
    for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1000 keys
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        store.client.delete_objects(Bucket=store.bucket, Delete={"Objects": batch})
    return len(keys)
