"""Artifact roots as backups see them: s3://bucket/prefix parsed, URIs compared across kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bullpen.backup.artifacts import S3Artifacts, parse_s3_root, root_uri
from bullpen.backup.errors import BackupError
from bullpen.backup.restore import backed_up_root


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bullpen-mlflow/artifacts", ("bullpen-mlflow", "artifacts")),
        ("s3://bullpen-mlflow/a/b/", ("bullpen-mlflow", "a/b")),
        ("s3://bullpen-mlflow", ("bullpen-mlflow", "")),
    ],
)
def test_s3_roots_parse_into_bucket_and_prefix(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_root(uri) == expected


@pytest.mark.parametrize("uri", ["s3://", "s3:///x", "file:///srv/a", "/srv/a"])
def test_what_is_not_an_s3_root_is_refused(uri: str) -> None:
    with pytest.raises(BackupError):
        parse_s3_root(uri)


def test_keys_and_uris_of_a_prefix_and_of_a_whole_bucket() -> None:
    prefixed, whole = S3Artifacts(None, "b", "artifacts"), S3Artifacts(None, "b", "")
    assert (prefixed.key("1/run/model.lgb"), prefixed.uri) == (
        "artifacts/1/run/model.lgb",
        "s3://b/artifacts",
    )
    assert (whole.key("1/run/model.lgb"), whole.uri) == ("1/run/model.lgb", "s3://b")
    assert "client" not in repr(prefixed)


def test_manifest_roots_compare_with_restore_targets_of_either_kind(tmp_path: Path) -> None:
    # Backups before S3 support recorded a folder's path; S3 ones record the URI.
    folder = backed_up_root(str(tmp_path / "mlartifacts"))
    assert isinstance(folder, Path)
    assert root_uri(folder) == (tmp_path / "mlartifacts").as_uri()
    s3_root = backed_up_root("s3://b/artifacts")
    assert root_uri(s3_root) == root_uri(S3Artifacts(None, "b", "artifacts"))
    assert root_uri(s3_root) != root_uri(S3Artifacts(None, "b", "restores/x"))
