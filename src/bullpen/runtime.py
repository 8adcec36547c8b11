"""Resolve resources (database, MLflow, data) once, at the edge, for flows and the CLI."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bullpen.config import Settings, get_settings
from bullpen.db import engine

if TYPE_CHECKING:
    from bullpen.backup.archive import BackupKey
    from bullpen.backup.s3 import BackupTarget
    from bullpen.backup.snapshot import Sources

BULLPEN_DATABASE = "bullpen"
MLFLOW_DATABASE = "mlflow"


@lru_cache(maxsize=4)
def _embedded_server_url(pgdata: Path) -> str:
    return engine.start_embedded(pgdata)


def database_url(settings: Settings | None = None) -> str:
    """BULLPEN_DATABASE_URL, else the embedded server's `bullpen` database (started if needed)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return engine.ensure_database(_embedded_server_url(settings.pgdata), BULLPEN_DATABASE)


def mlflow_tracking_uri(settings: Settings | None = None) -> str:
    """BULLPEN_MLFLOW_TRACKING_URI, or an `mlflow` database beside the bullpen database."""
    settings = settings or get_settings()
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    server = settings.database_url or _embedded_server_url(settings.pgdata)
    return engine.sqlalchemy_url(engine.ensure_database(server, MLFLOW_DATABASE))


def data_dir(settings: Settings | None = None) -> Path:
    """Bundled seasons: BULLPEN_DATA_DIR, else the repository's data/ folder."""
    settings = settings or get_settings()
    if settings.data_dir:
        return settings.data_dir
    return Path(__file__).resolve().parents[2] / "data"


def prepare_database(url: str) -> list[str]:
    """Apply pending migrations and seed the teams; return the migrations applied now."""
    from bullpen.db.migrate import apply_migrations
    from bullpen.db.store import write_teams

    with engine.connect(url) as conn:
        applied = apply_migrations(conn)
        write_teams(conn)
    return applied


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: lost connections and timeouts, not bad data or bugs."""
    import psycopg

    return isinstance(exc, (psycopg.OperationalError, TimeoutError, ConnectionError))


def retry_transient(task: object, task_run: object, state: object) -> bool:
    """Prefect `retry_condition_fn`: retry only when the task failed with a transient error."""
    try:
        state.result()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - classifying the failure is the point
        return is_transient(exc)
    return False


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def prefect_defaults(settings: Settings | None = None) -> None:
    """Local Prefect settings, unless the operator set them: state under home, no analytics,
    a start timeout that fits a 2-core machine, and bullpen's logs in the Prefect UI."""
    settings = settings or get_settings()
    defaults = {
        "PREFECT_HOME": str(settings.home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "bullpen",
        "PREFECT_UI_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect does not create its home's parents; a fresh BULLPEN_HOME must still work.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)


def load_flow(entrypoint: str) -> object:
    """A flow from flows/ by `file.py:function` (Prefect loads entrypoints by path)."""
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(str(repo_root() / "flows" / entrypoint))


# -- secrets and S3: saved blocks when a Prefect API is configured, else Settings -------------

BACKUP_BUCKET_BLOCK = "bullpen-backups"  # prefect-aws S3Bucket (bucket, folder, credentials)
AWS_CREDENTIALS_BLOCK = "bullpen-aws"  # prefect-aws AwsCredentials (keys, endpoint_url)
BACKUP_KEY_BLOCK = "bullpen-backup-key"  # Secret: the 32-byte backup key, base64
ODDS_API_KEY_BLOCK = "bullpen-odds-api-key"  # Secret: The Odds API key


def _saved_block(block_type: Any, name: str) -> Any | None:
    """A saved block, or None when no Prefect API is configured here or no such block exists.

    Without an API (plain CLI use) loading would start a temporary server only to find nothing.
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value() and FlowRunContext.get() is None:
        return None
    try:
        return block_type.load(name)
    except ValueError:  # no block document by that name
        return None


def backup_key(settings: Settings | None = None) -> BackupKey:
    """The backup key: Secret block `bullpen-backup-key`, else BULLPEN_BACKUP_KEY."""
    from prefect.blocks.system import Secret

    from bullpen.backup.archive import BackupKey
    from bullpen.backup.errors import BackupError

    settings = settings or get_settings()
    block = _saved_block(Secret, BACKUP_KEY_BLOCK)
    if block is not None:
        return BackupKey.parse(str(block.get()))
    if settings.backup_key is not None:
        return BackupKey.parse(settings.backup_key.get_secret_value())
    raise BackupError(
        f"no backup key: save the Secret block {BACKUP_KEY_BLOCK} or set BULLPEN_BACKUP_KEY "
        "(generate one with `bullpen backup keygen`)"
    )


def odds_api_key(settings: Settings | None = None) -> SecretStr:
    """The Odds API key: Secret block `bullpen-odds-api-key`, else BULLPEN_ODDS_API_KEY."""
    from prefect.blocks.system import Secret

    from bullpen.collect.odds_api import SourceError

    settings = settings or get_settings()
    block = _saved_block(Secret, ODDS_API_KEY_BLOCK)
    if block is not None:
        return SecretStr(str(block.get()))
    if settings.odds_api_key is not None:
        return settings.odds_api_key
    raise SourceError(
        f"no Odds API key: save the Secret block {ODDS_API_KEY_BLOCK} or set BULLPEN_ODDS_API_KEY"
    )


def backup_target(settings: Settings | None = None) -> BackupTarget:
    """S3 client, bucket and prefix for backups.

    The S3Bucket block `bullpen-backups` (with its credentials) wins; else the AwsCredentials
    block `bullpen-aws` with BULLPEN_S3_BUCKET; else BULLPEN_S3_* alone (no keys: boto3's default
    chain). BULLPEN_S3_ENDPOINT_URL applies when the credentials name no endpoint.
    """
    import boto3
    from botocore.config import Config
    from prefect_aws import AwsCredentials, S3Bucket

    from bullpen.backup.s3 import BackupTarget

    settings = settings or get_settings()
    bucket_block = _saved_block(S3Bucket, BACKUP_BUCKET_BLOCK)
    credentials = (
        bucket_block.credentials
        if bucket_block is not None
        else _saved_block(AwsCredentials, AWS_CREDENTIALS_BLOCK)
    )
    endpoint = settings.s3_endpoint_url
    if credentials is not None:
        session = credentials.get_boto3_session()
        params = getattr(credentials, "aws_client_parameters", None)
        endpoint = getattr(params, "endpoint_url", None) or endpoint
    else:

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        session = boto3.session.Session(
            aws_access_key_id=secret(settings.s3_access_key_id),
            aws_secret_access_key=secret(settings.s3_secret_access_key),
        )
    # Few, quick retries here: the backup flow's upload task retries with longer backoff.
    options: dict[str, Any] = {
        "retries": {"max_attempts": 3, "mode": "standard"},
        "connect_timeout": 5,
        "read_timeout": 60,
    }
    if endpoint:
        options["s3"] = {"addressing_style": "path"}  # S3-compatible servers on a bare host:port
    client = session.client(
        "s3",
        endpoint_url=endpoint,
        region_name=session.region_name or settings.s3_region,
        config=Config(**options),
    )
    if bucket_block is not None:
        return BackupTarget(
            client, bucket_block.bucket_name, bucket_block.bucket_folder or settings.s3_prefix
        )
    return BackupTarget(client, settings.s3_bucket, settings.s3_prefix)


def backup_sources(settings: Settings | None = None) -> Sources:
    """What a backup covers: the bullpen database, MLflow's database and its artifact root."""
    from bullpen.backup.dump import libpq_url
    from bullpen.backup.snapshot import Sources

    settings = settings or get_settings()
    return Sources(
        bullpen_url=database_url(settings),
        mlflow_url=libpq_url(mlflow_tracking_uri(settings)),
        artifact_root=settings.artifact_root,
    )


def pg_bin_dirs(settings: Settings | None = None) -> tuple[Path, ...]:
    """Extra places to look for pg_dump/pg_restore (BULLPEN_PG_BIN_DIR) before the defaults."""
    settings = settings or get_settings()
    return (settings.pg_bin_dir,) if settings.pg_bin_dir else ()
