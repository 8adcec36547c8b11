"""CLI commands whose work moved into the library, against a real PostgreSQL: `bullpen quarantine
list` (db/quarantine.py), `bullpen mlflow ui` (registry/mlflow_server.py), `bullpen drift list`
(drift/store.py) and `bullpen players unmatched|rates` (players/linking.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from bullpen.collect.records import QuarantinedRecord
from bullpen.db import engine
from bullpen.db.quarantine import list_quarantine
from bullpen.db.staging import write_quarantine
from bullpen.registry.mlflow_server import server_command

pytestmark = pytest.mark.integration


def _quarantine(url: str, records: list[QuarantinedRecord]) -> None:
    with engine.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        write_quarantine(cur, records)


def test_quarantine_list_shows_newest_first_by_source_with_the_total(
    bullpen_env: dict[str, str],
) -> None:
    from bullpen.cli import app

    url = bullpen_env["BULLPEN_DATABASE_URL"]
    with engine.connect(url) as conn:
        before = list_quarantine(conn).total  # other tests of this module may quarantine too
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
    assert listing.total == before + 3

    result = CliRunner().invoke(app, ["quarantine", "list", "--source", "sbr", "--limit", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["sbr", "mlb-2015.csv", "row", "3", "unknown", "team", "'XYZ'"]
    assert lines[-1] == f"(1 shown, {before + 3} in quarantine)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_mlflow_ui_serves_bullpens_tracking_store(bullpen_env: dict[str, str]) -> None:
    """The command the CLI and infra/stack.py run starts a server that answers on the port."""
    tracking = bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    artifacts = Path(bullpen_env["BULLPEN_HOME"]) / "artifacts"
    port = _free_port()
    cmd = server_command(tracking, artifacts, port=port)
    assert cmd[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert cmd[cmd.index("--default-artifact-root") + 1] == artifacts.resolve().as_uri()
    server = subprocess.Popen(
        [sys.executable, "-m", "bullpen.cli", "mlflow", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: mlflow's workers stop with it
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not answer in 120 s"
            time.sleep(1)
        experiments = httpx.get(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
            params={"max_results": 10},
            timeout=10,
        )
        assert experiments.status_code == 200
        assert "Default" in {e["name"] for e in experiments.json()["experiments"]}
    finally:
        # As Ctrl-C in a terminal does: the whole group, or mlflow's uvicorn and job workers
        # outlive the CLI process.
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_drift_list_shows_the_models_checks_newest_first(bullpen_env: dict[str, str]) -> None:
    from bullpen.cli import app
    from bullpen.drift.policy import Verdict
    from bullpen.drift.report import ColumnDrift, DriftResult
    from bullpen.drift.store import DriftCheck, list_drift_checks, write_drift_check

    def check(model: str, drifted: bool, verdict: Verdict) -> DriftCheck:
        features = [
            ColumnDrift("elo_prob", "ks", 0.05, 0.001 if drifted else 0.4, drifted),
            ColumnDrift("mkt_open_home_prob", "ks", 0.05, 0.3, False),
        ]
        return DriftCheck(
            model=model, champion_version="3", window_start=date(2019, 5, 1),
            window_end=date(2019, 5, 31), reference_seasons=[2018],
            drift=DriftResult(features, None, n_reference=2400, n_current=400),
            performance=None, verdict=verdict,
        )  # fmt: skip

    url = bullpen_env["BULLPEN_DATABASE_URL"]
    with engine.connect(url) as conn:
        first = write_drift_check(conn, check("moneyline", False, Verdict("ok")))
        second = write_drift_check(
            conn, check("moneyline", True, Verdict("retrain", ["1 of 2 features drifted"]))
        )
        write_drift_check(conn, check("totals", False, Verdict("ok")))
        stored = list_drift_checks(conn, "moneyline")
    assert [c.check_id for c in stored] == [second, first]
    assert (stored[0].verdict, stored[0].drift_share, stored[0].reasons) == (
        "retrain",
        0.5,
        ["1 of 2 features drifted"],
    )

    result = CliRunner().invoke(app, ["drift", "list", "--model", "moneyline", "--limit", "1"])
    assert result.exit_code == 0, result.output
    head, reason = result.output.splitlines()
    assert head.startswith(f"#{second} ")
    assert "v3 2019-05-01..2019-05-31 retrain drift 50% prediction_drift=False gap -" in head
    assert reason == "    1 of 2 features drifted"


def test_players_commands_report_the_stored_links(bullpen_env: dict[str, str]) -> None:
    """2019 linked as the collect-history flow links it; both commands agree with the links."""
    from bullpen.cli import app
    from bullpen.collect.history.seasons import read_season_files
    from bullpen.collect.history.store import write_history_file
    from bullpen.db.migrate import write_teams
    from bullpen.players.linking import (
        link_listed_starters,
        store_links,
        stored_link_counts,
        unmatched_starters,
    )
    from tests.conftest import DATA
    from tests.unit.players.test_linking import season_rosters

    url = bullpen_env["BULLPEN_DATABASE_URL"]
    odds = DATA / "odds" / "mlb_odds_2019.csv.gz"
    parsed = read_season_files(odds, DATA / "retrosheet" / "GL2019.TXT.gz")
    with engine.connect(url, autocommit=True) as conn:
        write_teams(conn)
        write_history_file(
            conn, file=odds.name, sha256=hashlib.sha256(odds.read_bytes()).hexdigest(),
            games=parsed.games, quarantined=parsed.quarantined,
        )  # fmt: skip
        cur = conn.execute(
            "SELECT game_id, season, away_team, home_team, away_pitcher, home_pitcher,"
            " away_starter_id, home_starter_id FROM games ORDER BY game_id"
        )
        games = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description or ()])
        links = link_listed_starters(games, season_rosters(2019))
        store_links(conn, links)
        counts = stored_link_counts(conn)
        unmatched = unmatched_starters(conn, season=2019, limit=1000)
    named = links["sbr_name"].notna()
    assert [(c.season, c.named, c.matched) for c in counts] == [
        (2019, int(named.sum()), int(links["listed_starter"].notna().sum()))
    ]
    left = links[named & links["listed_starter"].isna()]
    assert sorted((u.sbr_name, u.reason) for u in unmatched) == sorted(
        zip(left["sbr_name"], left["reason"], strict=True)
    )
    assert unmatched, "2019 leaves a few names unmatched (ambiguous or unknown)"

    rates = CliRunner().invoke(app, ["players", "rates"])
    assert rates.exit_code == 0, rates.output
    season = counts[0]
    share = f"{season.matched / season.named:.2%}"
    assert rates.output.splitlines()[1].split()[:3] == ["2019", str(season.named), share]
    shown = CliRunner().invoke(app, ["players", "unmatched", "--season", "2019", "--limit", "1"])
    assert shown.exit_code == 0, shown.output
    first = unmatched[0]
    side = "home" if first.side == 1 else "away"
    assert shown.output.splitlines() == [
        f"{first.game_date} {first.away_team}@{first.home_team} {side} {first.sbr_name!r}: "
        f"{first.reason}",
        "(1 shown)",
    ]
