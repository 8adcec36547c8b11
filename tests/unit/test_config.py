from pathlib import Path

import pytest

from bullpen.config import Settings


def test_settings_repr_shows_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = {
        "BULLPEN_DATABASE_URL": "postgresql://u:pw-db-7731@db.example:5432/bullpen",
        "BULLPEN_MLFLOW_TRACKING_URI": "postgresql+psycopg://u:pw-ml-7732@db.example/mlflow",
        "BULLPEN_ODDS_API_KEY": "odds-key-7733",
        "BULLPEN_BACKUP_KEY": "backup-key-7734",
        "BULLPEN_S3_ACCESS_KEY_ID": "access-7735",
        "BULLPEN_S3_SECRET_ACCESS_KEY": "secret-7736",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env from the working copy

    settings = Settings()

    assert settings.database_url == secrets["BULLPEN_DATABASE_URL"]
    assert settings.odds_api_key is not None
    assert settings.odds_api_key.get_secret_value() == "odds-key-7733"
    shown = repr(settings) + str(settings)
    for value in secrets.values():
        assert value.split("@")[0].split(":")[-1] not in shown


def test_artifact_root_defaults_to_a_folder_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BULLPEN_ARTIFACT_ROOT", raising=False)

    settings = Settings(home=tmp_path / "home")

    assert settings.artifact_root == (tmp_path / "home" / "mlartifacts").as_uri()
    assert settings.artifact_dir == tmp_path / "home" / "mlartifacts"
    assert "artifact_root" not in settings.model_fields_set


@pytest.mark.parametrize(
    ("given", "uri", "folder"),
    [
        ("s3://bullpen-mlflow/artifacts/", "s3://bullpen-mlflow/artifacts", None),
        ("s3://bullpen-mlflow", "s3://bullpen-mlflow", None),
        ("/srv/ml artifacts", "file:///srv/ml%20artifacts", Path("/srv/ml artifacts")),
        ("file:///srv/ml%20artifacts/", "file:///srv/ml%20artifacts", Path("/srv/ml artifacts")),
    ],
)
def test_artifact_root_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str, uri: str, folder: Path | None
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLPEN_ARTIFACT_ROOT", given)

    settings = Settings()

    assert (settings.artifact_root, settings.artifact_dir) == (uri, folder)


@pytest.mark.parametrize("given", ["s3://", "s3:///prefix", "gs://bucket/x", "http://mlflow:5000"])
def test_artifact_root_refuses_what_mlflow_clients_here_cannot_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLPEN_ARTIFACT_ROOT", given)

    with pytest.raises(ValueError, match="artifact root"):
        Settings()
