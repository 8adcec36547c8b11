"""The MLflow tracking server over bullpen's registry: one command line for `bullpen mlflow ui`
and the local stack (infra/stack.py), so both serve the same store and artifacts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def server_command(
    tracking_uri: str,
    artifact_root: Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    python: str | Path | None = None,
) -> list[str]:
    """`python -m mlflow server` on the tracking store `tracking_uri`, new runs' artifacts under
    `artifact_root` (this interpreter unless `python` names another)."""
    return [
        str(python or sys.executable),
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        tracking_uri,
        "--default-artifact-root",
        artifact_root.resolve().as_uri(),
        "--host",
        host,
        "--port",
        str(port),
    ]


def serve(tracking_uri: str, artifact_root: Path, host: str = "127.0.0.1", port: int = 5000) -> int:
    """Run the server in the foreground until it stops; its exit code."""
    return subprocess.call(server_command(tracking_uri, artifact_root, host, port))
