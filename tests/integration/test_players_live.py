"""Players, live (#17 item 2) on real PostgreSQL, with API answers served over HTTP: probable
pitchers linked by the register (unmapped ones kept with the reason), a pick flagged when its
game's probable changes afterwards, and finished games' feeds into the play-by-play tables."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest

from bullpen import runtime
from bullpen.collect import http
from bullpen.collect.history.events import load as event_tables
from bullpen.collect.live import collector, game_feed, store
from bullpen.db import engine
from bullpen.db.games import load_game_frame
from bullpen.players import probables
from bullpen.players.linking import attach_listed_starters, link_listed_starters
from tests.integration.live_api_server import RecordedApi, Reply, fixture, json_reply, recorded_api

SCHEDULE = "/api/v1/schedule"
TWO_DAYS = "mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"
FEED_PATH = "/api/v1.1/game/715720/feed/live"
FEED = "mlb_statsapi/game_715720_feed_live.json"
ROSTER_COLUMNS = ["season", "team", "player", "last_name", "first_name", "position"]


@pytest.fixture(scope="module")
def api() -> Iterator[RecordedApi]:
    with recorded_api() as server:
        yield server


@pytest.fixture
def db(pg_server_url: str) -> Iterator[psycopg.Connection]:
    url = engine.ensure_database(pg_server_url, f"players_{uuid.uuid4().hex[:10]}")
    runtime.prepare_database(url)
    with engine.connect(url) as conn:
        yield conn


_CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def source(api: RecordedApi) -> http.Source:
    client = http.make_client(api.url, 2.0)
    _CLIENTS.append(client)
    return http.Source(
        "mlb_stats",
        client,
        http.RetryPolicy(max_attempts=2, backoff_base=0.1),
        http.CircuitBreaker("mlb_stats", failure_threshold=10),
    )


def _with_probables(away: int, home: int) -> bytes:
    """The two-day schedule with LAD @ SF's probables replaced by real pitchers' MLB ids."""
    payload = json.loads(fixture(TWO_DAYS))
    for day in payload["dates"]:
        for game in day["games"]:
            if game["gamePk"] == 900007:
                for side, pid in (("away", away), ("home", home)):
                    game["teams"][side]["probablePitcher"] = {"id": pid, "fullName": f"id {pid}"}
    return json.dumps(payload).encode()


def _open_pick(conn: psycopg.Connection, game_pk: int) -> int:
    """A pick on the game, decided now (written as the ledger writes one: bet + opened event)."""
    with conn.transaction():
        bet = conn.execute(
            "INSERT INTO bets (game_id, side, strategy_version, model_version, book,"
            " price_american, price_decimal, quoted_at, stake, bankroll, p_home, p_away,"
            " consensus_home, consensus_method, reason, opened_at, updated_at)"
            " SELECT game_id, 'home', 'opener-v1', 'm1', 'fanduel', 120, 2.2, now(), 10, 1000,"
            " 0.5, 0.5, 0.45, 'median/shin', 'edge', now(), now() FROM mlb_games"
            " WHERE game_pk = %s RETURNING bet_id",
            (game_pk,),
        ).fetchone()
        assert bet is not None
        conn.execute(
            "INSERT INTO bet_events (bet_id, kind, state_after, book, price_american,"
            " price_decimal, stake, at) VALUES (%s, 'opened', 'open', 'fanduel', 120, 2.2, 10,"
            " now())",
            (bet[0],),
        )
    return int(bet[0])


def test_probables_are_linked_reported_and_a_later_change_flags_the_pick(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    days = (date(2030, 7, 20), date(2030, 7, 21))
    api.serve(SCHEDULE, json_reply(TWO_DAYS))
    first = collector.collect_games(db, source(api), *days)
    # Every game side gets its first listing; LAD @ SF's invented ids 1 and 2 stay unmapped.
    assert first.games == 6
    assert (first.probables, first.probables_unmapped, first.starter_changes) == (12, 2, 0)
    unmapped = probables.unmapped(db)
    assert [(u.away_team, u.home_team, u.side, u.mlb_id, u.reason) for u in unmapped] == [
        ("LAD", "SF", 0, 1, "MLB id 1 is not in the register (no Retrosheet id)"),
        ("LAD", "SF", 1, 2, "MLB id 2 is not in the register (no Retrosheet id)"),
    ]
    bet = _open_pick(db, 900007)

    # The probables are announced later: Kershaw (LAD) and Webb (SF), real MLB ids.
    api.serve(SCHEDULE, Reply(200, _with_probables(477132, 657277)))
    second = collector.collect_games(db, source(api), *days)
    assert (second.probables, second.probables_unmapped, second.starter_changes) == (2, 0, 2)
    flags = probables.starter_changes(db, bet)
    assert [(f.side, f.mlb_id_before, f.mlb_id_after) for f in flags] == [
        (0, 1, 477132),
        (1, 2, 657277),
    ]
    assert probables.unmapped(db) == []
    # A rerun of the same answer adds no listing and no flag.
    third = collector.collect_games(db, source(api), *days)
    assert (third.probables, third.starter_changes) == (0, 0)
    assert len(probables.starter_changes(db)) == 2

    # The feature frame's link step gives the live game its starters by Retrosheet id.
    games = load_game_frame(db)
    links = link_listed_starters(games, probables_frame_rosters())
    linked = attach_listed_starters(games, probables.apply_probables(links, _listed(db)))
    game = linked.set_index("game_id").loc[_game_id(db, 900007)]
    assert (game["away_listed_starter"], game["home_listed_starter"]) == ("kersc001", "webbl001")
    others = linked[linked["game_id"] != _game_id(db, 900007)]
    assert others["home_listed_starter"].isna().all()


def probables_frame_rosters() -> Any:
    import pandas as pd

    return pd.DataFrame(columns=ROSTER_COLUMNS)


def _listed(db: psycopg.Connection) -> Any:
    return probables.load_listed_probables(db)


def _game_id(db: psycopg.Connection, game_pk: int) -> int:
    row = db.execute("SELECT game_id FROM mlb_games WHERE game_pk = %s", (game_pk,)).fetchone()
    assert row is not None
    return int(row[0])


def _agreeing_feed() -> bytes:
    """The recorded feed (plays trimmed upstream to two) with the boxscore cut, in code, to what
    those two plays hold, as in tests/unit/collect/live/test_game_feed.py."""
    feed = json.loads(fixture(FEED))
    out = copy.deepcopy(feed)
    for side, faced in (("away", 0), ("home", 2)):
        stats = out["liveData"]["boxscore"]["teams"][side]["teamStats"]["pitching"]
        stats.update(strikeOuts=0, baseOnBalls=0, homeRuns=0, battersFaced=faced)
    return json.dumps(out).encode()


def test_finished_games_feeds_fill_the_play_by_play_tables_once(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    # The World Series game lands as a final game (its feed stands in for the schedule).
    api.serve(FEED_PATH, json_reply(FEED))
    feed, parsed = collector._feed(source(api), 715720, date(2022, 11, 3))
    store.write_games_batch(db, [(feed, parsed)])
    day = (date(2022, 11, 3), date(2022, 11, 3))

    # The recorded feed's plays were trimmed: refused with the differences, nothing written.
    refused = collector.collect_finished_games(db, source(api), *day)
    assert (refused.plays_loaded, refused.plays_quarantined, refused.waiting) == (0, 1, 1)
    reason = db.execute(
        "SELECT reason FROM quarantine WHERE file = %s", (game_feed.feed_file(715720),)
    ).fetchone()
    assert reason is not None and reason[0].startswith("plays disagree with the boxscore")
    assert db.execute("SELECT count(*) FROM event_games").fetchone() == (0,)

    # A truncated answer is refused too.
    api.serve(FEED_PATH, Reply(200, fixture(FEED)[:4000]))
    cut = collector.collect_finished_games(db, source(api), *day)
    assert (cut.plays_loaded, cut.plays_quarantined) == (0, 1)

    api.serve(FEED_PATH, Reply(200, _agreeing_feed()))
    loaded = collector.collect_finished_games(db, source(api), *day)
    assert (loaded.plays_loaded, loaded.plays_quarantined, loaded.waiting) == (1, 0, 0)
    counts = {
        t: db.execute(f"SELECT count(*) FROM {t}").fetchone()
        for t in ("event_games", "plate_appearances", "pitcher_games", "lineups")
    }
    assert counts == {
        "event_games": (1,),
        "plate_appearances": (2,),
        "pitcher_games": (11,),
        "lineups": (18,),
    }
    # The readers the player features use see the game like an event file's.
    pa = event_tables.load_plate_appearances(db)
    assert pa[["batter", "pitcher", "outcome"]].values.tolist() == [
        ["altuj001", "syndn001", "2B"],
        ["penaj004", "syndn001", "1B"],
    ]
    assert len(event_tables.load_pitcher_games(db)) == 11
    starters = db.execute("SELECT pitcher FROM pitcher_games WHERE is_starter ORDER BY 1")
    assert starters.fetchall() == [("syndn001",), ("verlj001",)]

    # Idempotent: the ledger has the feed, so a rerun asks for nothing and writes nothing.
    asked = len(api.seen(FEED_PATH))
    again = collector.collect_finished_games(db, source(api), *day)
    assert (again.plays_loaded, again.waiting, len(api.seen(FEED_PATH))) == (0, 0, asked)
    assert db.execute("SELECT count(*) FROM plate_appearances").fetchone() == (2,)


def test_a_linked_probable_gives_the_live_game_its_starter_features(
    pg_server_url: str, api: RecordedApi
) -> None:
    """A real season of play-by-play (2021), then a live game whose probables are Kershaw and
    Webb (both pitched in 2021): the feature frame knows both starters, so the live decision no
    longer names `<side>_listed_starter` among its missing features; with the invented ids of
    the hand-made schedule it still does."""
    from bullpen.betting.live import missing_by_game
    from bullpen.collect.history import replay
    from bullpen.features.dataset import load_feature_frame
    from tests.conftest import DATA

    url = engine.ensure_database(pg_server_url, f"players_{uuid.uuid4().hex[:10]}")
    runtime.prepare_database(url)
    events = DATA / "retrosheet" / "events" / "2021.tar.gz"
    replay.replay_events(url, events, DATA / "retrosheet" / "GL2021.TXT.gz")
    days = (date(2030, 7, 20), date(2030, 7, 21))
    features = ["home_sp_known", "away_sp_known"]
    with engine.connect(url) as conn:
        api.serve(SCHEDULE, json_reply(TWO_DAYS))
        collector.collect_games(conn, source(api), *days)
        game_id = _game_id(conn, 900007)
    before = load_feature_frame(url, "shin").set_index("game_id").loc[[game_id]].reset_index()
    assert missing_by_game(before, features)[game_id] == (
        "home_listed_starter",
        "away_listed_starter",
    )

    with engine.connect(url) as conn:
        api.serve(SCHEDULE, Reply(200, _with_probables(477132, 657277)))
        collector.collect_games(conn, source(api), *days)
    frame = load_feature_frame(url, "shin").set_index("game_id")
    game = frame.loc[game_id]
    assert (game["away_listed_starter"], game["home_listed_starter"]) == ("kersc001", "webbl001")
    assert (game["away_sp_known"], game["home_sp_known"]) == (1, 1)
    assert game["away_sp_bf"] > 0 and game["home_sp_bf"] > 0  # their 2021 lines count
    assert missing_by_game(frame.loc[[game_id]].reset_index(), features)[game_id] == ()
