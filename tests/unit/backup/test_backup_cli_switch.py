"""`bullpen backup restore --switch` replaces the live databases: it asks first, or needs --yes."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from typer.testing import CliRunner

from bullpen.cli import app
from tests.conftest import REPO

ARGS = [
    "backup",
    "restore",
    "--id",
    "20261123T093000Z-nightly-abcdef",
    "--target-url",
    "postgresql://bullpen@127.0.0.1:9/restored",  # nothing listens: nothing may be reached
    "--switch",
]


def test_switch_without_a_terminal_or_yes_is_refused() -> None:
    result = CliRunner().invoke(app, ARGS)  # CliRunner's stdin is no terminal

    assert result.exit_code == 2
    assert "needs confirmation" in result.stderr and "--yes" in result.stderr
    assert "nothing was restored" in result.stderr


def _read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_switch_on_a_terminal_asks_and_no_restores_nothing() -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bullpen.cli", *ARGS],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        close_fds=True,
    )
    os.close(slave)
    try:
        asked = _read_until(master, b"[y/N]:")
        assert b"make it the LIVE database" in asked, asked
        os.write(master, b"n\n")
        answered = _read_until(master, b"nothing was restored")
        assert proc.wait(timeout=30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"not confirmed: nothing was restored" in answered
