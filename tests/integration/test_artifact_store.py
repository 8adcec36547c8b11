"""One artifact store for every host: MLflow artifacts in S3 (BULLPEN_ARTIFACT_ROOT=s3://...)
on a real S3-protocol server (`rclone serve s3`, signatures checked), real PostgreSQL for the
tracking store, each "host" a separate process with its own BULLPEN_HOME and working folder."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from bullpen import runtime
from bullpen.backup import archive, dump, local_s3, s3
from bullpen.backup.artifacts import S3Artifacts, delete_all
from bullpen.collect.history import replay
from bullpen.config import get_settings
from bullpen.db import urls
from bullpen.features.dataset import load_feature_frame
from bullpen.models import assess, mlflow_store, train
from bullpen.models.predict import predict_booster
from bullpen.ops import prefect_process
from tests.integration.artifact_host import EVAL_SEASON
from tests.integration.conftest import stage_seasons

REPO = Path(__file__).resolve().parents[2]
BUCKET = "bullpen-mlflow-test"
PREFIX = "artifacts"
# Variables this module sets in its own process (directly or through runtime), put back after.
TOUCHED = (
    "BULLPEN_ARTIFACT_ROOT",
    "BULLPEN_S3_ENDPOINT_URL",
    "BULLPEN_S3_ACCESS_KEY_ID",
    "BULLPEN_S3_SECRET_ACCESS_KEY",
    "BULLPEN_S3_BUCKET",
    "BULLPEN_BACKUP_KEY",
    "MLFLOW_S3_ENDPOINT_URL",
    "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
)


@pytest.fixture(scope="module")
def store(
    bullpen_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A real S3 server holding the artifact bucket (and the backups), wired in through
    BULLPEN_ARTIFACT_ROOT and BULLPEN_S3_* only."""
    root = tmp_path_factory.mktemp("artifact-s3")
    access, secret = f"bp-{secrets.token_hex(6)}", secrets.token_hex(20)
    server = local_s3.start_local_s3(root / "data", access, secret)
    client = s3.make_client(
        server.endpoint_url, "us-east-1", access_key_id=access, secret_access_key=secret
    )
    client.create_bucket(Bucket=BUCKET)
    env = {
        "BULLPEN_ARTIFACT_ROOT": f"s3://{BUCKET}/{PREFIX}",
        "BULLPEN_S3_ENDPOINT_URL": server.endpoint_url,
        "BULLPEN_S3_ACCESS_KEY_ID": access,
        "BULLPEN_S3_SECRET_ACCESS_KEY": secret,
        "BULLPEN_S3_BUCKET": "bullpen-test-backups",
        "BULLPEN_BACKUP_KEY": archive.generate_key(),
    }
    saved = {key: os.environ.get(key) for key in TOUCHED}
    os.environ.update(env)
    get_settings.cache_clear()
    yield {**bullpen_env, **env, "client": client, "hosts": root / "hosts"}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    server.stop()


def host(name: str, command: str, env: dict[str, Any], **override: str) -> dict[str, Any]:
    """Run one artifact_host command as a separate "host": its own BULLPEN_HOME and working
    folder, and only the BULLPEN_* settings a worker elsewhere would have (no MLflow or AWS
    variables inherited from this process)."""
    home = Path(env["hosts"]) / name
    home.mkdir(parents=True, exist_ok=True)
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("BULLPEN_", "MLFLOW_", "AWS_"))
    }
    settings = {
        "BULLPEN_HOME": str(home),
        "BULLPEN_DATABASE_URL": env["BULLPEN_DATABASE_URL"],
        "BULLPEN_MLFLOW_TRACKING_URI": env["BULLPEN_MLFLOW_TRACKING_URI"],
        "BULLPEN_ARTIFACT_ROOT": env["BULLPEN_ARTIFACT_ROOT"],
        "BULLPEN_S3_ENDPOINT_URL": env["BULLPEN_S3_ENDPOINT_URL"],
        "BULLPEN_S3_ACCESS_KEY_ID": env["BULLPEN_S3_ACCESS_KEY_ID"],
        "BULLPEN_S3_SECRET_ACCESS_KEY": env["BULLPEN_S3_SECRET_ACCESS_KEY"],
        **override,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.artifact_host", command],
        env={**clean, **settings, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert env["BULLPEN_S3_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _objects(client: Any, prefix: str = PREFIX) -> dict[str, int]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")
    return {o["Key"]: int(o["Size"]) for o in listed.get("Contents", [])}


def _eval_games(database_url: str) -> Any:
    frame = load_feature_frame(database_url, "shin")
    return assess.comparable_games(frame[frame["season"] == EVAL_SEASON], train.MONEYLINE)


@pytest.fixture(scope="module")
def trained(store: dict[str, Any]) -> dict[str, Any]:
    """Three real seasons in the shared database; host-a trains and registers the champion."""
    data_dir = stage_seasons(Path(store["BULLPEN_DATA_DIR"]), [2016, 2017, EVAL_SEASON])
    for files in replay.find_season_files(data_dir):
        replay.replay_season(store["BULLPEN_DATABASE_URL"], files)
    return host("host-a", "train", store)


def test_model_trained_on_one_host_loads_on_another(
    store: dict[str, Any], trained: dict[str, Any]
) -> None:
    assert trained["promoted"]
    assert trained["experiment_location"] == f"s3://{BUCKET}/{PREFIX}"
    writer_home = Path(store["hosts"]) / "host-a"
    assert not (writer_home / "mlartifacts").exists()
    shutil.rmtree(writer_home)  # nothing host-a had on disk can help host-b

    loaded = host("host-b", "predict", store)

    assert loaded["version"] == trained["version"]
    assert len(loaded["p"]) > 2000
    np.testing.assert_allclose(loaded["p"], trained["p"], rtol=0, atol=1e-12)
    assert not (Path(store["hosts"]) / "host-b" / "mlartifacts").exists()
    # The bytes are in the bucket: the model file read straight from S3 predicts the same.
    objects = _objects(store["client"])
    model_keys = [k for k in objects if k.endswith("/model.lgb")]
    assert len(model_keys) == 1, sorted(objects)
    body = store["client"].get_object(Bucket=BUCKET, Key=model_keys[0])["Body"].read()
    booster = lgb.Booster(model_str=body.decode())
    version = mlflow_store.get_alias_version(
        runtime.mlflow_tracking_uri(), train.MONEYLINE.registered_name, mlflow_store.CHAMPION
    )
    assert version is not None
    direct = predict_booster(
        booster, _eval_games(store["BULLPEN_DATABASE_URL"]), mlflow_store.base_margin_of(version)
    )
    np.testing.assert_allclose(direct, trained["p"], rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def backed_up(store: dict[str, Any], trained: dict[str, Any], prefect_server: None) -> dict:
    """One backup by the `backup` flow with the artifacts in S3, and what the prefix held."""
    before = _objects(store["client"])
    started = time.perf_counter()
    made = prefect_process.load_flow("backup.py:backup")(kind="nightly")  # type: ignore[operator]
    return {**made, "objects": before, "seconds": time.perf_counter() - started}


def test_backup_then_wiped_bucket_then_restore_loads_the_model(
    store: dict[str, Any], trained: dict[str, Any], backed_up: dict[str, Any]
) -> None:
    client = store["client"]
    made, before, backup_seconds = backed_up, backed_up["objects"], backed_up["seconds"]
    target = runtime.backup_target()
    manifest = json.loads(s3.download_manifest(target, made["id"]))
    assert manifest["artifacts"]["root"] == f"s3://{BUCKET}/{PREFIX}"
    assert manifest["artifacts"]["files"] == len(before)
    assert manifest["artifacts"]["bytes"] == sum(before.values())
    members = {m["name"] for m in manifest["members"]}
    assert {f"artifacts/{k.removeprefix(PREFIX + '/')}" for k in before} <= members

    # Disaster: every artifact object is gone; the champion can no longer load anywhere.
    assert delete_all(S3Artifacts(client, BUCKET, PREFIX)) == len(before)
    assert _objects(client) == {}
    with pytest.raises(AssertionError):
        host("host-c", "predict", store)

    live = store["BULLPEN_DATABASE_URL"]
    tag = uuid.uuid4().hex[:8]
    restored_url = urls.with_database(live, f"restored_{tag}")
    restored_mlflow = urls.with_database(live, f"restored_mlflow_{tag}")
    started = time.perf_counter()
    report = prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
        backup_id=made["id"],
        target_url=restored_url,
        mlflow_target_url=restored_mlflow,
        artifact_dir=f"s3://{BUCKET}/{PREFIX}",
    )
    print(
        f"S3 artifact store: {len(before)} objects, {sum(before.values())} bytes; backup "
        f"{backup_seconds:.1f} s ({made['payload_bytes']} bytes encrypted), restore "
        f"{time.perf_counter() - started:.1f} s"
    )

    assert report["artifact_files"] == len(before)
    assert report["relocated_uris"] == 0  # restored where it was: every URI still holds
    assert _objects(client) == before
    loaded = host(
        "host-d",
        "predict",
        store,
        BULLPEN_DATABASE_URL=restored_url,
        BULLPEN_MLFLOW_TRACKING_URI=urls.sqlalchemy_url(restored_mlflow),
    )
    np.testing.assert_allclose(loaded["p"], trained["p"], rtol=0, atol=1e-12)
    for url in (restored_url, restored_mlflow):
        dump.drop_database(url)

    # A scratch verify restores the S3 artifacts into a local folder and loads from there.
    verified = prefect_process.load_flow("backup.py:verify_backup")(backup_id=made["id"])  # type: ignore[operator]
    assert verified["models_loaded"] == [f"bullpen-moneyline@champion=v{trained['version']}"]
    assert verified["relocated_uris"] > 0


def test_restore_into_a_prefix_that_is_not_empty_is_refused(
    store: dict[str, Any], backed_up: dict[str, Any]
) -> None:
    backup_id = backed_up["id"]
    assert _objects(store["client"])  # the live root holds the artifacts
    live = store["BULLPEN_DATABASE_URL"]
    tag = uuid.uuid4().hex[:8]
    with pytest.raises(Exception, match="not empty"):
        prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
            backup_id=backup_id,
            target_url=urls.with_database(live, f"refused_{tag}"),
            artifact_dir=f"s3://{BUCKET}/{PREFIX}",
        )
    assert not dump.database_exists(live, f"refused_{tag}")


def test_local_experiment_is_set_aside_when_the_root_becomes_s3(
    store: dict[str, Any], tmp_path: Path
) -> None:
    uri = runtime.mlflow_tracking_uri()
    old = mlflow_store.ensure_experiment(uri, "switched", tmp_path / "mlartifacts")

    new = mlflow_store.ensure_experiment(uri, "switched", get_settings().artifact_root)

    client = mlflow_store.client(uri)
    assert new != old
    assert client.get_experiment(new).artifact_location == f"s3://{BUCKET}/{PREFIX}"
    assert client.get_experiment(old).name == f"switched.local-{old}"
    assert mlflow_store.ensure_experiment(uri, "switched", get_settings().artifact_root) == new


def test_model_in_another_hosts_folder_fails_with_a_clear_error(
    store: dict[str, Any], trained: dict[str, Any], tmp_path: Path
) -> None:
    uri = runtime.mlflow_tracking_uri()
    booster = mlflow_store.load_booster(uri, f"models:/{train.MONEYLINE.registered_name}@champion")
    folder = tmp_path / "other-host" / "mlartifacts"
    experiment = mlflow_store.ensure_experiment(uri, "one-host-only", folder)
    run_id, model_uri = mlflow_store.log_training_run(
        tracking_uri=uri,
        experiment_id=experiment,
        run_name="local",
        booster=booster,
        params={},
        metrics={},
        tags={},
        artifacts=[],
    )
    version = mlflow_store.register_version(uri, "artifact-store-local", model_uri, run_id, {})
    shutil.rmtree(folder)  # what another host sees: no such folder

    with pytest.raises(mlflow_store.ArtifactStoreError, match="cannot read") as raised:
        mlflow_store.load_booster(uri, f"models:/artifact-store-local/{version.version}")
    assert folder.as_uri() in str(raised.value)


def test_folder_of_earlier_artifacts_moves_into_s3_and_its_models_load_from_there(
    store: dict[str, Any], trained: dict[str, Any], tmp_path: Path
) -> None:
    """What `make up` does once for a home that used the file:// root before."""
    from bullpen.backup import migrate

    uri = runtime.mlflow_tracking_uri()
    booster = mlflow_store.load_booster(uri, f"models:/{train.MONEYLINE.registered_name}@champion")
    folder = tmp_path / "home" / "mlartifacts"
    experiment = mlflow_store.ensure_experiment(uri, "before-the-switch", folder)
    run_id, model_uri = mlflow_store.log_training_run(
        tracking_uri=uri,
        experiment_id=experiment,
        run_name="earlier",
        booster=booster,
        params={},
        metrics={},
        tags={},
        artifacts=[],
    )
    version = mlflow_store.register_version(uri, "artifact-store-earlier", model_uri, run_id, {})
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    target = S3Artifacts(store["client"], BUCKET, "migrated")

    moved = migrate.folder_to_s3(folder, target, dump.libpq_url(uri))

    assert moved is not None and moved.files == len(files) > 0
    assert not folder.exists() and moved.kept.is_dir()  # renamed, kept
    assert len(_objects(store["client"], "migrated")) == len(files)
    client = mlflow_store.client(uri)
    assert (
        client.get_experiment(experiment).artifact_location == "s3://bullpen-mlflow-test/migrated"
    )
    assert client.get_run(run_id).info.artifact_uri.startswith("s3://bullpen-mlflow-test/migrated/")
    again = mlflow_store.load_booster(uri, f"models:/artifact-store-earlier/{version.version}")
    assert again.model_to_string() == booster.model_to_string()
    assert migrate.folder_to_s3(folder, target, dump.libpq_url(uri)) is None  # done once


def test_report_goes_to_the_store_not_the_workers_disk(
    store: dict[str, Any], tmp_path: Path
) -> None:
    """What flows/backtest.py does with its HTML report (the Prefect link artifact names it)."""
    report = tmp_path / "opener_2018.html"
    report.write_text("<html><body><table><tr><td>report</td></tr></table></body></html>")

    uri = mlflow_store.log_report(
        runtime.mlflow_tracking_uri(),
        get_settings().artifact_root,
        report,
        "backtest-2018",
        {"bullpen.eval_season": "2018"},
    )

    assert uri.startswith(f"s3://{BUCKET}/{PREFIX}/") and uri.endswith("/opener_2018.html")
    key = uri.removeprefix(f"s3://{BUCKET}/")
    body = store["client"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == report.read_bytes()


def test_switch_to_a_restore_under_another_prefix_keeps_every_artifact_in_the_live_root(
    store: dict[str, Any], trained: dict[str, Any], backed_up: dict[str, Any]
) -> None:
    """Last in this module: the switch makes the restored databases the live ones."""
    client = store["client"]
    backup_id = backed_up["id"]
    live = store["BULLPEN_DATABASE_URL"]
    tag = uuid.uuid4().hex[:8]
    restored_prefix = f"restores/{backup_id}"
    # The live root lacks the champion's file: the switch must copy it from the restore.
    model_key = next(k for k in _objects(client) if k.endswith("/model.lgb"))
    client.delete_object(Bucket=BUCKET, Key=model_key)

    report = prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
        backup_id=backup_id, target_url=urls.with_database(live, f"switch_{tag}"), switch=True
    )

    # Restored under the default prefix, then merged into the live root the registry now names.
    assert report["artifact_dir"] == f"s3://{BUCKET}/{restored_prefix}"
    assert report["switched"][f"s3://{BUCKET}/{restored_prefix}"] == f"s3://{BUCKET}/{PREFIX}"
    restored = _objects(client, restored_prefix)
    assert len(restored) == report["artifact_files"] > 0
    assert model_key in _objects(client)
    assert delete_all(S3Artifacts(client, BUCKET, restored_prefix)) == len(restored)
    uri = runtime.mlflow_tracking_uri()
    version = mlflow_store.get_alias_version(
        uri, train.MONEYLINE.registered_name, mlflow_store.CHAMPION
    )
    assert version is not None
    assert (
        mlflow_store.client(uri)
        .get_model_version_download_uri(version.name, version.version)
        .startswith(f"s3://{BUCKET}/{PREFIX}/")
    )
    loaded = host("host-e", "predict", store)
    np.testing.assert_allclose(loaded["p"], trained["p"], rtol=0, atol=1e-12)
    for kept in [name for name in report["switched"].values() if "_before_" in name]:
        dump.drop_database(urls.with_database(live, kept))
