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
