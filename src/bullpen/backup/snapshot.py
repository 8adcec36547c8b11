"""Take a backup: dump both databases, add MLflow artifacts (a local folder or an S3 prefix) and
config, pack, encrypt, sign."""

from __future__ import annotations

import base64
import json
import logging
import platform
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr

from bullpen.backup import archive, dump, s3
from bullpen.backup.artifacts import S3Artifacts, download_all, root_uri
from bullpen.backup.manifest import (
    ArtifactsEntry,
    Manifest,
    MemberEntry,
    ModelAlias,
    PayloadEntry,
    new_backup_id,
    sign,
)
from bullpen.db.urls import redact

log = logging.getLogger(__name__)

CONFIG_MEMBER = "config.json"
ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class Sources:
    """What a backup covers: the bullpen and MLflow databases (libpq URLs) and MLflow artifacts
    (a local folder, or an S3 bucket and prefix)."""

    bullpen_url: str
    mlflow_url: str
    artifact_root: Path | S3Artifacts

    def __repr__(self) -> str:  # URLs may carry passwords
        return f"Sources(artifact_root={self.artifact_root})"


@dataclass(frozen=True)
class CreatedBackup:
    id: str
    payload: Path
    manifest: bytes
    payload_bytes: int
    plain_bytes: int
    database_bytes: int


def build_config_snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as JSON without secrets: SecretStr fields dropped, URL passwords masked."""
    out: dict[str, Any] = {}
    for name, value in sorted(values.items()):
        if isinstance(value, SecretStr):
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, str) and "://" in value:
            value = redact(value)
        out[name] = value
    return out


def artifact_members(root: Path) -> list[archive.Member]:
    """Every regular file under the artifact root, in a stable order."""
    if not root.exists():
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return [archive.Member(f"{ARTIFACTS_DIR}/{p.relative_to(root).as_posix()}", p) for p in files]


def _artifacts(root: Path | S3Artifacts, work_dir: Path) -> list[archive.Member]:
    """The artifact members: a local folder's files, or an S3 prefix's objects copied into
    `work_dir` (after the MLflow dump, like the folder: every dumped version has its files)."""
    if not isinstance(root, S3Artifacts):
        return artifact_members(root)
    copied = download_all(root, work_dir / ARTIFACTS_DIR)
    return [archive.Member(f"{ARTIFACTS_DIR}/{name}", path) for name, path in copied]


def _manifest_root(root: Path | S3Artifacts) -> str:
    """A folder as a plain path (as backups before S3 support recorded it), S3 as its URI."""
    return root_uri(root) if isinstance(root, S3Artifacts) else str(root.resolve())


def read_model_aliases(mlflow_url: str) -> list[ModelAlias]:
    """Registered-model aliases (e.g. champion) straight from MLflow's tables."""
    with psycopg.connect(mlflow_url) as conn:
        exists = conn.execute("SELECT to_regclass('registered_model_aliases')").fetchone()
        if not exists or exists[0] is None:
            return []
        rows = conn.execute(
            "SELECT name, alias, version::text FROM registered_model_aliases ORDER BY 1, 2"
        ).fetchall()
    return [ModelAlias(name=n, alias=a, version=v) for n, a, v in rows]


def _value_if_table(url: str, table: str, query: str) -> str:
    """The single value of `query`, or 'none' when `table` does not exist (a fresh database)."""
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if not found or found[0] is None:
            return "none"
        row = conn.execute(query).fetchone()
    return str(row[0]) if row and row[0] is not None else "none"


def _database_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def collect_versions(sources: Sources, tools_dirs: Sequence[Path]) -> dict[str, str]:
    """Versions a restore may need to know: software, PostgreSQL, and both schema revisions."""

    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "none"

    with psycopg.connect(sources.bullpen_url) as conn:
        major, server = dump.server_version(conn)
    tools = dump.find_pg_tools(major, tools_dirs)
    return {
        "bullpen": pkg("bullpen"),
        "python": platform.python_version(),
        "postgres_server": server,
        "pg_dump": tools.version,
        "mlflow": pkg("mlflow"),
        "mlflow_schema": _value_if_table(
            sources.mlflow_url, "alembic_version", "SELECT max(version_num) FROM alembic_version"
        ),
        "bullpen_migrations": _value_if_table(
            sources.bullpen_url,
            "schema_migrations",
            "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations",
        ),
    }


def create_backup(
    sources: Sources,
    key: archive.BackupKey,
    work_dir: Path,
    *,
    kind: str = "manual",
    config: Mapping[str, Any] | None = None,
    tools_dirs: Sequence[Path] = (),
    now: datetime | None = None,
) -> CreatedBackup:
    """Dump, pack, compress, encrypt and sign one backup into `work_dir` (nothing uploaded yet).

    MLflow's database is dumped before its artifacts are read: MLflow writes a model's files
    before it records the version, so every version in the dump finds its files in the archive.
    """
    created_at = (now or datetime.now(UTC)).astimezone(UTC)
    backup_id = new_backup_id(kind, created_at)
    work_dir.mkdir(parents=True, exist_ok=True)
    databases = {
        "bullpen": dump.dump_database(
            sources.bullpen_url, work_dir / "bullpen.dump", "db/bullpen.dump", tools_dirs
        ),
        "mlflow": dump.dump_database(
            sources.mlflow_url, work_dir / "mlflow.dump", "db/mlflow.dump", tools_dirs
        ),
    }
    models = read_model_aliases(sources.mlflow_url)
    config_path = work_dir / CONFIG_MEMBER
    config_path.write_text(json.dumps(build_config_snapshot(config or {}), indent=1) + "\n")
    artifacts = _artifacts(sources.artifact_root, work_dir)
    members = [
        archive.Member("db/bullpen.dump", work_dir / "bullpen.dump"),
        archive.Member("db/mlflow.dump", work_dir / "mlflow.dump"),
        archive.Member(CONFIG_MEMBER, config_path),
        *artifacts,
    ]
    salt = archive.new_salt()
    packed = archive.write_archive(
        work_dir / s3.PAYLOAD, members, key.derive(salt, "payload"), backup_id.encode()
    )
    manifest = Manifest(
        id=backup_id,
        kind=kind,
        created_at=created_at,
        finished_at=datetime.now(UTC),
        versions=collect_versions(sources, tools_dirs),
        payload=PayloadEntry(
            object=s3.PAYLOAD,
            bytes=packed.bytes,
            sha256=packed.sha256,
            plain_bytes=packed.plain_bytes,
            salt=base64.b64encode(salt).decode(),
            key_id=key.key_id(),
        ),
        members=[MemberEntry(name=m.name, bytes=m.bytes, sha256=m.sha256) for m in packed.members],
        databases=databases,
        artifacts=ArtifactsEntry(
            root=_manifest_root(sources.artifact_root),
            files=len(artifacts),
            bytes=sum(m.source.stat().st_size for m in artifacts),
        ),
        models=models,
        config_member=CONFIG_MEMBER,
    )
    for leftover in ("bullpen.dump", "mlflow.dump"):
        (work_dir / leftover).unlink()  # the archive holds them now; keep the disk footprint small
    shutil.rmtree(work_dir / ARTIFACTS_DIR, ignore_errors=True)  # S3 objects copied down
    database_bytes = _database_bytes(sources.bullpen_url) + _database_bytes(sources.mlflow_url)
    log.info(
        "backup %s: %d bytes encrypted from %d bytes (%d tables, %d artifact files)",
        backup_id,
        packed.bytes,
        packed.plain_bytes,
        sum(len(d.tables) for d in databases.values()),
        len(artifacts),
    )
    return CreatedBackup(
        id=backup_id,
        payload=packed.path,
        manifest=sign(manifest, key).to_bytes(),
        payload_bytes=packed.bytes,
        plain_bytes=packed.plain_bytes,
        database_bytes=database_bytes,
    )
