"""What the operations readers look at, and where each part is found.

`Targets` is shared by the metrics exporter, `bullpen health` and `bullpen status`; `locate`
builds it from the same resources the flows use (`bullpen.runtime`), without starting anything
that is stopped unless asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bullpen import prefect_blocks, runtime
from bullpen.config import Settings, get_settings
from bullpen.db import urls
from bullpen.profiles import prefect_api_url

if TYPE_CHECKING:
    from bullpen.backup.s3 import BackupTarget


@dataclass
class Targets:
    """What the exporter reads; None turns a family off (that part is not configured)."""

    database_url: str | None
    tracking_uri: str | None
    disk_path: Path
    backup_target: Callable[[], Any] | None = None  # factory: a BackupTarget
    prefect_api_url: str | None = None
    replica_url: str | None = None
    artifact_store: Callable[[], Any] | None = None  # factory: a Path or an S3Artifacts


def locate(
    settings: Settings | None = None, *, start_embedded: bool = False
) -> tuple[Targets, str | None]:
    """The exporter's / health checks' `Targets` and, when the database cannot be located, why.

    With `start_embedded=False` (health, status) a stopped embedded server is reported, not
    started.
    """
    settings = settings or get_settings()
    problem = None
    db: str | None
    try:
        if start_embedded:
            db = runtime.database_url(settings)
        else:
            db = (
                settings.database_url
                or prefect_blocks.database_url_from_block()
                or runtime.embedded_database_url_if_running(settings)
            )
            if db is None:
                problem = (
                    f"embedded PostgreSQL in {settings.pgdata} is not running "
                    "(start it: bullpen db start)"
                )
    except Exception as exc:  # noqa: BLE001 - reported as the database check's reason
        db, problem = None, f"{type(exc).__name__}: {exc}"
    if settings.mlflow_tracking_uri:
        tracking = settings.mlflow_tracking_uri
    else:
        # runtime.mlflow_tracking_uri's rule: database `mlflow` on the bullpen database's server.
        tracking = (
            urls.sqlalchemy_url(urls.with_database(db, runtime.MLFLOW_DATABASE)) if db else None
        )
    targets = Targets(
        database_url=db,
        tracking_uri=tracking,
        disk_path=settings.home,
        backup_target=(lambda: read_only_backup_target(settings))
        if runtime.s3_configured(settings)
        else None,
        prefect_api_url=prefect_api_url(),
        replica_url=settings.replica_database_url,
        artifact_store=lambda: artifact_store(settings),
    )
    return targets, problem


def artifact_store(settings: Settings) -> Any:
    """MLflow's artifact root as a local folder, or an S3 bucket and prefix with a client built
    from BULLPEN_S3_* (the credentials MLflow itself is given, runtime.artifact_store_env)."""
    from bullpen.backup import artifacts, s3

    if settings.artifact_dir is not None:
        return settings.artifact_dir
    bucket, prefix = artifacts.parse_s3_root(settings.artifact_root)
    client = s3.make_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        access_key_id=settings.s3_access_key_id.get_secret_value()
        if settings.s3_access_key_id
        else None,
        secret_access_key=settings.s3_secret_access_key.get_secret_value()
        if settings.s3_secret_access_key
        else None,
        max_attempts=1,
        read_timeout=5,
    )
    return artifacts.S3Artifacts(client, bucket, prefix)


def read_only_backup_target(settings: Settings, api: str | None = None) -> BackupTarget:
    """backup_target() for read-only checks, without importing prefect_aws (seconds): the saved
    blocks are read over the REST API (`api`, else the configured one), whose answer includes the
    nested credentials."""
    api = api or prefect_api_url()
    if not api:
        return runtime.backup_target(settings)
    bucket = prefect_blocks.block_document(api, "s3-bucket", prefect_blocks.BACKUP_BUCKET_BLOCK)
    creds = (bucket or {}).get("credentials")
    if bucket is not None and not isinstance(creds, dict):
        # A shape this reader does not know: the slow, sure way.
        return runtime.backup_target(settings)
    if creds is None:
        creds = prefect_blocks.block_document(
            api, "aws-credentials", prefect_blocks.AWS_CREDENTIALS_BLOCK
        )
    if creds is None:
        return runtime.backup_target(settings)
    from bullpen.backup.s3 import BackupTarget, make_client

    params = creds.get("aws_client_parameters") or {}
    # A read-only check: fewer retries and a shorter read timeout than a backup run.
    client = make_client(
        params.get("endpoint_url") or settings.s3_endpoint_url,
        creds.get("region_name") or settings.s3_region,
        access_key_id=creds.get("aws_access_key_id"),
        secret_access_key=creds.get("aws_secret_access_key"),
        session_token=creds.get("aws_session_token"),
        max_attempts=2,
        read_timeout=20,
    )
    if bucket is not None:
        return BackupTarget(
            client, bucket["bucket_name"], bucket.get("bucket_folder") or settings.s3_prefix
        )
    return BackupTarget(client, settings.s3_bucket, settings.s3_prefix)
