"""Operations against real services: the metrics exporter over real Postgres, MLflow and S3;
`bullpen health` against a Postgres server that is stopped and restarted."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bullpen.backup import local_s3, s3
from bullpen.db.engine import ensure_database, start_embedded, stop_embedded
from bullpen.ops import metrics
from bullpen.ops.targets import Targets
from tests.integration.prefect_server import standalone_server

BULLPEN = str(Path(sys.executable).parent / "bullpen")
S3_KEY, S3_SECRET = "opsaccesskey", "opssecretkey123"


def scrape(registry: object) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """family name -> {sorted labels: value}, parsed by prometheus_client's own parser."""
    text = metrics.render(registry).decode()  # type: ignore[arg-type]
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped[name][tuple(sorted(labels.items()))]


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3.BackupTarget]:
    root = tmp_path_factory.mktemp("ops-s3")
    server = local_s3.start_local_s3(root / "data", S3_KEY, S3_SECRET)
    client = s3.make_client(
        server.endpoint_url, "us-east-1", access_key_id=S3_KEY, secret_access_key=S3_SECRET
    )
    target = s3.BackupTarget(client, "ops-backups", "backups")
    s3.ensure_bucket(target)
    yield target
    server.stop()


@pytest.fixture(scope="module")
def registry_uri(bullpen_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The module's MLflow store with its schema created (first MlflowClient use migrates)."""
    from mlflow.tracking import MlflowClient

    uri = bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    MlflowClient(uri).search_registered_models()
    return uri


def _register(uri: str, artifacts: Path, model_loss: float, close_loss: float) -> str:
    """A real run + registered version of bullpen-moneyline with its evaluation metrics."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    with contextlib.suppress(MlflowException):  # already there
        client.create_registered_model("bullpen-moneyline")
    exp = client.get_experiment_by_name("ops") or None
    exp_id = exp.experiment_id if exp else client.create_experiment("ops", artifacts.as_uri())
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "model_log_loss", model_loss)
    client.log_metric(run.info.run_id, "market_close_log_loss", close_loss)
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(
        "bullpen-moneyline",
        (artifacts / run.info.run_id).as_uri(),
        run_id=run.info.run_id,
        tags={"eval_season": "2019", "eval_log_loss": f"{model_loss:.6f}"},
    )
    client.set_registered_model_alias("bullpen-moneyline", "champion", version.version)
    return str(version.version)


def _put_backup(target: s3.BackupTarget, created: datetime, size: int) -> str:
    """A complete backup as the listing sees it: payload then manifest (bullpen's key layout)."""
    backup_id = f"{created:%Y%m%dT%H%M%SZ}-hourly-{uuid.uuid4().hex[:6]}"
    target.client.put_object(
        Bucket=target.bucket, Key=target.key(backup_id, s3.PAYLOAD), Body=b"x" * size
    )
    target.client.put_object(
        Bucket=target.bucket, Key=target.key(backup_id, s3.MANIFEST), Body=b"{}"
    )
    return backup_id


def test_exporter_metrics_follow_real_state(
    bullpen_env: dict[str, str],
    registry_uri: str,
    s3_server: s3.BackupTarget,
    tmp_path: Path,
) -> None:
    db = bullpen_env["BULLPEN_DATABASE_URL"]
    targets = Targets(
        database_url=db,
        tracking_uri=registry_uri,
        disk_path=tmp_path,
        backup_target=lambda: s3_server,
    )
    registry = metrics.make_registry(targets)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO games (season, game_date, away_team, home_team) "
            "VALUES (2019, '2019-05-01', 'NYY', 'BOS')"
        )
        before = scrape(registry)
        for probe in ("host", "database", "mlflow", "s3"):
            assert value(before, "bullpen_probe_success", probe=probe) == 1.0, probe
        assert "bullpen_flow_runs" not in before  # no Prefect API configured: family absent
        assert "bullpen_backup_age_seconds" not in before  # empty bucket: no age invented
        age_before = value(before, "bullpen_data_age_seconds", source="games")
        assert "bullpen_data_age_seconds" in before
        # A source without rows has no age at all (live collectors never ran here).
        assert ("source", "odds_snapshots") not in {
            k[0] for k in before["bullpen_data_age_seconds"]
        }
        conns_before = sum(before["bullpen_postgres_connections"].values())

        # A newer game lowers the age; a quarantined record raises its count.
        conn.execute(
            "INSERT INTO games (season, game_date, away_team, home_team) "
            "VALUES (2019, '2019-06-01', 'NYY', 'BOS')"
        )
        conn.execute(
            "INSERT INTO quarantine (source, file, row_number, reason, raw) "
            "VALUES ('sbr', 'ops.csv', 7, 'moneyline typo', '{}')"
        )
        # Five archived 5xx answers in a row: the odds collector's breaker is open.
        for i in range(5):
            conn.execute(
                "INSERT INTO raw_payloads (source, request, fetched_at, http_status, headers,"
                " sha256, body_bytes, body_gzip) VALUES ('odds_api', %s, now(), 503, '{}',"
                " 'x', 0, '\\x00')",
                (f"/v4/sports?n={i}",),
            )
        with psycopg.connect(db) as extra:  # one more client backend while scraping
            extra.execute("SELECT 1")
            after = scrape(registry)
    assert value(after, "bullpen_data_age_seconds", source="games") < age_before - 30 * 86400 + 5
    assert value(after, "bullpen_quarantine_records", source="sbr", reason="moneyline typo") == 1
    assert value(after, "bullpen_collector_consecutive_failures", source="odds_api") == 5
    assert value(after, "bullpen_collector_circuit_state", source="odds_api", state="open") == 1
    assert sum(after["bullpen_postgres_connections"].values()) > conns_before
    assert "bullpen_model_alias_version" not in after or not after["bullpen_model_alias_version"]

    # Champion version and its recorded quality come from the registry.
    v1 = _register(registry_uri, tmp_path / "artifacts", 0.6652, 0.6635)
    first = scrape(registry)
    assert value(
        first, "bullpen_model_alias_version", model="bullpen-moneyline", alias="champion"
    ) == float(v1)
    gap = value(
        first,
        "bullpen_model_eval_log_loss_vs_close",
        model="bullpen-moneyline",
        alias="champion",
        eval_season="2019",
    )
    assert gap == pytest.approx(0.0017)
    v2 = _register(registry_uri, tmp_path / "artifacts", 0.6600, 0.6635)
    second = scrape(registry)
    assert value(
        second, "bullpen_model_alias_version", model="bullpen-moneyline", alias="champion"
    ) == float(v2)
    assert value(
        second,
        "bullpen_model_eval_log_loss",
        model="bullpen-moneyline",
        alias="champion",
        source="model",
        eval_season="2019",
    ) == pytest.approx(0.66)

    # Backups: the newest complete one's age and size.
    now = datetime.now(UTC)
    _put_backup(s3_server, now - timedelta(hours=5), 100)
    old = scrape(registry)
    assert value(old, "bullpen_backup_size_bytes") == 100
    assert 5 * 3600 - 60 < value(old, "bullpen_backup_age_seconds") < 5 * 3600 + 60
    _put_backup(s3_server, now - timedelta(minutes=2), 250)
    new = scrape(registry)
    assert value(new, "bullpen_backup_size_bytes") == 250
    assert value(new, "bullpen_backup_age_seconds") < 600
    assert value(new, "bullpen_backups", complete="true") == 2


def test_exporter_serves_metrics_and_healthz(
    bullpen_env: dict[str, str], registry_uri: str, tmp_path: Path
) -> None:
    targets = Targets(
        database_url=bullpen_env["BULLPEN_DATABASE_URL"],
        tracking_uri=registry_uri,
        disk_path=tmp_path,
    )
    from bullpen.ops import health

    def healthz() -> tuple[bool, list[dict[str, str]]]:
        checks = health.run_checks(targets)
        return health.is_healthy(checks), [c.as_dict() for c in checks]

    server = metrics.make_server(metrics.make_registry(targets), healthz, port=0)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"bullpen_data_age_seconds", "bullpen_host_disk_free_bytes"} <= names
        body = json.loads(urllib.request.urlopen(f"{base}/healthz", timeout=10).read())
        assert body["healthy"] is True
        assert {c["name"]: c["status"] for c in body["checks"]}["database"] == "ok"
    finally:
        server.shutdown()
        server.server_close()


def _health(env: dict[str, str]) -> tuple[int, dict]:
    done = subprocess.run(
        [BULLPEN, "health", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, json.loads(done.stdout)


def test_health_reports_database_down_then_up(registry_uri: str, tmp_path: Path) -> None:
    """A separate Postgres server (not the session one): stopped, then restarted."""
    pgdata = Path(f"/tmp/bp-h{uuid.uuid4().hex[:6]}")
    url = start_embedded(pgdata)
    try:
        from bullpen import runtime

        db = ensure_database(url, "bullpen")
        runtime.prepare_database(db)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("BULLPEN_", "PREFECT_API_URL"))
        }
        env.update(
            BULLPEN_HOME=str(tmp_path / "home"),
            BULLPEN_DATABASE_URL=db,
            BULLPEN_MLFLOW_TRACKING_URI=registry_uri,
        )
        code, report = _health(env)
        checks = {c["name"]: c for c in report["checks"]}
        assert code == 0, report
        assert checks["database"]["status"] == "ok"

        _register(registry_uri, tmp_path / "artifacts", 0.6652, 0.6635)  # a champion to show
        shown = subprocess.run(
            [BULLPEN, "status"], env=env, capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        assert "bullpen-moneyline@champion v" in shown.stdout  # the registry's alias
        assert "quarantined records: 0" in shown.stdout  # from the database under test

        assert stop_embedded(pgdata)
        code, report = _health(env)
        checks = {c["name"]: c for c in report["checks"]}
        assert code == 1 and report["healthy"] is False
        assert checks["database"]["status"] == "fail"
        assert "connection" in checks["database"]["reason"].lower()
        assert checks["freshness"]["status"] == "skip"

        start_embedded(pgdata)
        code, report = _health(env)
        assert code == 0, report
        assert {c["name"]: c["status"] for c in report["checks"]}["database"] == "ok"
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(pgdata, ignore_errors=True)


# -- a real Prefect server, prefect.yaml deployed, process workers ------------------------------

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
POOL = "bullpen-pool"


def _prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BULLPEN_", "PREFECT_", "MLFLOW_"))
    }
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        PREFECT_LOGGING_EXTRA_LOGGERS="bullpen",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`prefect server start` on a free port (SQLite under its own PREFECT_HOME), the work pool
    and every deployment of prefect.yaml. The scheduler is off so no scheduled run interferes."""
    home = tmp_path_factory.mktemp("prefect-server")
    env = _prefect_env(home)
    env["PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED"] = "false"
    with standalone_server(home, env) as running:
        cli = _prefect_env(home, running.api)
        _api(running.api, "POST", "work_pools/", json={"name": POOL, "type": "process"})
        deployed = subprocess.run(
            [PREFECT, "deploy", "--all"],
            cwd=REPO,
            env=cli,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        yield running.api, home


def _api(api: str, method: str, path: str, **kwargs: object) -> object:
    import httpx

    # Generous: the SQLite-backed test server has stalled for 30 s+ on a loaded machine.
    response = httpx.request(method, f"{api}/{path}", timeout=90, **kwargs)  # type: ignore[arg-type]
    response.raise_for_status()
    return response.json() if response.content else None


def _deployment_id(api: str, name: str) -> str:
    return _api(api, "GET", f"deployments/name/{name}")["id"]  # type: ignore[index]


def _create_run(api: str, deployment_id: str) -> str:
    return _api(api, "POST", f"deployments/{deployment_id}/create_flow_run", json={})["id"]  # type: ignore[index]


def _run_state(api: str, run_id: str) -> dict:
    return _api(api, "GET", f"flow_runs/{run_id}")  # type: ignore[return-value]


def _worker_env(home: Path, api: str, db_url: str, data_dir: Path, tag: str) -> dict[str, str]:
    env = _prefect_env(home, api)
    env.update(
        BULLPEN_DATABASE_URL=db_url,
        BULLPEN_DATA_DIR=str(data_dir),
        BULLPEN_HOME=str(home / f"bullpen-{tag}"),
    )
    return env


def _games(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return int(conn.execute("SELECT count(*) FROM games").fetchone()[0])  # type: ignore[index]


def test_deploy_all_and_two_workers_run_replay(
    prefect_api: tuple[str, Path], pg_server_url: str, tmp_path: Path
) -> None:
    """`prefect deploy --all` registered every deployment; `prefect deployment run
    collect-history/replay` is picked up by a worker, and a second worker process on the same
    pool picks up the next run."""
    api, home = prefect_api
    names = {d["name"] for d in _api(api, "POST", "deployments/filter", json={})}  # type: ignore[union-attr]
    assert {"replay", "weekly", "after-training", "nightly", "hourly", "daily"} <= names
    from tests.integration.conftest import stage_seasons

    db = ensure_database(pg_server_url, f"bullpen_w{uuid.uuid4().hex[:6]}")
    data = stage_seasons(tmp_path / "data", [2011])
    env = _worker_env(home, api, db, data, "w")
    cli = _prefect_env(home, api)

    ran = subprocess.run(
        [PREFECT, "deployment", "run", "collect-history/replay"],
        env=cli,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    first_id = _api(
        api, "POST", "flow_runs/filter", json={"limit": 1, "sort": "EXPECTED_START_TIME_DESC"}
    )[0]["id"]  # type: ignore[index]
    worker_a = subprocess.run(
        [PREFECT, "worker", "start", "--pool", POOL, "--name", "ops-a", "--run-once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    first = _run_state(api, first_id)
    assert first["state_type"] == "COMPLETED", worker_a.stdout[-3000:] + worker_a.stderr[-3000:]
    games = _games(db)
    assert games > 2000  # one season of real games

    second_id = _create_run(api, _deployment_id(api, "collect-history/replay"))
    worker_b = subprocess.run(
        [PREFECT, "worker", "start", "--pool", POOL, "--name", "ops-b", "--run-once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    second = _run_state(api, second_id)
    assert second["state_type"] == "COMPLETED", worker_b.stdout[-3000:] + worker_b.stderr[-3000:]
    assert second_id in worker_b.stdout + worker_b.stderr
    assert second_id not in worker_a.stdout + worker_a.stderr
    assert _games(db) == games  # the rerun is idempotent

    # The exporter reads those runs from the API.
    registry = metrics.make_registry(
        Targets(database_url=db, tracking_uri=None, disk_path=tmp_path, prefect_api_url=api)
    )
    scraped = scrape(registry)
    assert (
        value(scraped, "bullpen_flow_runs", deployment="collect-history/replay", state="COMPLETED")
        == 2
    )
    assert (
        value(
            scraped, "bullpen_deployment_consecutive_failures", deployment="collect-history/replay"
        )
        == 0
    )
    assert (
        value(
            scraped,
            "bullpen_flow_run_last_duration_seconds",
            deployment="collect-history/replay",
            state="COMPLETED",
        )
        > 0
    )


def _flow_run_processes(worker_pid: int, run_id: str) -> list[object]:
    import psutil

    found = []
    for child in psutil.Process(worker_pid).children(recursive=True):
        try:
            if child.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                found.append(child)
        except psutil.Error:
            continue
    return found


def _wait_for(predicate: object, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()  # type: ignore[operator]
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_crashed_run_is_rescheduled_once(
    prefect_api: tuple[str, Path], pg_server_url: str, tmp_path: Path
) -> None:
    """`bullpen automations apply`, then SIGKILL a flow run's process: the worker reports it
    Crashed, the automation sets it back to Scheduled, a worker runs it again to Completed."""
    api, home = prefect_api
    cli = _prefect_env(home, api)
    applied = subprocess.run(
        [BULLPEN, "automations", "apply", "--reschedule-after", "40"],
        env=cli,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "bullpen-reschedule-crashed: " in applied.stdout
    again = subprocess.run(
        [BULLPEN, "automations", "apply", "--reschedule-after", "40"],
        env=cli,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "bullpen-reschedule-crashed: updated" in again.stdout  # idempotent by name
    from tests.integration.conftest import stage_seasons

    db = ensure_database(pg_server_url, f"bullpen_c{uuid.uuid4().hex[:6]}")
    data = stage_seasons(tmp_path / "data", [2015, 2016])
    env = _worker_env(home, api, db, data, "c")
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", POOL, "--name", "ops-crash"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        # The exporter counts the pool's online worker (the silence alert fires on 0).
        watch = metrics.make_registry(Targets(None, None, tmp_path, prefect_api_url=api))
        pool_key = (("pool", POOL),)
        for _ in range(60):  # one scrape a second: each is five Prefect API calls
            if scrape(watch).get("bullpen_work_pool_online_workers", {}).get(pool_key, 0) >= 1:
                break
            time.sleep(1)
        else:
            raise AssertionError("the exporter never counted the worker online")
        run_id = _create_run(api, _deployment_id(api, "collect-history/replay"))
        _wait_for(lambda: _run_state(api, run_id)["state_type"] == "RUNNING", 180, "RUNNING")
        victims = _wait_for(lambda: _flow_run_processes(worker.pid, run_id), 10, "the process")
        for victim in victims:  # type: ignore[union-attr]
            victim.kill()  # SIGKILL: no chance to report anything itself
        try:
            _wait_for(lambda: _run_state(api, run_id)["state_type"] == "COMPLETED", 240, "rerun")
        finally:
            history = _api(api, "GET", "flow_run_states/", params={"flow_run_id": run_id})
            names = [h["name"] for h in history]  # type: ignore[union-attr]
            print("states:", names, "\nworker log:", (tmp_path / "worker.log").read_text()[-3000:])
        assert "Crashed" in names and "Rescheduled" in names, names
        assert names.index("Crashed") < names.index("Rescheduled") < len(names) - 1
        assert _run_state(api, run_id)["run_count"] == 2
        assert _games(db) > 4000  # both seasons, written once
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


def test_blocks_bootstrap_is_idempotent_and_runtime_reads_them(
    prefect_api: tuple[str, Path], pg_server_url: str, s3_server: s3.BackupTarget
) -> None:
    """`bullpen blocks bootstrap` saves the stock blocks from settings (twice: same result);
    with BULLPEN_* unset, runtime resolves the database and the backup bucket from them."""
    api, home = prefect_api
    db = ensure_database(pg_server_url, f"bullpen_b{uuid.uuid4().hex[:6]}")
    endpoint = s3_server.client.meta.endpoint_url
    env = _prefect_env(home, api)
    env.update(
        BULLPEN_DATABASE_URL=db,
        BULLPEN_S3_ENDPOINT_URL=endpoint,
        BULLPEN_S3_ACCESS_KEY_ID=S3_KEY,
        BULLPEN_S3_SECRET_ACCESS_KEY=S3_SECRET,
        BULLPEN_S3_BUCKET=s3_server.bucket,
        BULLPEN_ODDS_API_KEY="odds-key-for-test",
    )
    for _ in range(2):
        done = subprocess.run(
            [BULLPEN, "blocks", "bootstrap"], env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
        assert lines["bullpen-db"].startswith("saved")
        assert lines["bullpen-backups"].startswith("saved")
        assert lines["bullpen-odds-api-key"].startswith("saved")
        assert lines["bullpen-backup-key"] == "skipped: BULLPEN_BACKUP_KEY is unset"
    probe = (
        "from bullpen import runtime; from bullpen.backup import s3;"
        "from bullpen.ops import targets;"
        "t = runtime.backup_target(); f = targets.read_only_backup_target(runtime.get_settings());"
        "print(runtime.database_url()); print(t.bucket, f.bucket, len(s3.list_backups(f)));"
        "print(runtime.odds_api_key().get_secret_value())"
    )
    bare = _prefect_env(home, api)  # no BULLPEN_* at all: blocks only
    read = subprocess.run(
        [sys.executable, "-c", probe], env=bare, capture_output=True, text=True, timeout=180
    )
    assert read.returncode == 0, read.stderr[-3000:]
    url, buckets, key = read.stdout.splitlines()
    with psycopg.connect(url) as conn:  # the same database, reached through the block's URL
        assert conn.execute("SELECT current_database()").fetchone()[0] == urlparse(db).path.lstrip(
            "/"
        )  # type: ignore[index]
    assert buckets.split()[:2] == [s3_server.bucket, s3_server.bucket]
    assert key == "odds-key-for-test"


def test_a_deployment_failing_repeatedly_is_paused_and_announced(
    prefect_api: tuple[str, Path], tmp_path: Path
) -> None:
    """With `--failures 2`, two failed runs of one deployment pause it, and the automation's
    webhook posts `bullpen.deployment.paused` for that deployment to the Prefect API."""
    api, home = prefect_api
    cli = _prefect_env(home, api)
    applied = subprocess.run(
        [BULLPEN, "automations", "apply", "--failures", "2", "--reschedule-after", "40"],
        env=cli,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    deployment_id = _deployment_id(api, "collect-games/daily")
    assert _api(api, "GET", f"deployments/{deployment_id}")["paused"] is False  # type: ignore[index]

    # A database nobody listens on: each run fails at its first task, a real failure.
    nowhere = f"postgresql://postgres@127.0.0.1:{local_s3.free_port()}/bullpen"
    env = _worker_env(home, api, nowhere, tmp_path / "data", "p")
    for attempt in range(2):
        run_id = _create_run(api, deployment_id)
        worker = subprocess.run(
            [PREFECT, "worker", "start", "--pool", POOL, "--name", f"ops-fail-{attempt}"]
            + ["--run-once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        state = _run_state(api, run_id)["state_type"]
        assert state == "FAILED", worker.stdout[-3000:] + worker.stderr[-3000:]

    _wait_for(
        lambda: _api(api, "GET", f"deployments/{deployment_id}")["paused"],  # type: ignore[index]
        60,
        "the deployment to be paused",
    )

    def paused_events() -> list[dict]:
        found = _api(
            api,
            "POST",
            "events/filter",
            json={"filter": {"event": {"name": ["bullpen.deployment.paused"]}}, "limit": 50},
        )
        return [
            e
            for e in found["events"]  # type: ignore[index]
            if e["resource"]["prefect.resource.id"] == f"prefect.deployment.{deployment_id}"
        ]

    events = _wait_for(paused_events, 60, "the bullpen.deployment.paused event")
    assert "too many failed runs" in events[0]["payload"]["reason"]  # type: ignore[index]


def test_hyperopt_runs_add_trials_to_one_study_from_two_workers(
    prefect_api: tuple[str, Path], pg_server_url: str, tmp_path: Path
) -> None:
    """`bullpen hyperopt run --runs 2` submits two optimize-models runs; two workers (limit one
    run each) take one each, both add trials to the one Optuna study in Postgres, and a third
    run publishes its best."""
    from bullpen import runtime
    from bullpen.collect.history import replay
    from bullpen.db.urls import sqlalchemy_url
    from tests.integration.conftest import stage_seasons

    api, home = prefect_api
    db = ensure_database(pg_server_url, f"bullpen_h{uuid.uuid4().hex[:6]}")
    mlflow_db = ensure_database(pg_server_url, f"mlflow_h{uuid.uuid4().hex[:6]}")
    data = stage_seasons(tmp_path / "data", [2012, 2013, 2014, 2015])
    runtime.prepare_database(db)
    for files in replay.find_season_files(data):
        replay.replay_season(db, files)
    env = _worker_env(home, api, db, data, "h")
    env.update(
        BULLPEN_MLFLOW_TRACKING_URI=sqlalchemy_url(mlflow_db),
        PREFECT_WORKER_QUERY_SECONDS="2",
    )
    workers, logs = [], []
    try:
        for name in ("hyperopt-a", "hyperopt-b"):
            logs.append((tmp_path / f"{name}.log").open("wb"))
            workers.append(
                subprocess.Popen(
                    [PREFECT, "worker", "start", "--pool", POOL, "--name", name, "--limit", "1"],
                    env=env,
                    stdout=logs[-1],
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            )
        done = subprocess.run(
            [BULLPEN, "hyperopt", "run", "--model", "moneyline", "--trials", "4", "--runs", "2",
             "--workers", "1", "--folds", "1", "--eval-season", "2016", "--seed", "3",
             "--timeout", "600", "--json"],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        worker_logs = "".join(
            (tmp_path / f"hyperopt-{n}.log").read_text()[-2000:] for n in ("a", "b")
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + worker_logs
        result = json.loads(done.stdout[done.stdout.index("{") :])
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        for log in logs:
            log.close()
    assert {run["worker"] for run in result["runs"]} == {"hyperopt-a", "hyperopt-b"}
    assert {run["state"] for run in result["runs"]} == {"COMPLETED"}
    assert sorted(result["trials_by_run"]) == sorted(run["id"] for run in result["runs"])
    assert list(result["trials_by_run"].values()) == [2, 2]
    assert result["trials"] == 4 and result["trials_per_minute"] > 0
    assert sum(result["trials_by_host"].values()) == 4
    from bullpen.models.tuning import search

    with search.open_study(search.optuna_storage_url(db), result["study"]) as study:
        runs = {t.user_attrs.get("run") for t in study.get_trials(deepcopy=False)}
    assert set(result["trials_by_run"]) <= runs  # the two runs' trials live in one study
