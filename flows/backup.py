"""Back up bullpen to S3 (flow backup), restore a backup into new databases (flow restore),
prove that a backup restores (flow backup-verify) and apply retention alone (flow
backup-retention, for the identity that may delete: docs/backup.md)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from bullpen import runtime
from bullpen.backup import archive, dump, s3, snapshot
from bullpen.backup import restore as restoring
from bullpen.backup.retention import RetentionPolicy
from bullpen.config import get_settings
from bullpen.db import urls


def retry_s3(task: object, task_run: object, state: Any) -> bool:
    """Retry only S3 failures that can pass: unreachable endpoint, timeouts, throttling, 5xx."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classifying the failure is the point
        return s3.is_transient(exc)
    return False


@task(cache_policy=NONE)
def create_backup(
    sources: snapshot.Sources,
    key: archive.BackupKey,
    work_dir: Path,
    kind: str,
    tools: tuple[Path, ...],
) -> snapshot.CreatedBackup:
    # The settings snapshot is read here, not passed in: it holds secrets a task parameter
    # should not carry.
    config = get_settings().model_dump()
    return snapshot.create_backup(
        sources, key, work_dir, kind=kind, config=config, tools_dirs=tools
    )


@task(cache_policy=NONE, retry_condition_fn=retry_s3, task_run_name="upload-backup-{created.id}")
def upload_backup(target: s3.BackupTarget, created: snapshot.CreatedBackup) -> None:
    s3.upload_backup(target, created.id, created.payload, created.manifest)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=retry_s3)
def apply_retention(
    target: s3.BackupTarget,
    key: archive.BackupKey,
    policy: RetentionPolicy,
    uploaded: str | None,
) -> list[str]:
    return s3.apply_retention(target, key, policy, datetime.now(UTC), uploaded)


@task(
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_s3,
    task_run_name="fetch-verified-{backup_id}",
)
def fetch_verified(
    target: s3.BackupTarget, backup_id: str, key: archive.BackupKey, work_dir: Path
) -> restoring.VerifiedBackup:
    return restoring.fetch_verified(target, backup_id, key, work_dir)


@task(cache_policy=NONE)
def restore_backup(
    verified: restoring.VerifiedBackup,
    targets: restoring.RestoreTargets,
    tools: tuple[Path, ...],
) -> restoring.RestoreReport:
    return restoring.restore_backup(verified, targets, tools)


@task(cache_policy=NONE)
def check_models(mlflow_url: str, verified: restoring.VerifiedBackup) -> list[str]:
    return restoring.check_models(urls.sqlalchemy_url(mlflow_url), verified.manifest.models)


def _default_restore_root(live_root: str, home: Path, backup_id: str) -> str:
    if live_root.startswith("s3://"):
        bucket = live_root.removeprefix("s3://").split("/", 1)[0]
        return f"s3://{bucket}/restores/{backup_id}"
    return str(home / "restores" / backup_id / "mlartifacts")


def _work_dir(home: Path, kind: str) -> Path:
    root = home / "backup-work"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root))


@flow(name="backup", log_prints=True)
def backup(
    kind: str = "manual",
    keep_hourly: int = 24,
    keep_daily: int = 7,
    keep_weekly: int = 4,
    keep_monthly: int = 12,
    min_verified: int = RetentionPolicy.min_verified,
    upload_retry_delays: tuple[float, ...] = (10, 60, 300),
    retention: bool = True,
) -> dict[str, Any]:
    """Snapshot both databases, MLflow artifacts and config; upload; then apply retention.

    Retention judges only backups whose manifest verifies with the key and never deletes the
    one just made. `retention=False` where the worker may not delete (production: the
    backup-retention flow runs with the retention role instead).
    """
    settings = get_settings()
    policy = RetentionPolicy(keep_hourly, keep_daily, keep_weekly, keep_monthly, min_verified)
    # Every resource is resolved once, here at the flow's edge; tasks get values.
    key, target = runtime.backup_key(settings), runtime.backup_target(settings)
    sources, tools = runtime.backup_sources(settings), runtime.pg_bin_dirs(settings)
    work = _work_dir(settings.home, "backup")
    try:
        created = create_backup(sources, key, work, kind, tools)
        upload = upload_backup.with_options(
            retries=len(upload_retry_delays), retry_delay_seconds=list(upload_retry_delays)
        )
        upload(target, created)
        # Only after a successful upload; retention itself re-checks that it is listed and
        # that its manifest verifies, and never deletes it.
        deleted = apply_retention(target, key, policy, created.id) if retention else []
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The run's log says what was kept where, with which key (its id only), and what went.
    story = (
        f"backup {created.id} ({kind}): {created.payload_bytes} bytes encrypted with key "
        f"{key.key_id()} to s3://{target.bucket}/{target.prefix}; retention deleted "
        f"{len(deleted)}" + (f": {', '.join(deleted)}" if deleted else "")
    )
    print(story)
    create_markdown_artifact(story, key="backup", description=f"the newest backup ({kind})")
    return {
        "id": created.id,
        "payload_bytes": created.payload_bytes,
        "plain_bytes": created.plain_bytes,
        "database_bytes": created.database_bytes,
        "deleted": deleted,
    }


@flow(name="backup-retention")
def backup_retention(
    keep_hourly: int = 24,
    keep_daily: int = 7,
    keep_weekly: int = 4,
    keep_monthly: int = 12,
    min_verified: int = RetentionPolicy.min_verified,
) -> dict[str, Any]:
    """Retention alone, for the identity allowed to delete (the workers' role is not): the same
    rules as after a backup, with the newest verified backups always kept."""
    settings = get_settings()
    policy = RetentionPolicy(keep_hourly, keep_daily, keep_weekly, keep_monthly, min_verified)
    key, target = runtime.backup_key(settings), runtime.backup_target(settings)
    return {"deleted": apply_retention(target, key, policy, None)}


@flow(name="restore")
def restore(
    backup_id: str,
    target_url: str,
    mlflow_target_url: str | None = None,
    artifact_dir: str | None = None,
    switch: bool = False,
) -> dict[str, Any]:
    """Verify `backup_id`, restore it into new databases, compare every table, maybe switch.

    `artifact_dir`: a new or empty folder, or an empty s3://bucket/prefix. Default: a folder
    under BULLPEN_HOME/restores, or with an S3 artifact store s3://<its bucket>/restores/<id>
    (a restore every host can read, and one --switch can make live)."""
    settings = get_settings()
    for url in (target_url, mlflow_target_url):
        if url and dump.has_password(url):  # flow parameters are stored by the Prefect API
            raise ValueError("pass the database password in PGPASSWORD, not in the URL")
    name = dump.database_name(target_url)
    targets = restoring.RestoreTargets(
        bullpen_url=target_url,
        mlflow_url=mlflow_target_url or urls.with_database(target_url, f"{name}_mlflow"),
        artifact_dir=runtime.artifact_store_at(
            artifact_dir or _default_restore_root(settings.artifact_root, settings.home, backup_id),
            settings,
        ),
    )
    restoring.check_targets_free(targets)  # fail fast; checked again right before restoring
    key, source = runtime.backup_key(settings), runtime.backup_target(settings)
    tools = runtime.pg_bin_dirs(settings)
    # The live databases only matter to a switch (and locating them may start the embedded one).
    sources = runtime.backup_sources(settings) if switch else None
    work = _work_dir(settings.home, "restore")
    try:
        report = restore_backup(fetch_verified(source, backup_id, key, work), targets, tools)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = asdict(report)
    if sources is not None:
        live = restoring.RestoreTargets(
            sources.bullpen_url, sources.mlflow_url, sources.artifact_root
        )
        result["switched"] = restoring.switch_live(targets, live)
    return result


@flow(name="backup-verify", log_prints=True)
def verify_backup(backup_id: str | None = None, load_models: bool = True) -> dict[str, Any]:
    """Restore a backup (default: the latest complete one) into scratch databases beside the
    live ones, compare every table, load the aliased models, then drop the scratch copy."""
    settings = get_settings()
    key, source = runtime.backup_key(settings), runtime.backup_target(settings)
    backup_id = backup_id or s3.latest_verified(source, key)
    live, tools = runtime.database_url(settings), runtime.pg_bin_dirs(settings)
    tag = uuid.uuid4().hex[:8]
    work = _work_dir(settings.home, "verify")
    targets = restoring.RestoreTargets(
        bullpen_url=urls.with_database(live, f"bullpen_verify_{tag}"),
        mlflow_url=urls.with_database(live, f"mlflow_verify_{tag}"),
        artifact_dir=work / "mlartifacts",
    )
    try:
        verified = fetch_verified(source, backup_id, key, work / "download")
        report = restore_backup(verified, targets, tools)
        models = check_models(targets.mlflow_url, verified) if load_models else []
    finally:
        for url in (targets.bullpen_url, targets.mlflow_url):
            dump.drop_database(url)
        shutil.rmtree(work, ignore_errors=True)
    print(f"backup {backup_id} verified with key {key.key_id()}; models loaded: {models}")
    return {**asdict(report), "models_loaded": models}


if __name__ == "__main__":
    backup()
