"""Settings: the only place bullpen reads its environment (prefix BULLPEN_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.cwd() / ".bullpen"


class Settings(BaseSettings):
    """Local defaults run everything embedded under `home`; each URL overrides one part."""

    model_config = SettingsConfigDict(env_prefix="BULLPEN_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    # Any Postgres URL; unset means the embedded server under `home`/pgdata.
    database_url: str | None = None
    mlflow_tracking_uri: str | None = None
    data_dir: Path | None = None  # bundled seasons; defaults to the repo's data/
    devig_method: str = "shin"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def artifact_root(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
