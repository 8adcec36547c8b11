"""Restore comparison, config snapshot without secrets, and which S3 errors are retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pydantic import SecretStr

from bullpen.backup.checksum import compare_database
from bullpen.backup.manifest import DatabaseEntry, TableStat
from bullpen.backup.s3 import BackupTarget, is_transient
from bullpen.backup.snapshot import build_config_snapshot
from bullpen.config import Settings


def _entry(**tables: tuple[int, str]) -> DatabaseEntry:
    return DatabaseEntry(
        source="bullpen",
        dump="db/bullpen.dump",
        server_version="18",
        tables={k: TableStat(rows=r, checksum=c) for k, (r, c) in tables.items()},
        sequences={"public.s": "10"},
    )


def test_compare_database_is_empty_when_identical() -> None:
    entry = _entry(games=(10, "aa"), odds=(20, "bb"))
    assert compare_database(entry, dict(entry.tables), {"public.s": "10"}) == []


def test_compare_database_names_every_difference() -> None:
    entry = _entry(games=(10, "aa"), odds=(20, "bb"), teams=(30, "cc"))
    restored = {
        "games": TableStat(rows=9, checksum="aa"),
        "odds": TableStat(rows=20, checksum="XX"),
        "extra": TableStat(rows=1, checksum="dd"),
    }
    problems = compare_database(entry, restored, {"public.s": "11"})

    assert problems == [
        "extra: table not in the backup",
        "games: 9 rows, backup had 10",
        "odds: content checksum differs (20 rows)",
        "teams: table missing after restore",
        "sequence public.s: 11, backup had 10",
    ]


def test_config_snapshot_drops_secrets_and_url_passwords() -> None:
    settings = Settings(
        home=Path("/srv/bullpen"),
        database_url="postgresql://bullpen:hunter2-db@db.internal:5432/bullpen",
        backup_key=SecretStr("c2VjcmV0LWJhY2t1cC1rZXk="),
        s3_secret_access_key=SecretStr("s3-secret-value"),
        s3_access_key_id=SecretStr("AKIAEXAMPLE"),
    )
    snapshot = build_config_snapshot(settings.model_dump())
    text = repr(snapshot)

    for secret in ("hunter2-db", "c2VjcmV0LWJhY2t1cC1rZXk=", "s3-secret-value", "AKIAEXAMPLE"):
        assert secret not in text
    for secret in ("c2VjcmV0LWJhY2t1cC1rZXk=", "s3-secret-value", "AKIAEXAMPLE"):
        assert secret not in repr(settings)
    assert snapshot["database_url"] == "postgresql://bullpen:***@db.internal:5432/bullpen"
    assert snapshot["home"] == "/srv/bullpen"
    assert "backup_key" not in snapshot and "s3_secret_access_key" not in snapshot


def test_backup_target_repr_hides_the_client() -> None:
    assert repr(BackupTarget(object(), "bucket", "backups")) == "BackupTarget(s3://bucket/backups)"


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ClientError({"Error": {"Code": "SlowDown"}}, "PutObject"), True),
        (ClientError({"Error": {"Code": "503"}}, "PutObject"), True),
        (ClientError({"Error": {"Code": "AccessDenied"}}, "PutObject"), False),
        (ClientError({"Error": {"Code": "SignatureDoesNotMatch"}}, "PutObject"), False),
        (ValueError("bad data"), False),
    ],
)
def test_is_transient_retries_only_what_can_pass(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_is_transient_looks_through_wrapped_causes() -> None:
    try:
        try:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        except EndpointConnectionError as inner:
            raise RuntimeError("upload failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
