"""Saved Prefect blocks bullpen reads: their names, and how each is read (the Prefect adapter).

Two ways in. `block_document` reads a block over the REST API without importing Prefect (fast:
resource lookup, health, status, the exporter). `saved_block` loads it through Prefect (and
prefect-aws for S3), only where a flow or command needs the real object. blocks/bootstrap.py
saves these blocks; blocks/README.md lists them.
"""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode, urlparse

from bullpen.profiles import prefect_api_url, prefect_auth_headers, unauthorized_message

log = logging.getLogger(__name__)

DATABASE_BLOCK = "bullpen-db"  # prefect-sqlalchemy SqlAlchemyConnector
BACKUP_BUCKET_BLOCK = "bullpen-backups"  # prefect-aws S3Bucket (bucket, folder, credentials)
AWS_CREDENTIALS_BLOCK = "bullpen-aws"  # prefect-aws AwsCredentials (keys, endpoint_url)
BACKUP_KEY_BLOCK = "bullpen-backup-key"  # Secret: the 32-byte backup key, base64
ODDS_API_KEY_BLOCK = "bullpen-odds-api-key"  # Secret: The Odds API key


def blocks_possible() -> bool:
    """Saved blocks can exist: a Prefect API is configured, or this is a (deployed) flow run."""
    if prefect_api_url():
        return True
    if "prefect.context" in sys.modules:
        from prefect.context import FlowRunContext

        return FlowRunContext.get() is not None
    return False


def saved_block(block_type: Any, name: str) -> Any | None:
    """A saved block, or None when no Prefect API is configured here or no such block exists.

    Without an API (plain CLI use) loading would start a temporary server only to find nothing.
    """
    if not blocks_possible():
        return None
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value() and FlowRunContext.get() is None:
        return None
    try:
        return block_type.load(name)
    except ValueError:  # no block document by that name
        return None


def saved_secret(name: str) -> str | None:
    """The value of the Secret block `name`, or None when it is not saved (or cannot be)."""
    if not blocks_possible():
        return None
    from prefect.blocks.system import Secret

    block = saved_block(Secret, name)
    return None if block is None else str(block.get())


def saved_s3_blocks() -> tuple[Any | None, Any | None]:
    """The S3Bucket block `bullpen-backups` and the AwsCredentials to use with it (the bucket's
    own, else the block `bullpen-aws`); (None, None) when blocks cannot exist here."""
    if not blocks_possible():  # prefect_aws costs seconds to import: only when blocks can exist
        return None, None
    from prefect_aws import AwsCredentials, S3Bucket

    bucket = saved_block(S3Bucket, BACKUP_BUCKET_BLOCK)
    credentials = (
        bucket.credentials
        if bucket is not None
        else saved_block(AwsCredentials, AWS_CREDENTIALS_BLOCK)
    )
    return bucket, credentials


@lru_cache(maxsize=4)
def block_document(api_url: str, type_slug: str, name: str) -> dict[str, Any] | None:
    """A saved block document's data (secrets included) over the REST API; None if absent."""
    import httpx

    response = httpx.get(
        f"{api_url.rstrip('/')}/block_types/slug/{type_slug}/block_documents/name/{name}",
        params={"include_secrets": "true"},
        headers=prefect_auth_headers(),
        timeout=10,
    )
    if response.status_code == 404:
        return None
    if response.status_code == 401:
        raise PermissionError(unauthorized_message(api_url))
    response.raise_for_status()
    return dict(response.json().get("data") or {})


def database_url_from_block() -> str | None:
    """The libpq URL saved in the SqlAlchemyConnector block `bullpen-db`, if there is one."""
    api = prefect_api_url()
    if not api:
        return None
    try:
        data = block_document(api, "sqlalchemy-connector", DATABASE_BLOCK)
    except PermissionError:  # wrong credentials: say so instead of using another database
        raise
    except Exception as exc:  # noqa: BLE001 - an unreachable API must not hide the settings
        log.warning("block %s not readable: %s", DATABASE_BLOCK, exc)
        return None
    info = (data or {}).get("connection_info")
    if not info:
        return None
    if isinstance(info, str):
        return urlparse(info)._replace(scheme="postgresql").geturl()
    user = quote(str(info.get("username") or ""), safe="")
    password = info.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = info.get("host") or ""
    port = f":{info['port']}" if info.get("port") else ""
    query = f"?{urlencode(info['query'])}" if info.get("query") else ""
    return f"postgresql://{auth}{host}{port}/{info.get('database') or ''}{query}"


def s3_blocks_saved() -> bool:
    """An S3Bucket or AwsCredentials block for backups is saved (read over REST)."""
    api = prefect_api_url()
    if not api:
        return False
    return any(
        block_document(api, slug, name) is not None
        for slug, name in (
            ("s3-bucket", BACKUP_BUCKET_BLOCK),
            ("aws-credentials", AWS_CREDENTIALS_BLOCK),
        )
    )
