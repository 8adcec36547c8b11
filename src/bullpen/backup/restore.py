"""Restore a backup: verify everything first, restore into new databases, prove it, maybe switch."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
from psycopg import sql

from bullpen.backup import archive, dump, s3
from bullpen.backup.artifacts import (
    S3Artifacts,
    delete_all,
    is_empty,
    merge_into,
    root_uri,
    upload_all,
)
from bullpen.backup.checksum import compare_database
from bullpen.backup.errors import BackupError, RestoreMismatchError
from bullpen.backup.manifest import Manifest, ModelAlias, open_manifest
from bullpen.backup.snapshot import ARTIFACTS_DIR

log = logging.getLogger(__name__)

# Columns where MLflow stores absolute artifact locations (MLflow 3 schema).
_ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


@dataclass(frozen=True)
class VerifiedBackup:
    """A downloaded backup whose manifest, payload and every member passed their checks."""

    manifest: Manifest
    files: Path


@dataclass(frozen=True)
class RestoreTargets:
    bullpen_url: str
    mlflow_url: str
    artifact_dir: Path | S3Artifacts  # a new or empty folder, or an empty S3 prefix

    def __repr__(self) -> str:  # URLs may carry passwords
        return (
            f"RestoreTargets(bullpen={_db(self.bullpen_url)}, mlflow={_db(self.mlflow_url)}, "
            f"artifacts={self.artifact_dir})"
        )


@dataclass(frozen=True)
class RestoreReport:
    backup_id: str
    bullpen_database: str
    mlflow_database: str
    artifact_dir: str
    tables_checked: int
    rows_checked: int
    artifact_files: int
    relocated_uris: int


def fetch_verified(
    target: s3.BackupTarget, backup_id: str, key: archive.BackupKey, work_dir: Path
) -> VerifiedBackup:
    """Download a backup and check it completely; nothing outside `work_dir` is touched.

    Order: manifest key id and HMAC (wrong key, forged manifest), payload size and SHA-256
    (truncated or modified upload), then AES-GCM per chunk and SHA-256 per member on unpacking.

    Raises:
        BackupUnavailableError, WrongKeyError, AuthenticityError, IntegrityError.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    manifest = open_manifest(s3.download_manifest(target, backup_id), key, backup_id)
    payload = s3.download_payload(target, backup_id, work_dir / s3.PAYLOAD)
    archive.check_payload(payload, manifest.payload.bytes, manifest.payload.sha256)
    files = work_dir / "files"
    archive.extract_archive(
        payload,
        key.derive(manifest.salt(), "payload"),
        backup_id.encode(),
        manifest.packed_members(),
        files,
    )
    payload.unlink()
    log.info("backup %s verified: %d members", backup_id, len(manifest.members))
    return VerifiedBackup(manifest, files)


def check_targets_free(targets: RestoreTargets) -> None:
    """Refuse, before anything is created, targets that exist: restores never overwrite."""
    for url in (targets.bullpen_url, targets.mlflow_url):
        if dump.database_exists(url, _db(url)):
            raise BackupError(
                f"database {_db(url)} already exists: restores go into a new database "
                "(choose another target, or drop it first)"
            )
    if _db(targets.bullpen_url) == _db(targets.mlflow_url) and _same_server(
        targets.bullpen_url, targets.mlflow_url
    ):
        raise BackupError("the bullpen and MLflow targets must be two different databases")
    where = targets.artifact_dir
    if isinstance(where, S3Artifacts):
        if not is_empty(where):
            raise BackupError(
                f"artifact store {where.uri} is not empty: restores never overwrite (empty it, "
                "or restore under another prefix)"
            )
    elif where.exists() and any(where.iterdir()):
        raise BackupError(f"artifact directory {where} is not empty")


def restore_backup(
    verified: VerifiedBackup, targets: RestoreTargets, tools_dirs: tuple[Path, ...] = ()
) -> RestoreReport:
    """Restore both databases and the artifacts, then compare every table with the manifest.

    On any failure the databases and artifact directory this call created are removed again, so
    a half-restored copy can never be mistaken for a good one.

    Raises:
        BackupError: a target exists already (checked before anything is created).
        RestoreMismatchError: row counts or checksums differ from the manifest.
    """
    manifest = verified.manifest
    check_targets_free(targets)
    created: list[str] = []
    where = targets.artifact_dir
    artifact_dir_existed = isinstance(where, Path) and where.exists()
    uploaded = False
    try:
        tables = rows = 0
        for role, url in (("bullpen", targets.bullpen_url), ("mlflow", targets.mlflow_url)):
            entry = manifest.databases[role]
            dump.create_database(url)
            created.append(url)
            dump.restore_database(verified.files / entry.dump, url, tools_dirs)
            problems = compare_database(entry, *dump.database_checks(url))
            if problems:
                raise RestoreMismatchError(
                    f"restored {role} database differs from backup {manifest.id}: "
                    + "; ".join(problems[:10])
                )
            tables += len(entry.tables)
            rows += sum(t.rows for t in entry.tables.values())
        if isinstance(where, S3Artifacts):
            uploaded = True
            files = upload_all(verified.files / ARTIFACTS_DIR, where)
        else:
            files = place_artifacts(verified.files / ARTIFACTS_DIR, where)
        relocated = 0
        old_root = backed_up_root(manifest.artifacts.root)
        if root_uri(old_root) != root_uri(where):
            relocated = relocate_artifact_uris(targets.mlflow_url, old_root, where)
    except BaseException:
        for url in created:
            dump.drop_database(url)
        if isinstance(where, S3Artifacts):
            if uploaded:  # the prefix was empty before: whatever is there now came from here
                delete_all(where)
        elif not artifact_dir_existed:
            shutil.rmtree(where, ignore_errors=True)
        raise
    log.info("backup %s restored and checked: %d tables, %d rows", manifest.id, tables, rows)
    return RestoreReport(
        backup_id=manifest.id,
        bullpen_database=_db(targets.bullpen_url),
        mlflow_database=_db(targets.mlflow_url),
        artifact_dir=root_uri(where) if isinstance(where, S3Artifacts) else str(where),
        tables_checked=tables,
        rows_checked=rows,
        artifact_files=files,
        relocated_uris=relocated,
    )


def place_artifacts(source: Path, dest: Path) -> int:
    """Move verified artifact files into `dest` (new or empty); return how many."""
    dest.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        return 0
    count = 0
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            count += 1
    return count


def backed_up_root(recorded: str) -> Path | str:
    """The manifest's artifact root: an s3:// URI as it is, else the folder's path."""
    return recorded if recorded.startswith("s3://") else Path(recorded)


def _spellings(root: Path | str | S3Artifacts) -> list[str]:
    """How MLflow may have stored locations under `root`: a URI, and a folder's bare path."""
    if isinstance(root, S3Artifacts):
        return [root.uri]
    if isinstance(root, str):
        return [root.rstrip("/")]
    return [root.as_uri(), str(root)]


def relocate_artifact_uris(
    mlflow_url: str, old_root: Path | str, new_root: Path | S3Artifacts
) -> int:
    """Point MLflow's stored artifact locations from `old_root` (a folder or s3:// URI) to
    `new_root` (a folder or an S3 prefix); return rows changed.

    Needed when artifacts are restored elsewhere (a scratch verify): without it the restored
    registry would silently load models from the live store.
    """
    changed = 0
    new = _spellings(new_root.resolve() if isinstance(new_root, Path) else new_root)
    old = _spellings(old_root)
    # A folder's bare path goes to the new root's bare path when it has one, else to its URI.
    pairs = [(o, new[min(i, len(new) - 1)]) for i, o in enumerate(old)]
    with psycopg.connect(mlflow_url) as conn, conn.transaction():
        for table, column in _ARTIFACT_COLUMNS:
            found = conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name = %s AND column_name = %s",
                (table, column),
            ).fetchone()
            if not found:
                continue
            for old, new in pairs:
                statement = sql.SQL(
                    "UPDATE {t} SET {c} = %(new)s || substr({c}, length(%(old)s) + 1)"
                    " WHERE {c} = %(old)s OR left({c}, length(%(old)s) + 1) = %(old)s || '/'"
                ).format(t=sql.Identifier(table), c=sql.Identifier(column))
                changed += conn.execute(statement, {"old": old, "new": new}).rowcount
    return changed


def check_models(tracking_uri: str, aliases: list[ModelAlias]) -> list[str]:
    """Load every aliased model (e.g. champion) from a restored registry; return what loaded."""
    from bullpen.models import mlflow_store

    loaded = []
    for alias in aliases:
        version = mlflow_store.get_alias_version(tracking_uri, alias.name, alias.alias)
        if version is None or str(version.version) != alias.version:
            raise RestoreMismatchError(
                f"{alias.name}@{alias.alias} should be version {alias.version} after restore"
            )
        booster = mlflow_store.load_booster(tracking_uri, f"models:/{alias.name}@{alias.alias}")
        if booster.num_trees() <= 0:
            raise RestoreMismatchError(f"{alias.name}@{alias.alias} loaded an empty model")
        loaded.append(f"{alias.name}@{alias.alias}=v{alias.version}")
    return loaded


def switch_live(
    restored: RestoreTargets, live: RestoreTargets, now: datetime | None = None
) -> dict[str, str]:
    """Make a restored, checked copy the live one: live databases and artifacts are renamed
    `*_before_<time>` (kept, not dropped), the restored ones take their names.

    Sessions on the live databases are ended (workers and the MLflow UI reconnect to the
    restored copy by name); run it when no flow is writing.

    Artifacts restored under another S3 prefix are copied into the live prefix first (objects
    it lacks; a key holding other bytes refuses the switch before anything is renamed) and the
    restored registry is pointed there, so the live root (what every host writes to and what
    backups copy) holds every artifact the live registry names. A local folder replaces the
    live one.

    Raises:
        BackupError: restored and live databases are on different servers (rename cannot move
            a database between servers), the artifacts were restored into another kind of store
            than the live one (S3 vs a folder), an artifact clashes, or a rename failed.
    """
    new_root, live_root = restored.artifact_dir, live.artifact_dir
    if isinstance(new_root, S3Artifacts) != isinstance(live_root, S3Artifacts):
        raise BackupError(
            f"the live artifact store is {root_uri(live_root)}: restore the artifacts into the "
            f"same kind of store before --switch (they are in {root_uri(new_root)})"
        )
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    moved: dict[str, str] = {}
    if (
        isinstance(new_root, S3Artifacts)
        and isinstance(live_root, S3Artifacts)
        and new_root.uri != live_root.uri
    ):
        merge_into(new_root, live_root)
        relocate_artifact_uris(restored.mlflow_url, new_root.uri, live_root)
        moved[new_root.uri] = live_root.uri
    for new_url, live_url in (
        (restored.bullpen_url, live.bullpen_url),
        (restored.mlflow_url, live.mlflow_url),
    ):
        if _db(new_url) == _db(live_url):
            continue
        if not _same_server(new_url, live_url):
            raise BackupError("--switch needs the restore on the live server; restore there")
        try:
            if dump.database_exists(live_url, _db(live_url)):
                kept = dump.rename_database(live_url, f"{_db(live_url)}_before_{stamp}")
                moved[_db(live_url)] = _db(kept)
            dump.rename_database(new_url, _db(live_url))
        except psycopg.Error as exc:
            raise BackupError(f"switch failed: {exc}".strip()) from exc
        moved[_db(new_url)] = _db(live_url)
    if isinstance(new_root, S3Artifacts) or isinstance(live_root, S3Artifacts):
        return moved
    restored_dir, live_dir = new_root.resolve(), live_root
    if restored_dir != live_dir.resolve():
        if live_dir.exists():
            kept_dir = live_dir.with_name(f"{live_dir.name}.before-{stamp}")
            live_dir.rename(kept_dir)
            moved[str(live_dir)] = str(kept_dir)
        live_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(restored_dir, live_dir)
        relocate_artifact_uris(live.mlflow_url, restored_dir, live_dir)
        moved[str(restored_dir)] = str(live_dir)
    return moved


def _db(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _same_server(a: str, b: str) -> bool:
    def where(url: str) -> tuple[str, str | None]:
        parsed = urlparse(url)
        return parsed.netloc.rsplit("@", 1)[-1], (parse_qs(parsed.query).get("host") or [None])[0]

    return where(a) == where(b)
