"""collect-history on real PostgreSQL: reruns are identical, a killed replay loses nothing, the
play-by-play of a season without odds loads beside the odds seasons."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bullpen import runtime
from bullpen.collect.history import replay
from bullpen.collect.history.store import history_fingerprints
from bullpen.db import engine
from bullpen.ops import prefect_process
from tests.conftest import DATA
from tests.integration.conftest import stage_seasons

SEASONS = [2016, 2019]  # a Retrosheet season with an unplayed game, and the Tokyo/typo season


EVENT_SEASON = 2009  # play-by-play and a game log, no odds: events load, `games` does not


@pytest.fixture(scope="module")
def replay_env(bullpen_env: dict[str, str]) -> dict[str, str]:
    data_dir = stage_seasons(Path(bullpen_env["BULLPEN_DATA_DIR"]), SEASONS)
    (data_dir / "retrosheet" / "events").mkdir(parents=True)
    shutil.copy(DATA / "retrosheet" / f"GL{EVENT_SEASON}.TXT.gz", data_dir / "retrosheet")
    shutil.copy(
        DATA / "retrosheet" / "events" / f"{EVENT_SEASON}.tar.gz", data_dir / "retrosheet/events"
    )
    return bullpen_env


def _fingerprints(url: str) -> dict[str, tuple[int, str]]:
    with engine.connect(url) as conn:
        return history_fingerprints(conn)


def test_collect_history_rerun_changes_nothing(
    replay_env: dict[str, str], prefect_server: None
) -> None:
    flow = prefect_process.load_flow("collect_history.py:collect_history")
    first = flow()  # type: ignore[operator]
    after_first = _fingerprints(replay_env["BULLPEN_DATABASE_URL"])
    second = flow()  # type: ignore[operator]
    after_second = _fingerprints(replay_env["BULLPEN_DATABASE_URL"])

    files = ["mlb_odds_2016.csv.gz", "mlb_odds_2019.csv.gz", f"{EVENT_SEASON}.tar.gz"]
    assert [s["file"] for s in first] == files
    assert first[:2] == second[:2]
    events_first, events_second = first[2], second[2]
    assert (events_first["skipped"], events_first["games"]) == (False, 2430)
    assert events_second["skipped"] is True  # the ledger has the season: nothing written
    assert after_first == after_second
    with engine.connect(replay_env["BULLPEN_DATABASE_URL"]) as conn:
        game_seasons = conn.execute("SELECT DISTINCT season FROM games ORDER BY 1").fetchall()
        event_games = conn.execute("SELECT count(*) FROM event_games").fetchone()
    assert game_seasons == [(2016,), (2019,)]  # the 2009 game log stays out of `games`
    assert event_games == (2430,)
    games, results, odds = (after_first[t][0] for t in ("games", "results", "odds"))
    assert 2 * 2400 < games < 2 * 2600
    assert results >= games - 10  # only unplayed games lack a result
    assert odds >= 2 * games - 40  # an open and a close line for nearly every game
    assert (
        after_first["quarantine"][0] > 0
    )  # the 2019 typo line and NL opens are kept, with reasons


def test_replay_killed_mid_file_then_rerun_equals_clean_run(
    bullpen_env: dict[str, str], pg_server_url: str, tmp_path: Path
) -> None:
    """SIGKILL a replay process while its 2019 transaction is open (games merged, odds being
    written), then rerun: the database must equal one clean replay, table for table."""
    data_dir = stage_seasons(tmp_path / "data", [2018, 2019])
    crashed_url = engine.ensure_database(pg_server_url, "crash_test")
    clean_url = engine.ensure_database(pg_server_url, "clean_test")
    for url in (crashed_url, clean_url):
        runtime.prepare_database(url)
    with engine.connect(crashed_url, autocommit=True) as conn:
        # Test-only trigger: hold the transaction open at the first 2019 odds row so the kill
        # provably lands mid-file; the server drops the dead client's session within 200 ms.
        conn.execute(HOLD_TRIGGER)
        conn.execute("ALTER DATABASE crash_test SET client_connection_check_interval = '200ms'")

    script = (
        "import sys; from pathlib import Path; from bullpen.collect.history import replay\n"
        "for files in replay.find_season_files(Path(sys.argv[1])):\n"
        "    replay.replay_season(sys.argv[2], files)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(data_dir), crashed_url])
    try:
        _wait_for_sleeping_writer(crashed_url, timeout=90)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    _wait_for_no_writer(crashed_url, timeout=30)

    with engine.connect(crashed_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER hold_2019 ON odds")
        seasons = conn.execute("SELECT DISTINCT season FROM games ORDER BY 1").fetchall()
    assert seasons == [(2018,)], "2018 committed before the kill; nothing of 2019 may be visible"

    for files in replay.find_season_files(data_dir):
        replay.replay_season(crashed_url, files)
        replay.replay_season(clean_url, files)
    assert _fingerprints(crashed_url) == _fingerprints(clean_url)


HOLD_TRIGGER = """
CREATE FUNCTION hold_2019() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT season FROM games WHERE game_id = NEW.game_id) = 2019 THEN
        PERFORM pg_sleep(60);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_2019 BEFORE INSERT ON odds FOR EACH ROW EXECUTE FUNCTION hold_2019();
"""


def _writers(url: str, condition: str) -> int:
    with engine.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            f" AND pid <> pg_backend_pid() AND {condition}"
        ).fetchone()
    return int(row[0]) if row else 0


def _wait_for_sleeping_writer(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _writers(url, "wait_event = 'PgSleep'") == 0:
        assert time.monotonic() < deadline, "the replay never reached the 2019 odds write"
        time.sleep(0.1)


def _wait_for_no_writer(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _writers(url, "backend_type = 'client backend'") > 0:
        assert time.monotonic() < deadline, "the killed client's session is still open"
        time.sleep(0.1)
