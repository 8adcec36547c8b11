"""`prefect server start` in a subprocess, for the tests that deploy prefect.yaml or need events
and automations: a real server (SQLite under its own PREFECT_HOME) on a free loopback port,
stopped with SIGINT."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bullpen.backup.local_s3 import free_port

PREFECT = str(Path(sys.executable).parent / "prefect")


def server_env(
    home: Path, *, drop: tuple[str, ...] = ("PREFECT_",), **extra: str
) -> dict[str, str]:
    """This process's environment without variables starting with `drop`, a PREFECT_HOME under
    `home`, no analytics or UI, warnings only; `extra` on top."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return kept | {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **extra,
    }


@dataclass(frozen=True)
class StandaloneServer:
    api: str  # http://127.0.0.1:<port>/api
    env: dict[str, str]  # the server's environment plus PREFECT_API_URL: for CLI calls to it
    process: subprocess.Popen[bytes]
    log: Path

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"prefect server did not start in {timeout} s"
            time.sleep(0.5)


@contextlib.contextmanager
def standalone_server(
    home: Path, env: dict[str, str], *, wait: bool = True
) -> Iterator[StandaloneServer]:
    """The server running with `env` (see `server_env`), its log in `home`/server.log. `wait`
    False returns at once, so the ~15 s start can overlap other work (`wait_healthy` later)."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        server = StandaloneServer(api, {**env, "PREFECT_API_URL": api}, process, log_path)
        try:
            if wait:
                server.wait_healthy()
            yield server
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
