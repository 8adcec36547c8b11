"""The one place MLflow's S3 client gets its endpoint and keys: runtime.artifact_store_env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from bullpen import runtime
from bullpen.config import Settings

KEYS = ("MLFLOW_S3_ENDPOINT_URL", "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE", "AWS_ACCESS_KEY_ID")


def _s3_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        home=tmp_path,
        artifact_root="s3://bullpen-mlflow/artifacts",
        s3_endpoint_url="http://10.0.0.5:9000",
        s3_region="eu-west-1",
        **extra,  # type: ignore[arg-type]
    )


def test_s3_root_points_mlflow_at_the_bullpen_endpoint_with_its_keys(tmp_path: Path) -> None:
    settings = _s3_settings(
        tmp_path,
        s3_access_key_id=SecretStr("access-1234"),
        s3_secret_access_key=SecretStr("secret-5678"),
    )

    assert runtime.artifact_store_env(settings) == {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "MLFLOW_S3_ENDPOINT_URL": "http://10.0.0.5:9000",
        "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": "access-1234",
        "AWS_SECRET_ACCESS_KEY": "secret-5678",
    }


def test_without_keys_boto3_keeps_its_default_chain(tmp_path: Path) -> None:
    env = runtime.artifact_store_env(_s3_settings(tmp_path))

    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_a_local_root_sets_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, s3_endpoint_url="http://10.0.0.5:9000")

    assert runtime.artifact_store_env(settings) == {}


def test_configure_sets_the_process_environment_and_keeps_a_chosen_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stale")
    settings = _s3_settings(
        tmp_path,
        s3_access_key_id=SecretStr("access-1234"),
        s3_secret_access_key=SecretStr("secret-5678"),
    )

    runtime.configure_artifact_store(settings)

    assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == "http://10.0.0.5:9000"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "secret-5678"  # bullpen's keys win
    assert os.environ["AWS_DEFAULT_REGION"] == "us-west-2"
