"""Manifest signing and the checks that run before any restore: key id, HMAC, format, id."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from bullpen.backup import archive, manifest
from bullpen.backup.errors import AuthenticityError, IntegrityError, WrongKeyError

BACKUP_ID = "20261123T093000Z-nightly-abcdef"


def _manifest(key: archive.BackupKey) -> manifest.Manifest:
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    table = manifest.TableStat(rows=25603, checksum="0e444679ccea200a5718ade545f5a106")
    return manifest.Manifest(
        id=BACKUP_ID,
        kind="nightly",
        created_at=now,
        finished_at=now,
        versions={"postgres_server": "PostgreSQL 18.6", "bullpen": "0.1.0"},
        payload=manifest.PayloadEntry(
            object="payload.tar.gz.enc",
            bytes=1000,
            sha256="ab" * 32,
            plain_bytes=5000,
            salt=base64.b64encode(archive.new_salt()).decode(),
            key_id=key.key_id(),
        ),
        members=[manifest.MemberEntry(name="db/bullpen.dump", bytes=5000, sha256="cd" * 32)],
        databases={
            "bullpen": manifest.DatabaseEntry(
                source="bullpen",
                dump="db/bullpen.dump",
                server_version="PostgreSQL 18.6",
                tables={"public.games": table},
                sequences={"public.games_game_id_seq": "25603"},
            )
        },
        artifacts=manifest.ArtifactsEntry(root="/srv/bullpen/mlartifacts", files=0, bytes=0),
        models=[manifest.ModelAlias(name="bullpen-moneyline", alias="champion", version="3")],
        config_member="config.json",
    )


@pytest.fixture
def key() -> archive.BackupKey:
    return archive.BackupKey.parse(archive.generate_key())


def test_signed_manifest_round_trips_through_bytes(key: archive.BackupKey) -> None:
    signed = manifest.sign(_manifest(key), key)
    opened = manifest.open_manifest(signed.to_bytes(), key, BACKUP_ID)

    assert opened == signed
    assert opened.databases["bullpen"].tables["public.games"].rows == 25603
    assert len(signed.mac) == 64


def test_manifest_holds_no_key_material(key: archive.BackupKey) -> None:
    raw = manifest.sign(_manifest(key), key).to_bytes()
    secret = key._secret  # noqa: SLF001 - the point is to look for it
    for form in (secret.hex(), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret)):
        assert (form if isinstance(form, bytes) else form.encode()) not in raw


def test_wrong_key_is_named_as_such(key: archive.BackupKey) -> None:
    raw = manifest.sign(_manifest(key), key).to_bytes()
    other = archive.BackupKey.parse(archive.generate_key())
    with pytest.raises(WrongKeyError, match="encrypted with another key"):
        manifest.open_manifest(raw, other, BACKUP_ID)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["databases"]["bullpen"]["tables"]["public.games"].update(rows=25602),
        lambda m: m["payload"].update(sha256="00" * 32),
        lambda m: m["payload"].update(bytes=999),
        lambda m: m["models"][0].update(version="2"),
        lambda m: m.update(kind="hourly"),
    ],
)
def test_any_edit_to_a_signed_manifest_is_refused(key: archive.BackupKey, edit: object) -> None:
    body = json.loads(manifest.sign(_manifest(key), key).to_bytes())
    edit(body)  # type: ignore[operator]
    with pytest.raises(AuthenticityError, match="HMAC"):
        manifest.open_manifest(json.dumps(body).encode(), key, BACKUP_ID)


def test_unreadable_or_foreign_manifests_are_refused(key: archive.BackupKey) -> None:
    signed = manifest.sign(_manifest(key), key)
    with pytest.raises(IntegrityError, match="unreadable"):
        manifest.open_manifest(b'{"id": "x"', key, BACKUP_ID)
    with pytest.raises(IntegrityError, match="not 20261124"):
        manifest.open_manifest(signed.to_bytes(), key, "20261124T000000Z-nightly-000000")
    body = json.loads(signed.to_bytes())
    body["format"] = "bullpen-backup/9"
    with pytest.raises(IntegrityError, match="unsupported backup format"):
        manifest.open_manifest(json.dumps(body).encode(), key, BACKUP_ID)


def test_backup_ids_sort_by_time_and_parse_back() -> None:
    early = manifest.new_backup_id("hourly", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = manifest.new_backup_id("nightly", datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))

    assert early < late and early.startswith("20260102T030405Z-hourly-")
    assert manifest.parse_backup_id(early) == (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "hourly")
    assert manifest.parse_backup_id("notes.txt") is None
    with pytest.raises(ValueError, match="lower-case"):
        manifest.new_backup_id("Nightly/../x")
