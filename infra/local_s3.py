"""Local S3-compatible server for the demo stack: `rclone serve s3` under $BULLPEN_HOME/s3.

export BULLPEN_S3_ENDPOINT_URL=http://127.0.0.1:9000
export BULLPEN_S3_ACCESS_KEY_ID=... BULLPEN_S3_SECRET_ACCESS_KEY=...   (8+ characters each)
.venv/bin/python infra/local_s3.py start    # detached; `stop`, `status`, or `serve` (foreground)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bullpen.backup import local_s3
from bullpen.config import get_settings


def _pid_file() -> Path:
    return get_settings().home / "s3" / "rclone.pid"


def _running_pid() -> int | None:
    """The recorded pid, if that process is still our rclone (pids get reused)."""
    try:
        pid = int(_pid_file().read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"rclone" in cmdline and b"serve" in cmdline else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "serve"])
    command = parser.parse_args().command
    settings = get_settings()
    if command in ("stop", "status"):
        pid = _running_pid()
        if command == "status" or pid is None:
            print(f"running (pid {pid})" if pid else "not running")
            return 0 if pid or command == "stop" else 1
        local_s3.stop_pid(pid)
        _pid_file().unlink(missing_ok=True)
        print(f"stopped (pid {pid})")
        return 0
    if not (
        settings.s3_endpoint_url and settings.s3_access_key_id and settings.s3_secret_access_key
    ):
        print(
            "set BULLPEN_S3_ENDPOINT_URL, BULLPEN_S3_ACCESS_KEY_ID and "
            "BULLPEN_S3_SECRET_ACCESS_KEY first",
            file=sys.stderr,
        )
        return 2
    if _running_pid():
        print(f"already running (pid {_running_pid()})")
        return 0
    host, port = local_s3.endpoint_address(settings.s3_endpoint_url)
    server = local_s3.start_local_s3(
        settings.home / "s3" / "data",
        settings.s3_access_key_id.get_secret_value(),
        settings.s3_secret_access_key.get_secret_value(),
        host=host,
        port=port,
        log_file=settings.home / "s3" / "rclone.log",
        detach=command == "start",
    )
    if command == "start":
        _pid_file().write_text(str(server.pid))
        print(f"S3 server on {server.endpoint_url} (pid {server.pid}), data in {server.root}")
        return 0
    print(f"S3 server on {server.endpoint_url}, data in {server.root}; Ctrl-C stops it")
    try:
        assert server.process is not None
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
