"""Backup and restore against real PostgreSQL, a real S3-protocol server (`rclone serve s3`,
signatures checked), the Prefect test server and a real MLflow registry."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bullpen import prefect_blocks, runtime
from bullpen.backup import archive, dump, local_s3, s3, snapshot
from bullpen.backup import manifest as manifest_mod
from bullpen.backup.errors import (
    AuthenticityError,
    BackupError,
    BackupUnavailableError,
    IntegrityError,
    RestoreMismatchError,
    WrongKeyError,
)
from bullpen.backup.retention import RetentionPolicy
from bullpen.collect.history import replay
from bullpen.config import get_settings
from bullpen.db import engine, urls
from bullpen.features.dataset import load_feature_frame
from bullpen.models import assess, mlflow_store, train
from bullpen.models.predict import predict_with_alias
from bullpen.ops import prefect_process
from bullpen.registry import champion
from tests.integration.conftest import stage_seasons

TRAIN_SEASONS = [2016, 2017]
EVAL_SEASON = 2018


def _set_env(values: dict[str, str]) -> dict[str, str | None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    return saved


def _reset_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def s3_env(
    bullpen_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """A real S3-protocol server on 127.0.0.1 with fresh keys, and a fresh backup key."""
    root = tmp_path_factory.mktemp("s3")
    access, secret = f"bp-{secrets.token_hex(6)}", secrets.token_hex(20)
    server = local_s3.start_local_s3(root / "data", access, secret)
    env = {
        "BULLPEN_S3_ENDPOINT_URL": server.endpoint_url,
        "BULLPEN_S3_ACCESS_KEY_ID": access,
        "BULLPEN_S3_SECRET_ACCESS_KEY": secret,
        "BULLPEN_S3_BUCKET": "bullpen-test-backups",
        "BULLPEN_BACKUP_KEY": archive.generate_key(),
    }
    saved = _set_env(env)
    yield {**bullpen_env, **env, "S3_ROOT": str(root / "data")}
    _reset_env(saved)
    server.stop()


def _champion_probabilities(database_url: str, tracking_uri: str) -> np.ndarray:
    frame = load_feature_frame(database_url, "shin")
    games = assess.comparable_games(frame[frame["season"] == EVAL_SEASON], train.MONEYLINE)
    probabilities, _ = predict_with_alias(tracking_uri, train.MONEYLINE, games)
    return probabilities


@pytest.fixture(scope="module")
def loaded(s3_env: dict[str, str]) -> dict[str, Any]:
    """Three real seasons replayed, a moneyline model trained, registered and made champion."""
    url, uri = s3_env["BULLPEN_DATABASE_URL"], s3_env["BULLPEN_MLFLOW_TRACKING_URI"]
    data_dir = stage_seasons(Path(s3_env["BULLPEN_DATA_DIR"]), [*TRAIN_SEASONS, EVAL_SEASON])
    for files in replay.find_season_files(data_dir):
        replay.replay_season(url, files)
    frame = load_feature_frame(url, "shin")
    history = frame[frame["season"] < EVAL_SEASON]
    fitted = train.train_model(history, train.MONEYLINE)
    games = assess.comparable_games(frame[frame["season"] == EVAL_SEASON], train.MONEYLINE)
    evaluation = assess.evaluate_season(
        games,
        train.MONEYLINE,
        fitted.predict(games),
        assess.base_rate(history, train.MONEYLINE),
        EVAL_SEASON,
    )
    with engine.connect(url) as conn:  # receives the promotion's audit row
        registration = champion.register_and_decide(
            conn,
            tracking_uri=uri,
            experiment_id=mlflow_store.ensure_experiment(
                uri, "backup-tests", get_settings().artifact_root
            ),
            model=fitted,
            evaluation=evaluation,
            eval_games=games,
            fingerprint=train.training_fingerprint(history, train.MONEYLINE, fitted.params),
        )
    assert registration.decision.promote
    return {**s3_env, "champion_version": registration.version}


@pytest.fixture(scope="module")
def good_backup(loaded: dict[str, Any], prefect_server: None) -> dict[str, Any]:
    """One backup taken by the `backup` flow, as the nightly deployment runs it."""
    return prefect_process.load_flow("backup.py:backup")(kind="nightly")  # type: ignore[operator]


def _checks(env: dict[str, Any]) -> dict[str, Any]:
    mlflow_url = dump.libpq_url(env["BULLPEN_MLFLOW_TRACKING_URI"])
    return {url: dump.database_checks(url) for url in (env["BULLPEN_DATABASE_URL"], mlflow_url)}


def test_backup_drop_everything_restore_is_identical(
    loaded: dict[str, Any], good_backup: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    bullpen_url = loaded["BULLPEN_DATABASE_URL"]
    mlflow_url = dump.libpq_url(loaded["BULLPEN_MLFLOW_TRACKING_URI"])
    artifact_root = get_settings().artifact_dir
    assert artifact_root is not None
    before = _checks(loaded)
    p_before = _champion_probabilities(bullpen_url, loaded["BULLPEN_MLFLOW_TRACKING_URI"])
    target = runtime.backup_target()

    assert good_backup["id"] in [
        b.id for b in s3.list_backups(target, runtime.backup_key()) if b.complete
    ]
    assert good_backup["payload_bytes"] < good_backup["plain_bytes"] < good_backup["database_bytes"]
    raw_manifest = s3.download_manifest(target, good_backup["id"])
    manifest = json.loads(raw_manifest)
    assert manifest["databases"]["bullpen"]["tables"]["public.games"]["rows"] > 7000
    assert manifest["models"] == [
        {"name": "bullpen-moneyline", "alias": "champion", "version": loaded["champion_version"]}
    ]
    assert manifest["versions"]["pg_dump"].split(".")[0] == "18"
    for secret in (loaded["BULLPEN_BACKUP_KEY"], loaded["BULLPEN_S3_SECRET_ACCESS_KEY"]):
        assert secret.encode() not in raw_manifest
        assert secret not in caplog.text

    # Disaster: both databases and every artifact are gone.
    for url in (bullpen_url, mlflow_url):
        dump.drop_database(url)
        assert not dump.database_exists(url, dump.database_name(url))
    shutil.rmtree(artifact_root)

    report = prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
        backup_id=good_backup["id"],
        target_url=bullpen_url,
        mlflow_target_url=mlflow_url,
        artifact_dir=str(artifact_root),
    )

    assert report["relocated_uris"] == 0
    assert report["tables_checked"] == sum(len(tables) for tables, _ in before.values())
    assert _checks(loaded) == before
    p_after = _champion_probabilities(bullpen_url, loaded["BULLPEN_MLFLOW_TRACKING_URI"])
    assert len(p_after) > 2000
    np.testing.assert_array_equal(p_after, p_before)


def _flip_middle_byte(data: bytes) -> bytes:
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    return bytes(flipped)


def _forge_manifest(raw: bytes, payload: bytes) -> bytes:
    """What an attacker without the key can do: make the manifest match a modified payload."""
    import hashlib

    body = json.loads(raw)
    body["payload"].update(sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload))
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("flip one byte", IntegrityError, "SHA-256 mismatch"),
        ("truncate upload", IntegrityError, "truncated"),
        ("wrong key", WrongKeyError, "another key"),
        ("forge manifest", AuthenticityError, "HMAC"),
    ],
)
def test_damaged_backup_is_refused_before_any_restore(
    loaded: dict[str, Any],
    good_backup: dict[str, Any],
    damage: str,
    error: type[Exception],
    message: str,
) -> None:
    target = runtime.backup_target()
    backup_id = good_backup["id"]
    payload_key, manifest_key = (
        target.key(backup_id, s3.PAYLOAD),
        target.key(backup_id, s3.MANIFEST),
    )
    payload = target.client.get_object(Bucket=target.bucket, Key=payload_key)["Body"].read()
    raw_manifest = s3.download_manifest(target, backup_id)
    tag = uuid.uuid4().hex[:8]
    restore_url = urls.with_database(loaded["BULLPEN_DATABASE_URL"], f"restored_{tag}")
    artifact_dir = Path(loaded["BULLPEN_HOME"]) / f"restored-{tag}"

    saved: dict[str, str | None] = {}
    if damage == "flip one byte":
        target.client.put_object(
            Bucket=target.bucket, Key=payload_key, Body=_flip_middle_byte(payload)
        )
    elif damage == "truncate upload":
        target.client.put_object(
            Bucket=target.bucket, Key=payload_key, Body=payload[: len(payload) // 2]
        )
    elif damage == "wrong key":
        saved = _set_env({"BULLPEN_BACKUP_KEY": archive.generate_key()})
    else:
        forged = _flip_middle_byte(payload)
        target.client.put_object(Bucket=target.bucket, Key=payload_key, Body=forged)
        body = _forge_manifest(raw_manifest, forged)
        target.client.put_object(Bucket=target.bucket, Key=manifest_key, Body=body)
    try:
        with pytest.raises(error, match=message) as refused:
            prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
                backup_id=backup_id, target_url=restore_url, artifact_dir=str(artifact_dir)
            )
    finally:
        _reset_env(saved)
        target.client.put_object(Bucket=target.bucket, Key=payload_key, Body=payload)
        target.client.put_object(Bucket=target.bucket, Key=manifest_key, Body=raw_manifest)

    assert "nothing was restored" in str(refused.value)
    for name in (f"restored_{tag}", f"restored_{tag}_mlflow"):
        assert not dump.database_exists(restore_url, name)
    assert not artifact_dir.exists()


def test_restore_that_differs_from_the_manifest_is_rolled_back(
    loaded: dict[str, Any], good_backup: dict[str, Any]
) -> None:
    """A manifest signed with the right key but recording other content (as a dump that lost
    rows would): the restored copy is compared, found different, and dropped again."""
    target = runtime.backup_target()
    backup_id, key = good_backup["id"], runtime.backup_key()
    manifest_key = target.key(backup_id, s3.MANIFEST)
    raw = s3.download_manifest(target, backup_id)
    recorded = manifest_mod.open_manifest(raw, key, backup_id)
    recorded.databases["bullpen"].tables["public.odds"].rows += 1
    lying = manifest_mod.sign(recorded, key).to_bytes()
    target.client.put_object(Bucket=target.bucket, Key=manifest_key, Body=lying)
    tag = uuid.uuid4().hex[:8]
    restore_url = urls.with_database(loaded["BULLPEN_DATABASE_URL"], f"differs_{tag}")
    try:
        with pytest.raises(RestoreMismatchError, match=r"public.odds: \d+ rows, backup had"):
            prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
                backup_id=backup_id, target_url=restore_url
            )
    finally:
        target.client.put_object(Bucket=target.bucket, Key=manifest_key, Body=raw)

    for name in (f"differs_{tag}", f"differs_{tag}_mlflow"):
        assert not dump.database_exists(restore_url, name)


def _flow_task_runs(flow_run_id: object) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )


@pytest.fixture
def second_s3(loaded: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Another S3 server (same keys) that a test can stop and restart on the same port."""
    keys = (loaded["BULLPEN_S3_ACCESS_KEY_ID"], loaded["BULLPEN_S3_SECRET_ACCESS_KEY"])
    port = local_s3.free_port()
    servers = [local_s3.start_local_s3(tmp_path / "data", *keys, port=port)]
    saved = _set_env({"BULLPEN_S3_ENDPOINT_URL": servers[0].endpoint_url})

    def restart() -> None:
        servers.append(local_s3.start_local_s3(tmp_path / "data", *keys, port=port))

    yield {"server": servers[0], "restart": restart}
    for server in servers:
        server.stop()
    _reset_env(saved)


def test_s3_down_during_upload_retries_then_fails_cleanly(
    loaded: dict[str, Any], prefect_server: None, second_s3: dict[str, Any]
) -> None:
    target = runtime.backup_target()
    s3.ensure_bucket(target)
    second_s3["server"].stop()  # S3 becomes unreachable before the upload

    state = prefect_process.load_flow("backup.py:backup")(  # type: ignore[operator]
        kind="hourly", upload_retry_delays=(0.5, 0.5), return_state=True
    )

    assert state.is_failed()
    runs = {run.name: run for run in _flow_task_runs(state.state_details.flow_run_id)}
    upload = next(run for name, run in runs.items() if name.startswith("upload-backup-"))
    assert upload.run_count == 3 and upload.state.is_failed()
    assert not any(name.startswith("apply_retention") for name in runs)
    assert list((Path(loaded["BULLPEN_HOME"]) / "backup-work").iterdir()) == []

    second_s3["restart"]()
    assert [b for b in s3.list_backups(runtime.backup_target()) if b.complete] == []
    with pytest.raises(BackupUnavailableError):
        s3.latest_verified(runtime.backup_target(), runtime.backup_key())


def test_upload_cut_before_the_manifest_is_never_listed_as_good(
    loaded: dict[str, Any], second_s3: dict[str, Any], tmp_path: Path
) -> None:
    settings = get_settings()
    created = snapshot.create_backup(
        runtime.backup_sources(settings),
        runtime.backup_key(settings),
        tmp_path / "w",
        kind="hourly",
    )
    target = runtime.backup_target()

    def s3_dies_before_manifest(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith(s3.MANIFEST):
            second_s3["server"].stop()

    target.client.meta.events.register(
        "before-parameter-build.s3.PutObject", s3_dies_before_manifest
    )
    with pytest.raises(Exception) as failed:
        s3.upload_backup(target, created.id, created.payload, created.manifest)
    assert s3.is_transient(failed.value)

    second_s3["restart"]()
    target = runtime.backup_target()
    [partial] = s3.list_backups(target)
    assert partial.id == created.id and partial.payload_bytes == created.payload_bytes
    assert partial.complete is False
    with pytest.raises(BackupUnavailableError, match="never finished"):
        s3.download_manifest(target, created.id)
    with pytest.raises(BackupError, match="not complete"):
        s3.apply_retention(
            target, runtime.backup_key(), RetentionPolicy(0, 0, 0, 0), datetime.now(UTC), created.id
        )
    assert [b.id for b in s3.list_backups(target)] == [created.id]  # retention deleted nothing


def test_large_payload_uploads_in_parts_and_downloads_intact(
    loaded: dict[str, Any], tmp_path: Path
) -> None:
    source = runtime.backup_target()
    target = s3.BackupTarget(source.client, source.bucket, f"multipart-{uuid.uuid4().hex[:6]}")
    payload = tmp_path / s3.PAYLOAD
    payload.write_bytes(os.urandom(2 * s3.MULTIPART_BYTES + 12345))
    parts: list[int] = []
    target.client.meta.events.register("after-call.s3.UploadPart", lambda **kwargs: parts.append(1))
    backup_id = "20261123T000000Z-nightly-abcdef"

    s3.upload_backup(target, backup_id, payload, b"{}")
    fetched = s3.download_payload(target, backup_id, tmp_path / "fetched")

    assert len(parts) == 3
    assert archive.sha256_file(fetched) == archive.sha256_file(payload)


def _signed_copy(
    source: s3.BackupTarget, source_id: str, target: s3.BackupTarget, new_id: str, manifest: bool
) -> None:
    """A backup under another id, its manifest re-signed with the key (only a key holder can do
    this; retention then treats it as verified, which is what these tests need)."""
    target.client.copy_object(
        Bucket=target.bucket,
        Key=target.key(new_id, s3.PAYLOAD),
        CopySource={"Bucket": source.bucket, "Key": source.key(source_id, s3.PAYLOAD)},
    )
    if manifest:
        key = runtime.backup_key()
        opened = manifest_mod.open_manifest(s3.download_manifest(source, source_id), key, source_id)
        signed = manifest_mod.sign(opened.model_copy(update={"id": new_id}), key)
        target.client.put_object(
            Bucket=target.bucket, Key=target.key(new_id, s3.MANIFEST), Body=signed.to_bytes()
        )


def test_retention_never_deletes_the_last_good_backups(
    loaded: dict[str, Any], good_backup: dict[str, Any], prefect_server: None
) -> None:
    source = runtime.backup_target()
    target = s3.BackupTarget(source.client, source.bucket, f"retention-{uuid.uuid4().hex[:6]}")
    key, now = runtime.backup_key(), datetime.now(UTC)

    def copy_backup(days_ago: float, complete: bool = True) -> str:
        backup_id = (
            f"{now - timedelta(days=days_ago):%Y%m%dT%H%M%SZ}-nightly-{secrets.token_hex(3)}"
        )
        _signed_copy(source, good_backup["id"], target, backup_id, manifest=complete)
        return backup_id

    old = [copy_backup(400), copy_backup(40), copy_backup(3)]
    abandoned = copy_backup(2, complete=False)
    newest = copy_backup(0.01)
    assert [b.status for b in s3.list_backups(target, key)] == [
        s3.VERIFIED,
        s3.INCOMPLETE,
        s3.VERIFIED,
        s3.VERIFIED,
        s3.VERIFIED,
    ]

    with pytest.raises(BackupError, match="not complete"):
        s3.apply_retention(target, key, RetentionPolicy(0, 0, 0, 0), now, abandoned)
    assert len(s3.list_backups(target)) == 5

    # The backup "just made" is kept even when the policy would drop it.
    policy = RetentionPolicy(0, 0, 0, 0, min_verified=2)
    deleted = s3.apply_retention(target, key, policy, now, old[0])

    assert sorted(deleted) == sorted([old[1], abandoned])
    assert [b.id for b in s3.list_backups(target, key)] == [newest, old[2], old[0]]
    deleted = s3.apply_retention(target, key, policy, now, newest)
    assert deleted == [old[0]]
    assert [(b.id, b.status) for b in s3.list_backups(target, key)] == [
        (newest, s3.VERIFIED),
        (old[2], s3.VERIFIED),
    ]
    # Never fewer than min_verified: with two left and two required, nothing more goes.
    assert s3.apply_retention(target, key, policy, now, newest) == []
    assert s3.apply_retention(target, key, RetentionPolicy(0, 0, 0, 0), now) == []
    assert len(s3.list_backups(target, key)) == 2

    # The backup-retention flow (what the retention role runs): the newest verified one stays.
    saved = _set_env({"BULLPEN_S3_PREFIX": target.prefix})
    try:
        result = prefect_process.load_flow("backup.py:backup_retention")(  # type: ignore[operator]
            keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, min_verified=1
        )
    finally:
        _reset_env(saved)
    assert result == {"deleted": [old[2]]}
    assert [b.id for b in s3.list_backups(target, key)] == [newest]


def test_forged_backups_delete_nothing_real_and_never_become_latest(
    loaded: dict[str, Any], prefect_server: None, tmp_path: Path
) -> None:
    """The attack from issue 18: 24 forged, future-dated "complete" backups next to real ones
    made `backup run` delete every real backup, and `verify --latest` chose a forged one."""
    from collections import Counter

    from typer.testing import CliRunner

    from bullpen.cli import app

    saved = _set_env({"BULLPEN_S3_PREFIX": f"attack-{uuid.uuid4().hex[:6]}"})
    try:
        settings = get_settings()
        target, key, now = runtime.backup_target(), runtime.backup_key(), datetime.now(UTC)
        real = []
        for hours_ago in (2, 1):
            created = snapshot.create_backup(
                runtime.backup_sources(settings),
                key,
                tmp_path / f"real-{hours_ago}",
                kind="nightly",
                now=now - timedelta(hours=hours_ago),
            )
            s3.upload_backup(target, created.id, created.payload, created.manifest)
            real.append(created.id)
        real_manifest = manifest_mod.read_unverified(s3.download_manifest(target, real[-1]))
        other_key = archive.BackupKey.parse(archive.generate_key())

        def forge(when: datetime, flavour: int) -> str:
            """Objects named like a real backup: the real payload, a manifest without the key."""
            forged_id = f"{when:%Y%m%dT%H%M%SZ}-nightly-{secrets.token_hex(3)}"
            body = real_manifest.model_copy(update={"id": forged_id})
            if flavour == 0:  # the real manifest under a new id, its old MAC kept
                raw = body.to_bytes()
            elif flavour == 1:  # signed with another key, claiming the real key's id
                raw = manifest_mod.sign(body, other_key).to_bytes()
            else:  # signed with another key under that key's own id
                payload = body.payload.model_copy(update={"key_id": other_key.key_id()})
                raw = manifest_mod.sign(body.model_copy(update={"payload": payload}), other_key)
                raw = raw.to_bytes()
            target.client.copy_object(
                Bucket=target.bucket,
                Key=target.key(forged_id, s3.PAYLOAD),
                CopySource={"Bucket": target.bucket, "Key": target.key(real[-1], s3.PAYLOAD)},
            )
            target.client.put_object(
                Bucket=target.bucket, Key=target.key(forged_id, s3.MANIFEST), Body=raw
            )
            return forged_id

        future = [forge(now + timedelta(hours=n + 1), n % 3) for n in range(24)]
        # Dated in the past but newer than the real ones: only the HMAC can tell these apart.
        recent = [forge(now - timedelta(minutes=30 - n), n) for n in range(3)]

        statuses = Counter(b.status for b in s3.list_backups(target, key))
        assert statuses == {s3.FUTURE: 24, s3.UNVERIFIED: 3, s3.VERIFIED: 2}
        assert s3.latest_verified(target, key) == real[-1]

        summary = prefect_process.load_flow("backup.py:backup")(kind="nightly")  # type: ignore[operator]

        assert summary["deleted"] == []
        listed = {b.id: b.status for b in s3.list_backups(target, key)}
        assert set(listed) == {*real, summary["id"], *future, *recent}
        assert [listed[i] for i in (*real, summary["id"])] == [s3.VERIFIED] * 3
        assert s3.latest_verified(target, key) == summary["id"]
        verified = prefect_process.load_flow("backup.py:verify_backup")(  # type: ignore[operator]
            load_models=False
        )
        assert verified["backup_id"] == summary["id"]
        shown = CliRunner().invoke(app, ["backup", "list"])
        assert shown.exit_code == 0, shown.stderr
        assert "(3 verified, 30 in all)" in shown.stdout
        assert shown.stdout.count("FUTURE") == 24 and shown.stdout.count("UNVERIFIED") == 3
        assert "failed its HMAC check" in shown.stdout and "another key" in shown.stdout

        # Retention alone with no slots: the forged ones count for nothing, so the two newest
        # real backups stay and only the oldest real one goes; the forged ones stay for review.
        deleted = s3.apply_retention(
            target, key, RetentionPolicy(0, 0, 0, 0, min_verified=2), datetime.now(UTC)
        )
        assert deleted == [real[0]]
        left = {b.id for b in s3.list_backups(target, key)}
        assert left == {real[1], summary["id"], *future, *recent}
    finally:
        _reset_env(saved)


def test_runtime_takes_key_and_bucket_from_prefect_blocks(
    loaded: dict[str, Any], prefect_server: None
) -> None:
    from prefect.blocks.system import Secret
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    key_text = archive.generate_key()
    Secret(value=key_text).save(prefect_blocks.BACKUP_KEY_BLOCK, overwrite=True)
    credentials = AwsCredentials(
        aws_access_key_id=loaded["BULLPEN_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=loaded["BULLPEN_S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=loaded["BULLPEN_S3_ENDPOINT_URL"]),
    )
    bucket = S3Bucket(
        bucket_name="bullpen-block-bucket", bucket_folder="nightly", credentials=credentials
    )
    bucket.save(prefect_blocks.BACKUP_BUCKET_BLOCK, overwrite=True)
    # Settings now point nowhere useful: only the blocks can make this work. An explicit
    # BULLPEN_BACKUP_KEY would win over the block: the block is read when none is set.
    explicit_key = os.environ.pop("BULLPEN_BACKUP_KEY")
    saved = _set_env(
        {
            "BULLPEN_S3_ENDPOINT_URL": f"http://127.0.0.1:{local_s3.free_port()}",
            "BULLPEN_S3_SECRET_ACCESS_KEY": "not-the-secret",
        }
    )
    try:
        assert runtime.backup_key().key_id() == archive.BackupKey.parse(key_text).key_id()
        target = runtime.backup_target()
        assert (target.bucket, target.prefix) == ("bullpen-block-bucket", "nightly")
        s3.ensure_bucket(target)  # signed with the block's keys, checked by the server
        assert s3.list_backups(target) == []
    finally:
        os.environ["BULLPEN_BACKUP_KEY"] = explicit_key
        _reset_env(saved)
        S3Bucket.delete(prefect_blocks.BACKUP_BUCKET_BLOCK)
        Secret.delete(prefect_blocks.BACKUP_KEY_BLOCK)
    assert runtime.backup_target().bucket == "bullpen-test-backups"


def test_cli_run_then_verify_latest(loaded: dict[str, Any], prefect_server: None) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}

    def bullpen(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "bullpen.cli", "backup", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    ran = bullpen("run", "--kind", "manual")
    assert ran.returncode == 0, ran.stderr
    made = re.search(r"^backup (\S+): ", ran.stdout, re.MULTILINE)
    assert made is not None, ran.stdout
    new_id = made.group(1)
    verified = bullpen("verify", "--latest")
    assert verified.returncode == 0, verified.stderr
    assert f"backup {new_id} verified" in verified.stdout
    assert "bullpen-moneyline@champion" in verified.stdout
    # The rest in-process (no new interpreter to import Prefect and MLflow into).
    from typer.testing import CliRunner

    from bullpen.cli import app

    listed = json.loads(CliRunner().invoke(app, ["backup", "list", "--json"]).stdout)
    assert listed[0] == {**listed[0], "id": new_id, "complete": True}
    refused = CliRunner().invoke(app, ["backup", "verify", "--id", "20200101T000000Z-nightly-0"])
    assert refused.exit_code == 2 and "never finished" in refused.stderr
    for output in (ran, verified):
        assert loaded["BULLPEN_BACKUP_KEY"] not in output.stdout + output.stderr


def test_restore_with_switch_makes_the_checked_copy_live(
    loaded: dict[str, Any], good_backup: dict[str, Any], tmp_path: Path
) -> None:
    # The newest backup: retention keeps one per hour, so earlier ones of this hour are gone.
    backup_id = s3.latest_verified(runtime.backup_target(), runtime.backup_key())
    bullpen_url = loaded["BULLPEN_DATABASE_URL"]
    uri = loaded["BULLPEN_MLFLOW_TRACKING_URI"]
    artifact_root = get_settings().artifact_dir
    assert artifact_root is not None
    # A write after the backup: the switch must bring back the backed-up state, without it.
    with engine.connect(bullpen_url) as conn:
        conn.execute("DELETE FROM odds WHERE game_id IN (SELECT game_id FROM games LIMIT 10)")
        conn.commit()
    tag = uuid.uuid4().hex[:8]

    report = prefect_process.load_flow("backup.py:restore")(  # type: ignore[operator]
        backup_id=backup_id,
        target_url=urls.with_database(bullpen_url, f"switch_{tag}"),
        artifact_dir=str(tmp_path / "restored-artifacts"),
        switch=True,
    )

    switched = report["switched"]
    assert switched[f"switch_{tag}"] == dump.database_name(bullpen_url)
    manifest = json.loads(s3.download_manifest(runtime.backup_target(), backup_id))
    tables, _ = _checks(loaded)[bullpen_url]
    assert {k: v.model_dump() for k, v in tables.items()} == manifest["databases"]["bullpen"][
        "tables"
    ]
    assert artifact_root.exists() and not (tmp_path / "restored-artifacts").exists()
    shutil.rmtree(switched[str(artifact_root)])  # the pre-switch artifacts, kept aside
    # Only the live artifact directory is left: the registry must now point there.
    assert len(_champion_probabilities(bullpen_url, uri)) > 2000
    for kept in [name for name in switched.values() if "_before_" in name]:
        dump.drop_database(urls.with_database(bullpen_url, kept))
