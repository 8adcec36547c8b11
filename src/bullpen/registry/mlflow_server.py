"""The MLflow tracking server over bullpen's registry: one command line for `bullpen mlflow ui`
and the local stack (infra/stack.py), so both serve the same store and artifacts.

The backend store URI reaches the server through the environment (MLFLOW_BACKEND_STORE_URI),
never argv: `ps` shows every user a process's arguments. So do the S3 keys of an s3:// artifact
root (runtime.artifact_store_env): the server reads artifacts from the store itself for the UI,
as the flows, which talk to the tracking database directly, write them there. With `auth`, the
server runs MLflow's basic-auth app: every UI, tracking and registry request needs a user and
password (docs/security.md).
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MlflowAuth:
    """MLflow basic auth: the admin account and the database holding users and permissions."""

    username: str
    password: str
    database_uri: str  # SQLAlchemy URL of the auth store (no password: a passfile names it)
    config_path: Path  # where the auth app's ini is written (0600)

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"MlflowAuth(username={self.username!r}, config_path={self.config_path})"


def write_auth_config(auth: MlflowAuth) -> Path:
    """The basic-auth app's ini (0600): nobody gets a permission they were not granted."""
    config = configparser.ConfigParser()
    config["mlflow"] = {
        "default_permission": "NO_PERMISSIONS",
        "database_uri": auth.database_uri,
        "admin_username": auth.username,
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access": "false",
    }
    auth.config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(auth.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        config.write(handle)
    os.chmod(auth.config_path, 0o600)
    return auth.config_path


def _root_uri(artifact_root: str | Path) -> str:
    return artifact_root.resolve().as_uri() if isinstance(artifact_root, Path) else artifact_root


def server_command(
    tracking_uri: str,
    artifact_root: str | Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    python: str | Path | None = None,
    auth: MlflowAuth | None = None,
) -> list[str]:
    """`python -m mlflow server`, new experiments' artifacts under `artifact_root` (a folder,
    file:// or s3:// URI; this interpreter unless `python` names another). `tracking_uri` is
    not in it: pass `server_env(tracking_uri)` as the environment."""
    del tracking_uri  # through the environment only (server_env)
    command = [str(python or sys.executable), "-m", "mlflow", "server"]
    if auth is not None:
        command += ["--app-name", "basic-auth"]
    return [
        *command,
        "--default-artifact-root",
        _root_uri(artifact_root),
        "--host",
        host,
        "--port",
        str(port),
    ]


def server_env(tracking_uri: str, auth: MlflowAuth | None = None) -> dict[str, str]:
    """Environment for the server: the backend store (and auth config, admin password)."""
    env = {"MLFLOW_BACKEND_STORE_URI": tracking_uri}
    if auth is not None:
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(write_auth_config(auth))
        # Read only when the admin account is first created (an empty auth store).
        env["MLFLOW_AUTH_ADMIN_PASSWORD"] = auth.password
    return env


def serve(
    tracking_uri: str,
    artifact_root: str | Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    auth: MlflowAuth | None = None,
) -> int:
    """Run the server in the foreground until it stops; its exit code."""
    return subprocess.call(
        server_command(tracking_uri, artifact_root, host, port, auth=auth),
        env={**os.environ, **server_env(tracking_uri, auth)},
    )
