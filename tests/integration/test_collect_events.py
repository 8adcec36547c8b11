"""Retrosheet event ingestion on real PostgreSQL: a season loads, a rerun writes nothing, a game
missing from the game log is quarantined, a merge over an earlier load ends where a first load
into a fresh database does, the loaders return what the parser produced."""

from __future__ import annotations

import dataclasses
import gzip
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from bullpen.collect.history import replay
from bullpen.collect.history.events import load as events
from bullpen.collect.history.events import store as events_store
from bullpen.collect.history.events.rows import TABLE_COLUMNS, to_frames
from bullpen.collect.history.events.season import read_event_season
from bullpen.db import engine
from bullpen.db.staging import table_fingerprints
from bullpen.runtime import prepare_database
from tests.conftest import DATA

TARBALL = DATA / "retrosheet" / "events" / "2019.tar.gz"
GAMELOG = DATA / "retrosheet" / "GL2019.TXT.gz"
DROPPED = '"20190409","0","Tue","TOR","AL",'  # TOR@BOS, event game BOS201904090

EVENT_TABLES = {
    "event_games": "SELECT e::text FROM event_games e ORDER BY game_key",
    "plate_appearances": "SELECT p::text FROM plate_appearances p ORDER BY game_key, seq",
    "pitcher_games": "SELECT p::text FROM pitcher_games p ORDER BY game_key, pitcher",
    "lineups": "SELECT l::text FROM lineups l ORDER BY game_key, side, batting_order",
    "rosters": "SELECT r::text FROM rosters r ORDER BY season, team, player",
    "quarantine": "SELECT (source, file, row_number, reason, raw)::text FROM quarantine"
    " ORDER BY source, file, row_number, reason",
    "ledger": "SELECT (source, file, sha256, games, quarantined, loaded_at)::text"
    " FROM ingested_files ORDER BY source, file",
}


@pytest.fixture(scope="module")
def gamelog_without_one_game(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GL2019 less the TOR@BOS game of 2019-04-09 (which the event files have)."""
    lines = gzip.decompress(GAMELOG.read_bytes()).decode("latin-1").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(DROPPED)]
    assert len(kept) == len(lines) - 1
    path = tmp_path_factory.mktemp("logs") / "GL2019.TXT.gz"
    path.write_bytes(gzip.compress("".join(kept).encode("latin-1")))
    return path


def _state(url: str) -> dict[str, tuple[int, str]]:
    with engine.connect(url) as conn:
        return table_fingerprints(conn, EVENT_TABLES)


def test_season_loads_reruns_skip_and_missing_game_is_quarantined(
    bullpen_env: dict[str, str], pg_server_url: str, gamelog_without_one_game: Path
) -> None:
    url = bullpen_env["BULLPEN_DATABASE_URL"]
    first = replay.replay_events(url, TARBALL, gamelog_without_one_game)
    assert (first.skipped, first.files_written, first.files_skipped) == (False, 31, 0)
    assert (first.games, first.plate_appearances, first.quarantined) == (2428, 186_439, 1)
    after_first = _state(url)
    with engine.connect(url) as conn:
        counts = events_store.count_rows(conn)
        quarantined = conn.execute(
            "SELECT file, reason, raw->>'game_key' FROM quarantine WHERE source = %s",
            (events_store.SOURCE,),
        ).fetchall()
        ledger = conn.execute(
            "SELECT count(*) FROM ingested_files WHERE source = %s", (events_store.SOURCE,)
        ).fetchone()
    assert counts == {
        "event_games": 2428,
        "plate_appearances": 186_439,
        "pitcher_games": first.pitcher_games,
        "lineups": first.lineups,
        "rosters": 1568,
    }
    ((file, reason, game_key),) = quarantined
    assert (file, game_key) == ("2019.tar.gz:2019/2019BOS.EVA", "BOS201904090")
    assert "is not in the season's game log" in reason
    assert ledger == (32,)  # 30 event files, the rosters, the season

    # Rerun: the season's ledger row matches, nothing is parsed or written.
    second = replay.replay_events(url, TARBALL, gamelog_without_one_game)
    assert second.skipped and second.files_written == 0
    assert _state(url) == after_first  # ledger's loaded_at included: not even rewritten

    # Without the season row (a crash after the last file), every file is skipped on its own.
    with engine.connect(url) as conn:
        conn.execute("DELETE FROM ingested_files WHERE file = '2019.tar.gz'")
        conn.commit()
    third = replay.replay_events(url, TARBALL, gamelog_without_one_game)
    assert (third.skipped, third.files_written, third.files_skipped) == (False, 0, 31)
    with engine.connect(url) as conn:
        assert events_store.count_rows(conn) == counts

    # The full game log changes every event file's digest: the missing game arrives, no other
    # row is rewritten (the merge skips unchanged rows), the quarantine record stays as history.
    newest = "SELECT max(xmin::text::bigint) FROM plate_appearances"
    with engine.connect(url) as conn:
        before = conn.execute(newest).fetchone()
    fourth = replay.replay_events(url, TARBALL, GAMELOG)
    assert (fourth.files_written, fourth.games, fourth.quarantined) == (30, 2429, 0)
    with engine.connect(url) as conn:
        assert before is not None
        rewritten = conn.execute(
            "SELECT count(DISTINCT game_key) FROM plate_appearances WHERE xmin::text::bigint > %s",
            (before[0],),
        ).fetchone()
        assert events_store.count_rows(conn)["event_games"] == 2429
    assert rewritten == (1,)  # only BOS201904090's rows were written

    # That merge (every file was in the tables) ends with the rows that a first load of the same
    # inputs writes into a fresh database (straight COPY, no merge).
    fresh = _fresh_database(pg_server_url)
    first_load = replay.replay_events(fresh, TARBALL, GAMELOG)
    assert (first_load.files_written, first_load.games) == (31, 2429)
    rows_only = [t for t in EVENT_TABLES if t not in ("quarantine", "ledger")]
    merged, loaded = _state(url), _state(fresh)
    assert {t: merged[t] for t in rows_only} == {t: loaded[t] for t in rows_only}


def _fresh_database(server_url: str) -> str:
    url = engine.ensure_database(server_url, f"bullpen_events_{uuid.uuid4().hex[:8]}")
    prepare_database(url)
    return url


def test_a_game_already_loaded_from_another_file_is_merged_not_copied(pg_server_url: str) -> None:
    """A file none of whose rows are loaded may still hold a game the tables have under another
    file (the first file of a game id wins, and a changed tarball can change which is first):
    the straight COPY of a first load would break the keys, so the merge path takes it over."""
    url = _fresh_database(pg_server_url)
    parse = read_event_season(TARBALL, GAMELOG)
    batch = next(
        b for b in events_store.split_by_file(parse, season_file=TARBALL.name) if b.kind == "events"
    )
    other = "2019.tar.gz:2019/2019XXX.EVN"
    moved = dataclasses.replace(
        batch,
        file=other,
        rows=dataclasses.replace(
            batch.rows,
            games=[dataclasses.replace(g, source_file=other) for g in batch.rows.games],
            plate_appearances=batch.rows.plate_appearances[:-1],  # gone in the new file
        ),
    )
    with engine.connect(url) as conn:
        events_store.write_event_file(conn, batch)
        before = events_store.count_rows(conn)
        events_store.write_event_file(conn, moved)  # COPY would raise UniqueViolation
        after = events_store.count_rows(conn)
        files = conn.execute("SELECT DISTINCT source_file FROM event_games").fetchall()
    assert before["plate_appearances"] == len(batch.rows.plate_appearances) > 0
    assert after == {**before, "plate_appearances": before["plate_appearances"] - 1}
    assert files == [(other,)]


def test_two_loaders_of_the_same_file_at_once_take_turns(pg_server_url: str) -> None:
    """Both start on an empty database (both would take the first-load COPY): one writes, the
    other waits for it, then finds its ledger row and skips; neither fails."""
    url = _fresh_database(pg_server_url)
    parse = read_event_season(TARBALL, GAMELOG)
    batch = max(
        (b for b in events_store.split_by_file(parse, season_file=TARBALL.name)),
        key=lambda b: len(b.rows.plate_appearances),
    )
    start = threading.Barrier(2)

    def load(_: int) -> events_store.EventWriteSummary:
        with engine.connect(url) as conn:
            start.wait()
            return events_store.write_event_file(conn, batch)

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(load, range(2)))
    assert sorted(s.skipped for s in summaries) == [False, True]
    with engine.connect(url) as conn:
        assert events_store.count_rows(conn)["plate_appearances"] == len(
            batch.rows.plate_appearances
        )


def test_seasons_in_two_processes_load_like_one_after_the_other(pg_server_url: str) -> None:
    seasons = [s for s in replay.find_event_seasons(DATA) if s.season in (2018, 2019)]
    assert [s.season for s in seasons] == [2018, 2019]
    url = _fresh_database(pg_server_url)
    summaries = replay.replay_event_seasons(url, seasons, workers=2)
    assert [(s.season, s.skipped, s.files_written) for s in summaries] == [
        (2018, False, 31),
        (2019, False, 31),
    ]
    with engine.connect(url) as conn:
        counts = events_store.count_rows(conn)
        by_season = dict(conn.execute("SELECT season, count(*) FROM event_games GROUP BY 1"))
    assert counts["plate_appearances"] == sum(s.plate_appearances for s in summaries)
    assert counts["plate_appearances"] > 186_517  # 2019 alone has that many
    assert counts["pitcher_games"] == sum(s.pitcher_games for s in summaries)
    assert by_season == {s.season: s.games for s in summaries}
    assert all(s.skipped for s in replay.replay_event_seasons(url, seasons, workers=2))


def test_loaders_return_the_parse(bullpen_env: dict[str, str]) -> None:
    url = bullpen_env["BULLPEN_DATABASE_URL"]
    replay.replay_events(url, TARBALL, GAMELOG)  # skipped when the test above loaded it
    frames = to_frames(read_event_season(TARBALL, GAMELOG))
    cutoff = date(2019, 5, 1)
    with engine.connect(url) as conn:
        pitchers = events.load_pitcher_games(conn)
        early = events.load_pitcher_games(conn, before=cutoff)
        pas = events.load_plate_appearances(conn, before=cutoff)
        lineups = events.load_lineups(conn)
        rosters = events.load_rosters(conn)
        seasons = events.events_seasons(conn)
    assert seasons == [2019]
    assert tuple(pitchers.columns) == TABLE_COLUMNS["pitcher_games"]
    assert tuple(pas.columns) == TABLE_COLUMNS["plate_appearances"]
    assert tuple(rosters.columns) == TABLE_COLUMNS["rosters"]
    assert len(pitchers) == len(frames["pitcher_games"])
    for column in ("batters_faced", "outs_recorded", "pitches", "earned_runs", "runs_allowed"):
        assert pitchers[column].sum() == frames["pitcher_games"][column].sum(), column
    # Booleans come back as booleans (CSV's t/f read as strings made every line a start).
    assert pitchers["is_starter"].dtype == bool
    assert pitchers["is_starter"].sum() == frames["pitcher_games"]["is_starter"].sum()
    assert pitchers["is_starter"].sum() == 2 * pitchers["game_key"].nunique()
    assert (early["game_date"] < "2019-05-01").all() and 0 < len(early) < len(pitchers)
    expected_pas = frames["plate_appearances"]
    assert len(pas) == (expected_pas["game_date"] < cutoff).sum()
    assert set(lineups.columns) == {*TABLE_COLUMNS["lineups"], "game_date", "team"}
    assert len(lineups) == len(frames["lineups"])
    home = lineups[(lineups.game_key == "BOS201904090") & (lineups.side == 1)]
    assert set(home.team) == {"BOS"} and list(home.batting_order) == list(range(1, 10))
