"""`bullpen evaluate` on a file it cannot read: one line saying why, exit 2, no traceback."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bullpen.cli import app
from bullpen.config import get_settings
from tests.conftest import DATA

SEASON_FILE = DATA / "odds" / "mlb_odds_2018.csv.gz"


@pytest.fixture(autouse=True)
def _nowhere_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """URLs that nothing listens on: the file is read before any database is needed, so a
    refusal here proves the error came from reading the file."""
    monkeypatch.setenv("BULLPEN_DATABASE_URL", "postgresql://bullpen@127.0.0.1:9/none")
    monkeypatch.setenv("BULLPEN_MLFLOW_TRACKING_URI", "postgresql://bullpen@127.0.0.1:9/none")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _evaluate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", "--odds-file", str(path)])
    return result.exit_code, result.stderr


def _damaged(tmp_path: Path, how: str) -> Path:
    path = tmp_path / "mlb_odds_2018.csv.gz"
    good = SEASON_FILE.read_bytes()
    if how == "not gzip":
        path.write_bytes(b"Date,VH,Team\n0328,V,NYY\n")
    elif how == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif how == "flipped byte":
        damaged = bytearray(good)
        damaged[len(damaged) // 2] ^= 0xFF
        path.write_bytes(bytes(damaged))
    return path


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("not gzip", "Not a gzipped file"),
        ("truncated", "Compressed file ended"),
        ("flipped byte", r"(?i)invalid|crc|error"),
    ],
)
def test_corrupt_gzip_is_one_line_error(tmp_path: Path, how: str, reason: str) -> None:
    assert gzip.decompress(SEASON_FILE.read_bytes())  # the intact file does decompress
    path = _damaged(tmp_path, how)

    code, stderr = _evaluate(path)

    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: cannot read {path}: ")
    assert re.search(reason, stderr), stderr
    assert "Traceback" not in stderr


def test_unreadable_path_is_one_line_error(tmp_path: Path) -> None:
    # chmod 000 does not stop root; reading /proc/self/mem at offset 0 fails for every user.
    path = tmp_path / "mlb_odds_2018.csv"
    path.symlink_to("/proc/self/mem")

    code, stderr = _evaluate(path)

    assert code == 2
    assert stderr == f"error: cannot read {path}: Input/output error\n"


def test_missing_file_is_refused_by_the_option_check(tmp_path: Path) -> None:
    code, stderr = _evaluate(tmp_path / "mlb_odds_2018.csv.gz")

    assert code == 2 and "does not exist" in stderr
