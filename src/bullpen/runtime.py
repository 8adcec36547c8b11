"""Resolve resources (database, MLflow, data) once, at the edge, for flows and the CLI."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from bullpen.config import Settings, get_settings
from bullpen.db import engine

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


def load_flow(entrypoint: str) -> object:
    """A flow from flows/ by `file.py:function` (Prefect loads entrypoints by path)."""
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(str(repo_root() / "flows" / entrypoint))
