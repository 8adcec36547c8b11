"""`bullpen health` names the component and the URL that failed (issue #19 item 6): with the
Prefect API down, the S3 check says the bucket could not be located through that API, not that
S3 is down; a dead database is named by host and port, never with its password."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bullpen.config import get_settings
from bullpen.ops import health
from bullpen.ops.targets import Targets, read_only_backup_target


def _dead_port() -> int:
    with socket.socket() as sock:  # bound then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()  # settings are read from the environment this test sets
    yield
    get_settings.cache_clear()


def test_prefect_down_is_not_reported_as_s3_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = f"http://127.0.0.1:{_dead_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", api)
    monkeypatch.setenv("BULLPEN_HOME", str(tmp_path))
    db = f"postgresql://bullpen:hunter2@127.0.0.1:{_dead_port()}/bullpen?sslmode=disable"
    targets = Targets(
        database_url=db,
        tracking_uri=None,
        disk_path=tmp_path,
        backup_target=lambda: read_only_backup_target(get_settings(), api),
        prefect_api_url=api,
    )
    checks = {c.name: c for c in health.run_checks(targets)}
    s3, prefect, database = checks["s3"], checks["prefect"], checks["database"]
    assert s3.status == prefect.status == database.status == health.FAIL
    assert s3.reason.startswith(f"bucket not located: Prefect API at {api} (S3 blocks): ")
    assert prefect.reason.startswith(f"prefect at {api}: ConnectError")
    host_port = db.split("@")[1].split("/")[0]
    assert database.reason.startswith(f"database at postgresql://{host_port}/bullpen: ")
    assert "hunter2" not in database.reason and "sslmode" not in database.reason


def test_where_drops_user_info_and_query() -> None:
    assert health.where("postgresql://u:p@db:5433/x?password=p") == "postgresql://db:5433/x"
    assert health.where("http://127.0.0.1:4200/api") == "http://127.0.0.1:4200/api"


def _artifact_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> health.Check:
    monkeypatch.setenv("BULLPEN_HOME", str(tmp_path))
    from bullpen.ops.targets import artifact_store

    targets = Targets(
        database_url=None,
        tracking_uri=None,
        disk_path=tmp_path,
        artifact_store=lambda: artifact_store(get_settings()),
    )
    return {c.name: c for c in health.run_checks(targets)}["artifacts"]


def test_a_local_artifact_folder_is_named_and_said_to_be_this_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BULLPEN_ARTIFACT_ROOT", raising=False)
    check = _artifact_checks(tmp_path, monkeypatch)
    assert check.status == health.WARN and "does not exist yet" in check.reason
    (tmp_path / "mlartifacts").mkdir()
    check = _artifact_checks(tmp_path, monkeypatch)
    assert check.status == health.OK
    assert check.reason == f"folder {tmp_path.resolve() / 'mlartifacts'} (this host only)"


def test_an_unreachable_s3_artifact_store_fails_with_its_uri_and_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULLPEN_ARTIFACT_ROOT", "s3://models/artifacts")
    monkeypatch.setenv("BULLPEN_S3_ENDPOINT_URL", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("BULLPEN_S3_ACCESS_KEY_ID", "artifactkey")
    monkeypatch.setenv("BULLPEN_S3_SECRET_ACCESS_KEY", "artifactsecret123")
    check = _artifact_checks(tmp_path, monkeypatch)
    assert check.status == health.FAIL
    assert check.reason.startswith("artifacts at s3://models/artifacts: EndpointConnectionError")
    assert "artifactsecret123" not in check.reason
