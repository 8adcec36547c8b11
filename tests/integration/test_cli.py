"""CLI commands whose work moved into the library, against a real PostgreSQL: `bullpen quarantine
list` (db/quarantine.py)."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from bullpen.collect.records import QuarantinedRecord
from bullpen.db import engine
from bullpen.db.quarantine import list_quarantine
from bullpen.db.staging import write_quarantine

pytestmark = pytest.mark.integration


def _quarantine(url: str, records: list[QuarantinedRecord]) -> None:
    with engine.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        write_quarantine(cur, records)


def test_quarantine_list_shows_newest_first_by_source_with_the_total(
    bullpen_env: dict[str, str],
) -> None:
    from bullpen.cli import app

    url = bullpen_env["BULLPEN_DATABASE_URL"]
    _quarantine(url, [QuarantinedRecord("sbr", "mlb-2014.csv", 7, "no closing line")])
    time.sleep(0.01)  # first_seen orders the listing: the second batch is newer
    _quarantine(
        url,
        [
            QuarantinedRecord("sbr", "mlb-2015.csv", 3, "unknown team 'XYZ'"),
            QuarantinedRecord("retrosheet", "2015.zip", 12, "no game id"),
        ],
    )
    with engine.connect(url) as conn:
        listing = list_quarantine(conn, source="sbr", limit=5)
    assert [(r.file, r.row_number) for r in listing.rows] == [
        ("mlb-2015.csv", 3),
        ("mlb-2014.csv", 7),
    ]
    assert listing.total == 3

    result = CliRunner().invoke(app, ["quarantine", "list", "--source", "sbr", "--limit", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["sbr", "mlb-2015.csv", "row", "3", "unknown", "team", "'XYZ'"]
    assert lines[-1] == "(1 shown, 3 in quarantine)"
