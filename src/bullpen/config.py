"""Settings: the only place bullpen reads its environment (prefix BULLPEN_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S3_SCHEME = "s3://"


def _default_home() -> Path:
    return Path.cwd() / ".bullpen"


class Settings(BaseSettings):
    """Local defaults run everything embedded under `home`; each URL overrides one part."""

    model_config = SettingsConfigDict(env_prefix="BULLPEN_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    # Any Postgres URL; unset means the embedded server under `home`/pgdata. URLs may carry a
    # password, so they stay out of repr (and thus out of logs and tracebacks).
    database_url: str | None = Field(default=None, repr=False)
    mlflow_tracking_uri: str | None = Field(default=None, repr=False)
    # A streaming replica of the bullpen database, checked by `bullpen health` and the exporter.
    replica_database_url: str | None = Field(default=None, repr=False)
    # Where MLflow keeps new experiments' artifacts (models, reports): s3://bucket/prefix is one
    # store every host reads and writes (its endpoint and keys are BULLPEN_S3_*, see
    # runtime.mlflow_tracking_uri); a path or file:// URI is this machine only. Unset:
    # <home>/mlartifacts. Always an absolute URI once read (docs/multihost.md).
    artifact_root: str = Field(default="", validate_default=True)
    data_dir: Path | None = None  # bundled seasons; defaults to the repo's data/
    devig_method: str = "shin"
    log_json: bool = False  # JSON lines (with the flow-run id) for logger `bullpen` on stderr
    # -- backups (docs/backup.md); blocks bullpen-backups / bullpen-aws / bullpen-backup-key win
    s3_endpoint_url: str | None = None  # non-AWS S3, e.g. the local rclone server
    s3_bucket: str = "bullpen-backups"
    s3_prefix: str = "backups"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None  # unset: boto3's default credential chain
    s3_secret_access_key: SecretStr | None = None
    backup_key: SecretStr | None = None  # 32 bytes, base64: `bullpen backup keygen`
    pg_bin_dir: Path | None = None  # pg_dump/pg_restore of the server's major version
    # -- live collection (docs/collectors.md); the Secret block bullpen-odds-api-key wins
    mlb_stats_base_url: str = "https://statsapi.mlb.com"
    odds_api_base_url: str = "https://api.the-odds-api.com"
    odds_api_key: SecretStr | None = None
    odds_api_min_remaining: int = 30  # stop before the monthly quota falls below this reserve
    http_timeout_seconds: float = 20.0
    http_max_attempts: int = 4  # per request; only transient errors are retried

    @field_validator("artifact_root")
    @classmethod
    def _artifact_uri(cls, value: str, info: ValidationInfo) -> str:
        """An s3:// root as given (without a trailing slash); anything else as a file:// URI."""
        value = value.strip()
        if value.startswith(S3_SCHEME):
            bucket = value[len(S3_SCHEME) :].split("/", 1)[0]
            if not bucket:
                raise ValueError(f"artifact root {value!r} names no bucket")
            return value.rstrip("/")
        if value.startswith("file://"):
            return value.rstrip("/")
        if "://" in value:
            raise ValueError(f"artifact root {value!r}: only s3:// and file:// are supported")
        home = info.data.get("home") or _default_home()
        return Path(value or Path(home) / "mlartifacts").resolve().as_uri()

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def artifact_dir(self) -> Path | None:
        """The local folder of a file:// artifact root; None when artifacts live in S3."""
        if self.artifact_root.startswith(S3_SCHEME):
            return None
        return Path(unquote(urlparse(self.artifact_root).path))

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def data_dir(settings: Settings | None = None) -> Path:
    """Bundled seasons: BULLPEN_DATA_DIR, else the repository's data/ folder."""
    settings = settings or get_settings()
    if settings.data_dir:
        return settings.data_dir
    return Path(__file__).resolve().parents[2] / "data"
