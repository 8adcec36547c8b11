"""Where the Prefect API is and how to authenticate to it: PREFECT_API_URL and
PREFECT_API_AUTH_STRING from the environment or the active Prefect profile.

Reads `profiles.toml` itself instead of importing Prefect (seconds), so commands that only need
the URL (health, status, the exporter, resource lookup) stay fast.
"""

from __future__ import annotations

import base64
import os
import sys
import tomllib
from pathlib import Path


def prefect_api_url() -> str | None:
    """PREFECT_API_URL from the environment, else from the active Prefect profile; None when
    flows would run against a temporary server."""
    if "prefect.settings" in sys.modules:  # already paid for: ask Prefect itself
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value() or None
    return _setting("PREFECT_API_URL")


def prefect_auth_string() -> str | None:
    """PREFECT_API_AUTH_STRING (`user:password` for the server's basic auth), from the
    environment or the active profile; None when the server needs none."""
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_AUTH_STRING

        value = PREFECT_API_AUTH_STRING.value()
        return value.get_secret_value() if hasattr(value, "get_secret_value") else value or None
    return _setting("PREFECT_API_AUTH_STRING")


def prefect_auth_headers() -> dict[str, str]:
    """The Authorization header Prefect's own client sends (basic auth), or none."""
    auth = prefect_auth_string()
    if not auth:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


def unauthorized_message(api_url: str) -> str:
    """What to say when the Prefect API answers 401: which setting is missing or wrong."""
    have = "was refused" if prefect_auth_string() else "is not set"
    return (
        f"the Prefect API at {api_url} requires authentication and PREFECT_API_AUTH_STRING {have}: "
        "`source .bullpen/stack/env` (the local stack's credentials, `bullpen stack credentials`) "
        "or set it to the server's PREFECT_SERVER_API_AUTH_STRING"
    )


def _setting(name: str) -> str | None:
    if name in os.environ:
        return os.environ[name] or None
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    value = data.get("profiles", {}).get(active, {}).get(name)
    return str(value) if value else None
