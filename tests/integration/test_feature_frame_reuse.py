"""The feature frame kept in the process (features.dataset: the play-by-play tables, the team
part, the player rows already computed) equals a frame built cold after each kind of change the
live path makes: a new probable pitcher (a ledger row only), a changed game row, a new game.
Real Postgres, a real season of play-by-play (2021), schedules served over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest

from bullpen import runtime
from bullpen.collect import http
from bullpen.collect.history import replay
from bullpen.collect.live import collector
from bullpen.db import engine
from bullpen.features import dataset
from tests.conftest import DATA
from tests.integration.live_api_server import RecordedApi, Reply, fixture, recorded_api

SCHEDULE = "/api/v1/schedule"
TWO_DAYS = "mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"
DAYS = ("2030-07-20", "2030-07-21")


@pytest.fixture
def api() -> Iterator[RecordedApi]:
    with recorded_api() as server:
        yield server


def _schedule(probables: dict[int, tuple[int, int]]) -> bytes:
    """The hand-made two-day schedule, these games' probables set to real MLB ids."""
    payload = json.loads(fixture(TWO_DAYS))
    for day in payload["dates"]:
        for game in day["games"]:
            for side, pid in zip(("away", "home"), probables.get(game["gamePk"], ()), strict=False):
                game["teams"][side]["probablePitcher"] = {"id": pid, "fullName": f"id {pid}"}
    return json.dumps(payload).encode()


def _collect(url: str, api: RecordedApi, body: bytes) -> None:
    api.serve(SCHEDULE, Reply(200, body))
    client = http.make_client(api.url, 2.0)
    try:
        src = http.Source(
            "mlb_stats",
            client,
            http.RetryPolicy(max_attempts=2, backoff_base=0.1),
            http.CircuitBreaker("mlb_stats", failure_threshold=10),
        )
        with engine.connect(url) as conn:
            collector.collect_games(conn, src, *(date.fromisoformat(d) for d in DAYS))
    finally:
        client.close()


def _warm_equals_cold(url: str) -> pd.DataFrame:
    warm = dataset.load_feature_frame(url, "shin")
    dataset.clear_caches()
    cold = dataset.load_feature_frame(url, "shin")
    pd.testing.assert_frame_equal(warm, cold)
    return warm.set_index("game_id")


def test_a_frame_kept_in_the_process_equals_a_cold_build_after_each_change(
    pg_server_url: str, api: RecordedApi
) -> None:
    url = engine.ensure_database(pg_server_url, f"reuse_{uuid.uuid4().hex[:10]}")
    runtime.prepare_database(url)
    replay.replay_events(
        url, DATA / "retrosheet" / "events" / "2021.tar.gz", DATA / "retrosheet" / "GL2021.TXT.gz"
    )
    _collect(url, api, fixture(TWO_DAYS))
    dataset.clear_caches()
    first = dataset.load_feature_frame(url, "shin").set_index("game_id")
    with engine.connect(url) as conn:
        row = conn.execute("SELECT game_id FROM mlb_games WHERE game_pk = 900007").fetchone()
    assert row is not None
    game = int(row[0])
    assert first.loc[game, "home_sp_known"] == 0

    # A probable pitcher listed: only the file ledger changes, the team part is reused.
    _collect(url, api, _schedule({900007: (477132, 657277)}))
    frame = _warm_equals_cold(url)
    assert (frame.loc[game, "away_listed_starter"], frame.loc[game, "home_listed_starter"]) == (
        "kersc001",
        "webbl001",
    )
    assert frame.loc[game, "home_sp_bf"] > 0

    # A game row changes (SBR's starter cell): team part and that game's player row rebuilt.
    dataset.load_feature_frame(url, "shin")
    with engine.connect(url) as conn:
        conn.execute("UPDATE games SET away_pitcher = 'C KERSHAW' WHERE game_id = %s", (game,))
        conn.commit()
    frame = _warm_equals_cold(url)
    assert frame.loc[game, "away_pitcher"] == "C KERSHAW"

    # The game's result and a new game (its copy a day later, whose team features count that
    # result), and the probables of another game listed.
    dataset.load_feature_frame(url, "shin")
    with engine.connect(url) as conn:
        conn.execute(
            "INSERT INTO results (game_id, away_score, home_score, source) VALUES (%s, 3, 5, %s)",
            (game, "test"),
        )
        conn.execute(
            "INSERT INTO games (season, game_date, away_team, home_team, game_number,"
            " neutral_site) SELECT season, game_date + 1, away_team, home_team, 2, neutral_site"
            " FROM games WHERE game_id = %s",
            (game,),
        )
        conn.commit()
    others = [pk for pk in _game_pks() if pk != 900007]
    _collect(url, api, _schedule({900007: (477132, 657277), others[0]: (657277, 477132)}))
    frame = _warm_equals_cold(url)
    assert len(frame) == len(first) + 1
    copy = frame[(frame["game_number"] == 2) & (frame["home_team"] == frame.loc[game, "home_team"])]
    assert copy["home_games_played"].iloc[0] == frame.loc[game, "home_games_played"] + 1


def _game_pks() -> list[int]:
    payload = json.loads(fixture(TWO_DAYS))
    return [g["gamePk"] for day in payload["dates"] for g in day["games"]]
