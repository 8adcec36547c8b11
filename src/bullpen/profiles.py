"""Where the Prefect API is: PREFECT_API_URL from the environment or the active Prefect profile.

Reads `profiles.toml` itself instead of importing Prefect (seconds), so commands that only need
the URL (health, status, the exporter, resource lookup) stay fast.
"""

from __future__ import annotations

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
    if "PREFECT_API_URL" in os.environ:
        return os.environ["PREFECT_API_URL"] or None
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    url = data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None
