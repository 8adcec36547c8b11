"""profiles.prefect_api_url reads the active Prefect profile without importing Prefect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import sys; from bullpen.profiles import prefect_api_url; "
    "print(prefect_api_url()); print('prefect' in sys.modules)"
)


def _run(env: dict[str, str]) -> list[str]:
    # A fresh interpreter: in this one another test may already have imported Prefect, and then
    # the function asks Prefect instead of reading the file.
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_active_profile_url_is_read_from_profiles_toml(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "server"\n'
        '[profiles.server]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
        '[profiles.other]\nPREFECT_API_URL = "http://other:4200/api"\n'
        "[profiles.ephemeral]\n"
    )
    env = {"PREFECT_PROFILES_PATH": str(profiles)}
    assert _run(env) == ["http://127.0.0.1:4200/api", "False"]
    assert _run({**env, "PREFECT_PROFILE": "other"}) == ["http://other:4200/api", "False"]
    assert _run({**env, "PREFECT_PROFILE": "ephemeral"}) == ["None", "False"]
    # The environment wins over the profile; an empty value means "no API".
    assert _run({**env, "PREFECT_API_URL": "http://env:1/api"}) == ["http://env:1/api", "False"]
    assert _run({**env, "PREFECT_API_URL": ""}) == ["None", "False"]


def test_missing_or_broken_profiles_file_means_no_api(tmp_path: Path) -> None:
    assert _run({"PREFECT_PROFILES_PATH": str(tmp_path / "absent.toml")}) == ["None", "False"]
    broken = tmp_path / "broken.toml"
    broken.write_text("active = [unterminated\n")
    assert _run({"PREFECT_PROFILES_PATH": str(broken)}) == ["None", "False"]


AUTH_PROBE = (
    "import sys; from bullpen.profiles import prefect_auth_headers, prefect_auth_string, "
    "unauthorized_message; print(prefect_auth_string()); print(prefect_auth_headers()); "
    "print(unauthorized_message('http://x/api')); print('prefect' in sys.modules)"
)


def _auth(env: dict[str, str], code: str = AUTH_PROBE) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_auth_string_from_environment_or_profile(tmp_path: Path) -> None:
    import base64

    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "server"\n[profiles.server]\nPREFECT_API_AUTH_STRING = "u:from-profile"\n'
    )
    env = {"PREFECT_PROFILES_PATH": str(profiles)}
    value, headers, message, imported = _auth(env)
    assert value == "u:from-profile" and imported == "False"
    assert base64.b64encode(b"u:from-profile").decode() in headers
    assert "PREFECT_API_AUTH_STRING was refused" in message
    value, headers, message, _ = _auth({**env, "PREFECT_API_AUTH_STRING": "u:from-env"})
    assert value == "u:from-env"
    value, headers, message, _ = _auth({"PREFECT_HOME": str(tmp_path / "none")})
    assert value == "None" and headers == "{}" and "is not set" in message
    # With Prefect imported, Prefect's own setting (a SecretStr there) is read.
    code = "import prefect.settings; " + AUTH_PROBE
    value, _, _, imported = _auth({"PREFECT_API_AUTH_STRING": "u:p"}, code)
    assert value == "u:p" and imported == "True"
