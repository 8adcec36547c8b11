"""Resolve resources once, at the edge, for flows and the CLI: the database and MLflow URLs, the
bundled data, secrets (backup key, Odds API key) and the backup bucket.

An explicit BULLPEN_* setting or a saved Prefect block (read through `prefect_blocks`, the
Prefect adapter) wins; else the embedded PostgreSQL server under BULLPEN_HOME. Prefect process
setup lives in `ops/prefect_process.py`; where the Prefect API is, in `profiles.py`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from pydantic import SecretStr

from bullpen import prefect_blocks
from bullpen.config import S3_SCHEME, Settings, get_settings
from bullpen.db import engine, urls

if TYPE_CHECKING:
    from bullpen.backup.archive import BackupKey
    from bullpen.backup.artifacts import S3Artifacts
    from bullpen.backup.s3 import BackupTarget
    from bullpen.backup.snapshot import Sources

BULLPEN_DATABASE = "bullpen"
MLFLOW_DATABASE = "mlflow"


@lru_cache(maxsize=4)
def _embedded_server_url(pgdata: Path) -> str:
    return engine.start_embedded(pgdata)


def database_url(settings: Settings | None = None) -> str:
    """BULLPEN_DATABASE_URL, else the SqlAlchemyConnector block `bullpen-db` (only looked up when
    a Prefect API is configured), else the embedded server's `bullpen` database (started if
    needed)."""
    settings = settings or get_settings()
    if settings.database_url:
        return _no_password(settings.database_url, settings)
    from_block = prefect_blocks.database_url_from_block()
    if from_block:
        return _no_password(from_block, settings)
    return engine.ensure_database(_embedded_server_url(settings.pgdata), BULLPEN_DATABASE)


def credentials_dir(settings: Settings | None = None) -> Path:
    """<home>/credentials (0700): generated passwords and pgpass files, each file 0600."""
    settings = settings or get_settings()
    path = settings.home.resolve() / "credentials"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _no_password(url: str, settings: Settings) -> str:
    """`url` with a password (user info or ?password=, libpq's reading) moved to a 0600 pgpass
    file: every URL bullpen hands on (flow parameters, blocks, logs, MLflow) is then secret-free.
    """
    if urls.password(url) is None:
        return url
    return urls.without_password(url, credentials_dir(settings))


def embedded_database_url_if_running(settings: Settings | None = None) -> str | None:
    """The embedded `bullpen` database's URL if its server runs now; never starts it."""
    from bullpen.db.embedded import postmaster

    settings = settings or get_settings()
    # A stale postmaster.pid whose PID was reused is not a running server (the wheel's check
    # only asked whether the PID exists, and starting "it" then started a server after all).
    if postmaster.running_postmaster(settings.pgdata) is None:
        return None
    return engine.ensure_database(_embedded_server_url(settings.pgdata), BULLPEN_DATABASE)


def artifact_store_env(settings: Settings | None = None) -> dict[str, str]:
    """The environment MLflow's boto3 client reads for an s3:// artifact root, from BULLPEN_S3_*:
    endpoint (path-style addressing, as every S3-compatible server on a bare host:port needs),
    keys (unset: boto3's default chain, e.g. an instance role) and region. Empty for file://.

    Holds secrets: hand it to a process's environment, never to argv or a log line.
    """
    settings = settings or get_settings()
    if not settings.artifact_root.startswith(S3_SCHEME):
        return {}
    env = {"AWS_DEFAULT_REGION": settings.s3_region}
    if settings.s3_endpoint_url:
        env["MLFLOW_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
        env["MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE"] = "path"
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        env["AWS_ACCESS_KEY_ID"] = settings.s3_access_key_id.get_secret_value()
        env["AWS_SECRET_ACCESS_KEY"] = settings.s3_secret_access_key.get_secret_value()
    return env


def configure_artifact_store(settings: Settings | None = None) -> None:
    """Point this process's MLflow artifact client at the configured store (the one place that
    sets MLflow's S3 variables; an AWS_DEFAULT_REGION already set is kept)."""
    env = artifact_store_env(settings)
    region = env.pop("AWS_DEFAULT_REGION", None)
    if region:
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.update(env)


def mlflow_tracking_uri(settings: Settings | None = None) -> str:
    """BULLPEN_MLFLOW_TRACKING_URI, or an `mlflow` database beside the bullpen database.

    Every MLflow user asks for this URI first, so the artifact store is configured here too."""
    settings = settings or get_settings()
    configure_artifact_store(settings)
    if settings.mlflow_tracking_uri:
        if urlparse(settings.mlflow_tracking_uri).scheme.startswith("postgres"):
            return _no_password(settings.mlflow_tracking_uri, settings)
        return settings.mlflow_tracking_uri
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    server = _no_password(
        settings.database_url
        or prefect_blocks.database_url_from_block()
        or _embedded_server_url(settings.pgdata),
        settings,
    )
    return urls.sqlalchemy_url(engine.ensure_database(server, MLFLOW_DATABASE))


def prepare_database(url: str) -> list[str]:
    """Apply pending migrations and seed the teams; return the migrations applied now."""
    from bullpen.db.migrate import apply_migrations, write_teams

    with engine.connect(url) as conn:
        applied = apply_migrations(conn)
        write_teams(conn)
    return applied


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


# -- secrets and S3: saved blocks when a Prefect API is configured, else Settings -------------


def backup_key(settings: Settings | None = None) -> BackupKey:
    """The backup key: BULLPEN_BACKUP_KEY, else the Secret block `bullpen-backup-key`.

    An explicit setting wins: an operator who exports a key means that key (a saved block that
    won silently encrypted backups with a key the operator had not chosen)."""
    from bullpen.backup.archive import BackupKey
    from bullpen.backup.errors import BackupError

    settings = settings or get_settings()
    if settings.backup_key is not None:
        return BackupKey.parse(settings.backup_key.get_secret_value())
    saved = prefect_blocks.saved_secret(prefect_blocks.BACKUP_KEY_BLOCK)
    if saved is not None:
        return BackupKey.parse(saved)
    raise BackupError(
        f"no backup key: save the Secret block {prefect_blocks.BACKUP_KEY_BLOCK} or set "
        "BULLPEN_BACKUP_KEY (generate one with `bullpen backup keygen`)"
    )


def odds_api_key(settings: Settings | None = None) -> SecretStr:
    """The Odds API key: BULLPEN_ODDS_API_KEY, else the Secret block `bullpen-odds-api-key`
    (an explicit setting wins, as for the backup key)."""
    from bullpen.collect.http import SourceError

    settings = settings or get_settings()
    if settings.odds_api_key is not None:
        return settings.odds_api_key
    saved = prefect_blocks.saved_secret(prefect_blocks.ODDS_API_KEY_BLOCK)
    if saved is not None:
        return SecretStr(saved)
    raise SourceError(
        f"no Odds API key: save the Secret block {prefect_blocks.ODDS_API_KEY_BLOCK} or set "
        "BULLPEN_ODDS_API_KEY"
    )


def backup_target(settings: Settings | None = None) -> BackupTarget:
    """S3 client, bucket and prefix for backups.

    The S3Bucket block `bullpen-backups` (with its credentials) wins; else the AwsCredentials
    block `bullpen-aws` with BULLPEN_S3_BUCKET; else BULLPEN_S3_* alone (no keys: boto3's default
    chain). BULLPEN_S3_ENDPOINT_URL applies when the credentials name no endpoint.
    """
    from bullpen.backup.s3 import BackupTarget, make_client

    settings = settings or get_settings()
    bucket_block, credentials = prefect_blocks.saved_s3_blocks()
    if credentials is not None:
        params = getattr(credentials, "aws_client_parameters", None)
        client = make_client(
            getattr(params, "endpoint_url", None) or settings.s3_endpoint_url,
            settings.s3_region,
            session=credentials.get_boto3_session(),
        )
    else:
        client = make_client(
            settings.s3_endpoint_url,
            settings.s3_region,
            access_key_id=_secret(settings.s3_access_key_id),
            secret_access_key=_secret(settings.s3_secret_access_key),
        )
    if bucket_block is not None:
        return BackupTarget(
            client, bucket_block.bucket_name, bucket_block.bucket_folder or settings.s3_prefix
        )
    return BackupTarget(client, settings.s3_bucket, settings.s3_prefix)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def backup_sources(settings: Settings | None = None) -> Sources:
    """What a backup covers: the bullpen database, MLflow's database and its artifact root."""
    from bullpen.backup.dump import libpq_url
    from bullpen.backup.snapshot import Sources

    settings = settings or get_settings()
    return Sources(
        bullpen_url=database_url(settings),
        mlflow_url=libpq_url(mlflow_tracking_uri(settings)),
        artifact_root=artifact_source(settings),
    )


def artifact_source(settings: Settings | None = None) -> Path | S3Artifacts:
    """The MLflow artifact store (BULLPEN_ARTIFACT_ROOT) as backups see it: the local folder,
    or the S3 bucket and prefix."""
    settings = settings or get_settings()
    return settings.artifact_dir or artifact_store_at(settings.artifact_root, settings)


def artifact_store_at(uri: str, settings: Settings | None = None) -> Path | S3Artifacts:
    """A folder (path or file:// URI) or s3://bucket/prefix, with a client built from
    BULLPEN_S3_* (the endpoint and keys MLflow itself uses for the artifact store)."""
    from bullpen.backup.artifacts import S3Artifacts, parse_s3_root
    from bullpen.backup.s3 import make_client

    settings = settings or get_settings()
    if not uri.startswith(S3_SCHEME):
        return Path(unquote(urlparse(uri).path)) if uri.startswith("file://") else Path(uri)
    bucket, prefix = parse_s3_root(uri)
    client = make_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        access_key_id=_secret(settings.s3_access_key_id),
        secret_access_key=_secret(settings.s3_secret_access_key),
    )
    return S3Artifacts(client, bucket, prefix)


def pg_bin_dirs(settings: Settings | None = None) -> tuple[Path, ...]:
    """Extra places to look for pg_dump/pg_restore (BULLPEN_PG_BIN_DIR) before the defaults."""
    settings = settings or get_settings()
    return (settings.pg_bin_dir,) if settings.pg_bin_dir else ()


# -- what `bullpen health`, `status` and the metrics exporter read ---------------------------


def s3_configured(settings: Settings | None = None) -> bool:
    """Backups have somewhere to go: BULLPEN_S3_ENDPOINT_URL or keys, or a saved S3 block.

    Without any of these, boto3 would fall back to its default chain against AWS: not a
    configuration, so health and metrics leave S3 out instead of reporting a failure.
    """
    settings = settings or get_settings()
    if settings.s3_endpoint_url or settings.s3_access_key_id:
        return True
    try:
        return prefect_blocks.s3_blocks_saved()
    except Exception:  # noqa: BLE001 - an unreachable API is reported by the Prefect check
        return False
