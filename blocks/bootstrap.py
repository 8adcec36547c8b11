"""Create bullpen's stock Prefect blocks from Settings, idempotently (save(..., overwrite=True)).

    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/bullpen blocks bootstrap

| block | type | from (Settings) | read by |
|---|---|---|---|
| bullpen-db | SqlAlchemyConnector | DATABASE_URL or the embedded server | runtime.database_url |
| bullpen-aws | AwsCredentials | S3_ACCESS_KEY_ID, S3_SECRET_.., S3_ENDPOINT_URL | backup_target |
| bullpen-backups | S3Bucket | S3_BUCKET, S3_PREFIX + bullpen-aws | runtime.backup_target |
| bullpen-odds-api-key | Secret | ODDS_API_KEY | runtime.odds_api_key |
| bullpen-backup-key | Secret | BACKUP_KEY | runtime.backup_key |

A Secret whose setting is unset is skipped (and said so), never saved empty.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

from bullpen import prefect_blocks, runtime
from bullpen.config import Settings, get_settings
from bullpen.db import urls


def connection_components(url: str) -> dict[str, object]:
    """A libpq URL split into prefect-sqlalchemy ConnectionComponents fields (psycopg 3)."""
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    return {
        "driver": "postgresql+psycopg",
        "username": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
        "host": parsed.hostname,
        "port": parsed.port,
        "database": parsed.path.lstrip("/") or None,
        "query": query or None,
    }


def bootstrap(settings: Settings | None = None) -> list[tuple[str, str]]:
    """Save every block whose settings exist; return (block, what happened) per block."""
    from prefect.blocks.system import Secret
    from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket
    from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector

    settings = settings or get_settings()
    done: list[tuple[str, str]] = []

    # runtime.database_url moves a password (user info or ?password=) to a 0600 pgpass file;
    # what the block stores (Prefect's database) names that file, never the password.
    url = urls.refuse_password(runtime.database_url(settings), "the bullpen-db block's URL")
    SqlAlchemyConnector(connection_info=ConnectionComponents(**connection_components(url))).save(
        prefect_blocks.DATABASE_BLOCK, overwrite=True
    )
    done.append((prefect_blocks.DATABASE_BLOCK, "saved (SqlAlchemyConnector)"))

    def secret(value: object) -> str | None:
        return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]

    if settings.s3_endpoint_url or settings.s3_access_key_id:
        credentials = AwsCredentials(
            aws_access_key_id=secret(settings.s3_access_key_id),
            aws_secret_access_key=secret(settings.s3_secret_access_key),
            region_name=settings.s3_region,
            aws_client_parameters=AwsClientParameters(endpoint_url=settings.s3_endpoint_url),
        )
        credentials.save(prefect_blocks.AWS_CREDENTIALS_BLOCK, overwrite=True)
        done.append((prefect_blocks.AWS_CREDENTIALS_BLOCK, "saved (AwsCredentials)"))
        S3Bucket(
            bucket_name=settings.s3_bucket,
            bucket_folder=settings.s3_prefix,
            credentials=AwsCredentials.load(prefect_blocks.AWS_CREDENTIALS_BLOCK),
        ).save(prefect_blocks.BACKUP_BUCKET_BLOCK, overwrite=True)
        done.append((prefect_blocks.BACKUP_BUCKET_BLOCK, f"saved (S3Bucket {settings.s3_bucket})"))
    else:
        reason = "skipped: BULLPEN_S3_ENDPOINT_URL / BULLPEN_S3_ACCESS_KEY_ID unset"
        done += [
            (prefect_blocks.AWS_CREDENTIALS_BLOCK, reason),
            (prefect_blocks.BACKUP_BUCKET_BLOCK, reason),
        ]

    for name, value, variable in (
        (prefect_blocks.ODDS_API_KEY_BLOCK, settings.odds_api_key, "BULLPEN_ODDS_API_KEY"),
        (prefect_blocks.BACKUP_KEY_BLOCK, settings.backup_key, "BULLPEN_BACKUP_KEY"),
    ):
        if value is None:
            done.append((name, f"skipped: {variable} is unset"))
            continue
        Secret(value=value.get_secret_value()).save(name, overwrite=True)
        done.append((name, "saved (Secret)"))
    return done


if __name__ == "__main__":
    for block, outcome in bootstrap():
        print(f"{block:<22} {outcome}")
