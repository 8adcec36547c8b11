"""Live collectors against a local server replaying recorded API answers, on real PostgreSQL."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr

from bullpen import runtime
from bullpen.collect import http
from bullpen.collect.history.store import history_fingerprints
from bullpen.collect.http import CircuitOpenError, SourceError, TransientSourceError
from bullpen.collect.live import archive, collector, store
from bullpen.collect.live.mlb_stats import parse_schedule
from bullpen.collect.live.odds_api import OddsRequest, QuotaExhaustedError, parse_odds
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.ops import prefect_process
from tests.integration.live_api_server import RecordedApi, Reply, fixture, json_reply, recorded_api
from tests.integration.live_payloads import (
    ANY_BODY,
    BASE,
    OddsCase,
    ScheduleCase,
    odds_cases,
    schedule_cases,
)

SCHEDULE = "/api/v1/schedule"
ODDS = "/v4/sports/baseball_mlb/odds"
TEST_KEY = "test-key-7f3a9c"  # not a real key; must never reach the database or a log
QUOTA = {"x-requests-remaining": "497", "x-requests-used": "3", "x-requests-last": "3"}

# Library calls log warnings (retries) outside a flow run; Prefect's API handler notes that.
pytestmark = pytest.mark.filterwarnings("ignore:Logger .* attempted to send logs to the API")


@pytest.fixture(scope="module")
def api() -> Iterator[RecordedApi]:
    with recorded_api() as server:
        yield server


@pytest.fixture(scope="module")
def live_env(bullpen_env: dict[str, str], api: RecordedApi) -> Iterator[dict[str, str]]:
    """The module's database, with both APIs pointed at the local server."""
    env = {
        "BULLPEN_MLB_STATS_BASE_URL": api.url,
        "BULLPEN_ODDS_API_BASE_URL": api.url,
        "BULLPEN_ODDS_API_KEY": TEST_KEY,
        "BULLPEN_HTTP_TIMEOUT_SECONDS": "2",
        "BULLPEN_HTTP_MAX_ATTEMPTS": "3",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        get_settings.cache_clear()
        yield {**bullpen_env, **env}
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def library_db(pg_server_url: str) -> str:
    """One migrated database for the library-level tests (fewer databases: a faster server)."""
    url = engine.ensure_database(pg_server_url, f"live_{uuid.uuid4().hex[:10]}")
    runtime.prepare_database(url)
    return url


@pytest.fixture
def db(library_db: str) -> Iterator[psycopg.Connection]:
    """A connection to that database, emptied of every game, price and payload first."""
    with engine.connect(library_db) as conn:
        conn.execute(
            "TRUNCATE games, results, odds, quarantine, raw_payloads, mlb_games, bookmakers,"
            " odds_events, odds_snapshots RESTART IDENTITY CASCADE"
        )
        conn.commit()
        yield conn


_CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def source(
    api: RecordedApi,
    name: str = "mlb_stats",
    *,
    attempts: int = 3,
    timeout: float = 0.5,
    breaker: http.CircuitBreaker | None = None,
    clock: Any = http.utc_now,
) -> http.Source:
    client = http.make_client(api.url, timeout)
    _CLIENTS.append(client)
    return http.Source(
        name,
        client,
        http.RetryPolicy(max_attempts=attempts, backoff_base=0.2),
        breaker or http.CircuitBreaker(name, failure_threshold=10),
        clock=clock,
    )


def count(conn: psycopg.Connection, query: str, *args: object) -> int:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return int(row[0])


def fingerprints(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    return {**history_fingerprints(conn), **store.live_fingerprints(conn)}


# -- flows ------------------------------------------------------------------------------------


def test_collect_games_flow_lands_a_recorded_day_and_reruns_identically(
    live_env: dict[str, str], api: RecordedApi, prefect_server: None
) -> None:
    api.serve(SCHEDULE, json_reply("mlb_statsapi/schedule_date_2022-04-07.json"))
    flow = prefect_process.load_flow("collect_live.py:collect_games")
    first = flow(start_date=date(2022, 4, 7))  # type: ignore[operator]
    with engine.connect(live_env["BULLPEN_DATABASE_URL"]) as conn:
        after_first = fingerprints(conn)
        second = flow(start_date=date(2022, 4, 7))  # type: ignore[operator]
        after_second = fingerprints(conn)
        rainout = conn.execute(
            "SELECT g.game_date, g.away_team, g.home_team, g.game_number, m.status,"
            " m.status_reason, m.listed_date, (SELECT count(*) FROM results r"
            " WHERE r.game_id = g.game_id) FROM mlb_games m JOIN games g USING (game_id)"
            " WHERE m.game_pk = 661750"
        ).fetchone()
        finals = count(conn, "SELECT count(*) FROM results WHERE source = 'mlb_stats'")

    # The rerun records no new probable listing (the first run listed all 18 game sides).
    assert (first["probables"], second["probables"]) == (18, 0)
    assert {**first, "probables": 0} == second
    assert (first["games"], first["results"], first["quarantined"]) == (9, 7, 0)
    # The 7 finals' feeds are not served here: asked for, refused (404), asked again next run.
    assert (first["plays"]["plays_quarantined"], first["plays"]["waiting"]) == (7, 7)
    assert [s.query for s in api.seen(SCHEDULE)] == 2 * [
        {"sportId": "1", "hydrate": "probablePitcher", "date": "2022-04-07"}
    ]
    # A rerun archives its own fetches (the schedule, 7 feeds) and changes nothing else.
    assert after_second["raw_payloads"][0] == after_first["raw_payloads"][0] + 1 + 7
    assert {k: v for k, v in after_second.items() if k != "raw_payloads"} == {
        k: v for k, v in after_first.items() if k != "raw_payloads"
    }
    assert after_first["mlb_games"][0] == 9 and finals == 7
    # Rained out on 04-07, made up on 04-08: the game row is the make-up game's, without a result.
    assert rainout == (
        date(2022, 4, 8),
        "SEA",
        "MIN",
        0,
        "postponed",
        "Inclement Weather",
        date(2022, 4, 7),
        0,
    )


def test_collect_odds_flow_snapshots_every_price_once_and_keeps_the_key_secret(
    live_env: dict[str, str],
    api: RecordedApi,
    prefect_server: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api.serve(
        ODDS, json_reply("the_odds_api/odds_v4_baseball_mlb_h2h_american_2024-05-24.json", **QUOTA)
    )
    flow = prefect_process.load_flow("collect_live.py:collect_odds")
    first = flow()  # type: ignore[operator]
    second = flow()  # type: ignore[operator]

    # 228 prices: one snapshot (both sides of the market) per book and game.
    assert (first["events"], first["snapshots"], first["new_snapshots"]) == (9, 114, 114)
    assert (second["snapshots"], second["new_snapshots"], second["requests_remaining"]) == (
        114,
        0,
        497,
    )
    query = api.seen(ODDS)[0].query
    assert query == {
        "apiKey": TEST_KEY,
        "regions": "us",
        "markets": "h2h,totals,spreads",
        "oddsFormat": "american",
        "dateFormat": "iso",
    }
    with engine.connect(live_env["BULLPEN_DATABASE_URL"]) as conn:
        assert count(conn, "SELECT count(*) FROM odds_snapshots") == 114
        assert count(conn, "SELECT count(*) FROM odds_lines") == 228
        assert count(conn, "SELECT count(*) FROM raw_payloads WHERE source = 'odds_api'") == 2
        assert archive.last_odds_quota(conn) == 497
        stored = conn.execute(
            "SELECT string_agg(request || headers::text, ' ') FROM raw_payloads"
        ).fetchone()
        quarantined = conn.execute("SELECT string_agg(q::text, ' ') FROM quarantine q").fetchone()
    assert stored is not None and TEST_KEY not in stored[0] and "apiKey" not in stored[0]
    assert quarantined is not None and TEST_KEY not in (quarantined[0] or "")
    assert "apiKey=***" in caplog.text or "apiKey" not in caplog.text
    assert TEST_KEY not in caplog.text


def test_an_explicit_odds_api_key_wins_over_the_secret_block(
    live_env: dict[str, str], api: RecordedApi, prefect_server: None
) -> None:
    """BULLPEN_ODDS_API_KEY (set by live_env) wins over a saved block (issue #19: a block used
    to win silently over the operator's explicit key)."""
    from prefect.blocks.system import Secret

    api.serve(ODDS, json_reply("the_odds_api/odds_v4_baseball_mlb_h2h_decimal_2023-08-23.json"))
    Secret(value="block-key-51d0").save("bullpen-odds-api-key", overwrite=True)
    try:
        result = prefect_process.load_flow("collect_live.py:collect_odds")(odds_format="decimal")  # type: ignore[operator]
    finally:
        Secret.delete("bullpen-odds-api-key")
    assert api.seen(ODDS)[0].query["apiKey"] == TEST_KEY
    assert api.seen(ODDS)[0].query["oddsFormat"] == "decimal"
    assert (result["events"], result["snapshots"]) == (13, 193)


# -- recorded edge cases ------------------------------------------------------------------------


def test_listings_without_teams_ask_for_their_feed_and_a_404_is_quarantined(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    api.serve(SCHEDULE, json_reply("mlb_statsapi/schedule_range_2022-10-11_2022-10-13.json"))
    for pk in (715753, 715748):
        api.serve(
            f"/api/v1.1/game/{pk}/feed/live",
            json_reply("mlb_statsapi/error_404_not_found.json", 404),
        )
    summary = collector.collect_games(db, source(api), date(2022, 10, 11), date(2022, 10, 13))

    assert (summary.games, summary.results, summary.feeds_fetched) == (6, 5, 2)
    assert api.seen(SCHEDULE)[0].query["startDate"] == "2022-10-11"
    reasons = db.execute(
        "SELECT reason, raw->>'gamePk', payload_id IS NOT NULL FROM quarantine ORDER BY 1, 2"
    ).fetchall()
    assert reasons == [
        ("game feed HTTP 404: Object not found", "715748", True),
        ("game feed HTTP 404: Object not found", "715753", True),
        ("missing teams", "715748", True),
        ("missing teams", "715753", True),
    ]
    postponed = db.execute(
        "SELECT g.game_date, g.away_team, g.home_team, m.status FROM mlb_games m"
        " JOIN games g USING (game_id) WHERE m.game_pk = 715752"
    ).fetchone()
    assert postponed == (date(2022, 10, 14), "CLE", "NYY", "postponed")
    statuses = db.execute("SELECT http_status, count(*) FROM raw_payloads GROUP BY 1 ORDER BY 1")
    assert statuses.fetchall() == [(200, 1), (404, 2)]


def test_a_game_feed_fills_in_a_real_world_series_game(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    api.serve(
        "/api/v1.1/game/715720/feed/live", json_reply("mlb_statsapi/game_715720_feed_live.json")
    )
    feed, parsed = collector._feed(source(api), 715720, date(2022, 11, 3))
    store.write_games_batch(db, [(feed, parsed)])
    row = db.execute(
        "SELECT g.game_date, g.away_team, g.home_team, r.away_score, r.home_score, m.game_type,"
        " m.away_probable_pitcher, m.home_probable_pitcher FROM mlb_games m"
        " JOIN games g USING (game_id) JOIN results r USING (game_id) WHERE m.game_pk = 715720"
    ).fetchone()
    assert row == (
        date(2022, 11, 3),
        "HOU",
        "PHI",
        3,
        2,
        "W",
        "Justin Verlander",
        "Noah Syndergaard",
    )
    # The same body served for another game is caught, not written under the wrong gamePk.
    api.serve(
        "/api/v1.1/game/715753/feed/live", json_reply("mlb_statsapi/game_715720_feed_live.json")
    )
    _, wrong = collector._feed(source(api), 715753, date(2022, 10, 11))
    assert (
        wrong.games == [] and wrong.quarantined[0].reason == "feed is for gamePk 715720, not 715753"
    )


def test_doubleheaders_a_suspended_game_and_their_odds_land_on_the_same_rows(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    """Hand-made fixtures (no recording has these): see tests/fixtures/README.md."""
    api.serve(SCHEDULE, json_reply("mlb_statsapi/handmade_schedule_2030-07-20.json"))
    day = collector.collect_games(db, source(api), date(2030, 7, 20), date(2030, 7, 20))
    assert (day.games, day.results) == (5, 4)
    suspended = "SELECT m.status, m.game_id, (SELECT (away_score, home_score)::text FROM results r WHERE r.game_id = m.game_id) FROM mlb_games m WHERE game_pk = 900005"  # noqa: E501
    status, game_id, result = db.execute(suspended).fetchone()  # type: ignore[misc]
    assert (status, result) == ("suspended", None)

    api.serve(SCHEDULE, json_reply("mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"))
    both = collector.collect_games(db, source(api), date(2030, 7, 20), date(2030, 7, 21))
    assert both.games == 6
    assert db.execute(suspended).fetchone() == ("final", game_id, "(4,3)")  # same game row
    games = db.execute(
        "SELECT g.away_team, g.home_team, g.game_number, m.double_header FROM games g"
        " JOIN mlb_games m USING (game_id) WHERE g.game_date = '2030-07-20' ORDER BY 1, 3"
    ).fetchall()
    assert games == [
        ("CHC", "STL", 0, "N"),
        ("NYY", "BOS", 1, "S"),
        ("NYY", "BOS", 2, "S"),
        ("SEA", "TEX", 1, "Y"),
        ("SEA", "TEX", 2, "Y"),
    ]

    body = "the_odds_api/handmade_odds_totals_spreads_american_2030-07-20.json"
    api.serve(ODDS, json_reply(body, **QUOTA))
    fetched = datetime(2030, 7, 20, 16, tzinfo=UTC)
    odds = collector.collect_odds(
        db,
        source(api, "odds_api", clock=lambda: fetched),
        OddsRequest(),
        SecretStr(TEST_KEY),
        min_remaining=30,
    )
    assert (odds.events, odds.snapshots, odds.linked_events) == (3, 12, 3)
    links = db.execute(
        "SELECT e.event_id, m.game_pk, g.game_number FROM odds_events e"
        " JOIN mlb_games m USING (game_pk) JOIN games g USING (game_id) ORDER BY 1"
    ).fetchall()
    assert links == [
        ("handmadeevent0000000000000000001", 900001, 1),  # 17:05 start: game 1
        ("handmadeevent0000000000000000002", 900002, 2),  # 23:10 start: game 2
        ("handmadeevent0000000000000000003", 900007, 0),
    ]
    line = db.execute(
        "SELECT open_point, open_price, close_price FROM odds_open_close WHERE game_pk = 900001"
        " AND book = 'handmade_book_b' AND market = 'totals' AND outcome = 'under'"
    ).fetchone()
    assert line == (9.0, -115, -115)


# -- HTTP behaviour -----------------------------------------------------------------------------

SCHEDULE_DAY = "mlb_statsapi/schedule_date_2022-04-07.json"


@pytest.mark.parametrize(
    ("replies", "requests", "min_gap", "archived"),
    [
        (
            [json_reply("mlb_statsapi/error_500.json", 500)] * 2 + [json_reply(SCHEDULE_DAY)],
            3,
            0,
            3,
        ),
        ([Reply(delay=1.5), json_reply(SCHEDULE_DAY)], 2, 0, 1),  # the first answer is too slow
        ([Reply(429, b"", {"Retry-After": "1"}), json_reply(SCHEDULE_DAY)], 2, 1.0, 2),
        ([Reply(200, fixture(SCHEDULE_DAY), cut_after=5000), json_reply(SCHEDULE_DAY)], 2, 0, 1),
        ([Reply(503, b"<html>busy</html>"), json_reply(SCHEDULE_DAY)], 2, 0, 2),
    ],
    ids=["500-twice", "slow", "429-retry-after", "connection-cut", "503-html"],
)
def test_transient_failures_are_retried_until_the_batch_is_written(
    db: psycopg.Connection,
    api: RecordedApi,
    replies: list[Reply],
    requests: int,
    min_gap: float,
    archived: int,
) -> None:
    api.serve(SCHEDULE, *replies)
    summary = collector.collect_games(db, source(api), date(2022, 4, 7), date(2022, 4, 7))
    seen = api.seen(SCHEDULE)
    assert len(seen) == requests
    assert seen[-1].at - seen[-2].at >= min_gap
    assert (summary.games, summary.results) == (9, 7)
    # Every answer received is archived (a timeout or a cut connection leaves none).
    statuses = db.execute("SELECT http_status FROM raw_payloads ORDER BY fetched_at").fetchall()
    assert len(statuses) == archived and statuses[-1] == (200,)


def test_a_retried_odds_answer_is_archived_with_the_batch(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    body = "the_odds_api/odds_v4_baseball_mlb_h2h_american_2024-05-24.json"
    api.serve(ODDS, json_reply("mlb_statsapi/error_500.json", 502), json_reply(body, **QUOTA))
    odds = source(api, "odds_api")
    summary = collector.collect_odds(db, odds, OddsRequest(), SecretStr(TEST_KEY), min_remaining=0)
    assert (summary.new_snapshots, len(api.seen(ODDS))) == (114, 2)
    archived = db.execute("SELECT http_status FROM raw_payloads ORDER BY fetched_at").fetchall()
    assert archived == [(502,), (200,)]


def test_a_source_that_keeps_failing_fails_clearly_and_opens_its_breaker(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    breaker = http.CircuitBreaker("mlb_stats", failure_threshold=3, reset_after=1.0)
    mlb = source(api, breaker=breaker)
    api.serve(SCHEDULE, json_reply("mlb_statsapi/error_500.json", 500))
    with pytest.raises(TransientSourceError, match="HTTP 500 after 3 attempts"):
        collector.collect_games(db, mlb, date(2022, 4, 7), date(2022, 4, 7))
    assert len(api.seen(SCHEDULE)) == 3
    # The error answers are archived; nothing else was written.
    assert db.execute("SELECT http_status FROM raw_payloads").fetchall() == [(500,)] * 3
    assert count(db, "SELECT count(*) FROM mlb_games") == 0
    with pytest.raises(CircuitOpenError, match="circuit open"):
        collector.collect_games(db, mlb, date(2022, 4, 7), date(2022, 4, 7))
    assert len(api.seen(SCHEDULE)) == 3  # the open breaker sent nothing
    time.sleep(1.1)
    api.serve(SCHEDULE, json_reply(SCHEDULE_DAY))
    assert collector.collect_games(db, mlb, date(2022, 4, 7), date(2022, 4, 7)).games == 9
    assert breaker.state == "closed"


def test_a_retry_after_beyond_the_cap_fails_fast(db: psycopg.Connection, api: RecordedApi) -> None:
    api.serve(SCHEDULE, Reply(429, b"", {"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match="Retry-After 3600 s exceeds 120 s"):
        collector.collect_games(db, source(api), date(2022, 4, 7), date(2022, 4, 7))
    assert time.monotonic() - started < 5 and len(api.seen(SCHEDULE)) == 1


BAD_KEY = b'{"message": "API key is not valid", "error_code": "INVALID_KEY"}'
SPENT = b'{"message": "Usage quota has been reached", "error_code": "OUT_OF_USAGE_CREDITS"}'


@pytest.mark.parametrize(
    ("path", "reply", "error", "message"),
    [
        (
            SCHEDULE,
            json_reply("mlb_statsapi/error_404_not_found.json", 404),
            SourceError,
            "HTTP 404 .*Object not found",
        ),
        (ODDS, Reply(401, BAD_KEY), SourceError, "HTTP 401.*not valid"),
        (ODDS, Reply(401, SPENT), QuotaExhaustedError, "quota spent"),
        (ODDS, Reply(422, b'{"message": "Invalid markets"}'), SourceError, "HTTP 422.*markets"),
    ],
    ids=["schedule-404", "odds-bad-key", "odds-quota", "odds-422"],
)
def test_client_errors_are_not_retried_and_fail_with_the_reason(
    db: psycopg.Connection,
    api: RecordedApi,
    path: str,
    reply: Reply,
    error: type[Exception],
    message: str,
) -> None:
    api.serve(path, reply)
    with pytest.raises(error, match=message) as raised:
        if path == SCHEDULE:
            collector.collect_games(db, source(api), date(2022, 4, 7), date(2022, 4, 7))
        else:
            collector.collect_odds(
                db, source(api, "odds_api"), OddsRequest(), SecretStr(TEST_KEY), min_remaining=0
            )
    assert TEST_KEY not in str(raised.value)
    assert len(api.seen(path)) == 1
    assert db.execute("SELECT http_status FROM raw_payloads").fetchall() == [(reply.status,)]
    assert (
        count(db, "SELECT count(*) FROM mlb_games") + count(db, "SELECT count(*) FROM odds_events")
        == 0
    )  # noqa: E501


@pytest.mark.parametrize("which", ["schedule", "odds"])
def test_truncated_json_is_quarantined_whole_and_nothing_else_is_written(
    db: psycopg.Connection, api: RecordedApi, which: str
) -> None:
    if which == "schedule":
        body = fixture(SCHEDULE_DAY)
        api.serve(SCHEDULE, Reply(200, body[: len(body) // 2]))
        summary: Any = collector.collect_games(db, source(api), date(2022, 4, 7), date(2022, 4, 7))
    else:
        body = fixture("the_odds_api/odds_v4_baseball_mlb_h2h_american_2024-05-24.json")
        api.serve(ODDS, Reply(200, body[: len(body) // 2], QUOTA))
        summary = collector.collect_odds(
            db, source(api, "odds_api"), OddsRequest(), SecretStr(TEST_KEY), min_remaining=0
        )  # noqa: E501
    assert summary.quarantined == 1
    row = db.execute("SELECT row_number, reason, payload_id FROM quarantine").fetchall()
    assert len(row) == 1 and row[0][0] == 0 and row[0][1].startswith("invalid JSON")
    stored = db.execute("SELECT payload_id, body_bytes FROM raw_payloads").fetchall()
    assert stored == [(row[0][2], len(body) // 2)]  # archived as received, for a later replay
    assert (
        count(db, "SELECT count(*) FROM games") + count(db, "SELECT count(*) FROM odds_snapshots")
        == 0
    )  # noqa: E501


def test_a_changed_schema_quarantines_what_changed_and_writes_the_rest(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    api.serve(ODDS, json_reply("the_odds_api/handmade_odds_schema_changed_2030-07-20.json"))
    odds = source(api, "odds_api", clock=lambda: datetime(2030, 7, 20, 16, tzinfo=UTC))
    summary = collector.collect_odds(db, odds, OddsRequest(), SecretStr(TEST_KEY), min_remaining=0)
    assert (summary.snapshots, summary.quarantined) == (1, 3)
    assert db.execute("SELECT reason FROM quarantine ORDER BY row_number").fetchall() == [
        ("schema: outcomes is not a list",),
        ("schema: price is not a number",),
        ("schema: away_team is not a non-empty string",),
    ]
    assert count(db, "SELECT count(*) FROM odds_lines") == 2


def test_the_quota_reserve_stops_collection_before_a_request(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    body = "the_odds_api/odds_v4_baseball_mlb_h2h_american_2024-05-24.json"
    api.serve(ODDS, json_reply(body, **{**QUOTA, "x-requests-remaining": "32"}))
    odds = source(api, "odds_api")
    first = collector.collect_odds(db, odds, OddsRequest(), SecretStr(TEST_KEY), min_remaining=30)
    assert first.requests_remaining == 32
    with pytest.raises(QuotaExhaustedError, match="32 requests left, this snapshot costs 3"):
        collector.collect_odds(db, odds, OddsRequest(), SecretStr(TEST_KEY), min_remaining=30)
    assert len(api.seen(ODDS)) == 1  # the second collection never called the API
    one_market = OddsRequest(markets="h2h")  # costs 1: 32 - 1 still keeps the reserve
    assert collector.collect_odds(db, odds, one_market, SecretStr(TEST_KEY), min_remaining=30)


def test_replaying_archived_payloads_reproduces_the_database(
    db: psycopg.Connection, api: RecordedApi
) -> None:
    api.serve(SCHEDULE, json_reply("mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"))
    collector.collect_games(db, source(api), date(2030, 7, 20), date(2030, 7, 21))
    api.serve(ODDS, json_reply("the_odds_api/odds_v4_baseball_mlb_h2h_decimal_2023-08-23.json"))
    collector.collect_odds(
        db,
        source(api, "odds_api"),
        OddsRequest(odds_format="decimal"),
        SecretStr(TEST_KEY),
        min_remaining=0,
    )  # noqa: E501
    before = fingerprints(db)
    for (payload_id,) in db.execute("SELECT payload_id FROM raw_payloads").fetchall():
        collector.replay_payload(db, payload_id)
    assert fingerprints(db) == before


# -- crash safety -------------------------------------------------------------------------------

HOLD_TRIGGER = """
CREATE SEQUENCE hold_counter;
CREATE FUNCTION hold_mid_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('hold_counter') = 100 THEN
        PERFORM pg_sleep(60);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_mid_batch BEFORE INSERT ON odds_snapshots
    FOR EACH ROW EXECUTE FUNCTION hold_mid_batch();
"""

COLLECTOR = """
import sys
from datetime import date, datetime
from pydantic import SecretStr
from bullpen.collect import http
from bullpen.collect.live import collector
from bullpen.collect.live.odds_api import OddsRequest
from bullpen.db import engine

url, api, at = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
def source(name):
    return http.Source(name, http.make_client(api, 5), http.RetryPolicy(),
                       http.CircuitBreaker(name), clock=lambda: at)
with engine.connect(url) as conn:
    collector.collect_games(conn, source("mlb_stats"), date(2022, 4, 7), date(2022, 4, 7))
    collector.collect_odds(conn, source("odds_api"), OddsRequest(odds_format="decimal"),
                      SecretStr("crash-test-key"), min_remaining=0)
"""


def _backends(url: str, condition: str) -> int:
    with engine.connect(url, autocommit=True) as conn:
        return count(
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            f" AND pid <> pg_backend_pid() AND {condition}",
        )


def _wait(url: str, condition: str, *, present: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (_backends(url, condition) > 0) != present:
        assert time.monotonic() < deadline, f"timed out waiting for {condition} ({present})"
        time.sleep(0.1)


def test_a_collector_killed_mid_batch_then_rerun_equals_one_clean_run(
    pg_server_url: str, api: RecordedApi
) -> None:
    """SIGKILL the collector while its odds transaction holds 99 of 193 snapshots (games
    already committed); rerun: every table equals a clean run's, row for row."""
    api.serve(SCHEDULE, json_reply(SCHEDULE_DAY))
    api.serve(
        ODDS, json_reply("the_odds_api/odds_v4_baseball_mlb_h2h_decimal_2023-08-23.json", **QUOTA)
    )
    tag = uuid.uuid4().hex[:8]
    crashed = engine.ensure_database(pg_server_url, f"live_crash_{tag}")
    clean = engine.ensure_database(pg_server_url, f"live_clean_{tag}")
    for url in (crashed, clean):
        runtime.prepare_database(url)
    with engine.connect(crashed, autocommit=True) as conn:
        conn.execute(HOLD_TRIGGER)
        # The server notices the dead client's session within 200 ms and rolls it back.
        conn.execute(
            f"ALTER DATABASE live_crash_{tag} SET client_connection_check_interval = '200ms'"
        )  # noqa: E501
    at = "2023-08-23T05:10:00+00:00"
    child = subprocess.Popen([sys.executable, "-c", COLLECTOR, crashed, api.url, at])
    try:
        _wait(crashed, "wait_event = 'PgSleep'", present=True, timeout=90)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    _wait(crashed, "backend_type = 'client backend'", present=False, timeout=30)

    with engine.connect(crashed, autocommit=True) as conn:
        conn.execute("DROP TRIGGER hold_mid_batch ON odds_snapshots")
        seen = fingerprints(conn)
    assert seen["mlb_games"][0] == 9, "the games batch committed before the kill"
    assert (seen["odds_snapshots"][0], seen["odds_events"][0]) == (0, 0), "no half batch"
    assert seen["raw_payloads"][0] == 1

    for url in (crashed, clean):
        subprocess.run([sys.executable, "-c", COLLECTOR, url, api.url, at], check=True)
    with engine.connect(crashed) as a, engine.connect(clean) as b:
        after, reference = fingerprints(a), fingerprints(b)
    assert after == reference
    assert after["odds_snapshots"][0] == 193 and after["mlb_games"][0] == 9


# -- property: malformed payloads ---------------------------------------------------------------

# 400 + 350 + 300 = 1,050 generated payloads through the parsers and the write path; each
# example writes inside a transaction that is rolled back, so one database serves them all.
FETCHED = BASE + timedelta(days=40)
PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _payload(source_name: str, body: bytes) -> http.FetchedPayload:
    return http.FetchedPayload(source_name, "/property", FETCHED, 200, {}, body)


def _assert_reasons(records: list[Any]) -> None:
    for q in records:
        assert q.reason and not q.reason.startswith("unexpected"), q


@PROPERTY
@given(case=odds_cases())
def test_malformed_odds_payloads_quarantine_exactly_the_bad_records(
    db: psycopg.Connection, case: OddsCase
) -> None:
    payload = _payload("odds_api", case.body)
    parsed = parse_odds(case.body, file=payload.label, odds_format="american", fetched_at=FETCHED)
    got = [
        (s.event_id, s.book, s.market, o[0], o[2]) for s in parsed.snapshots for o in s.outcomes()
    ]
    assert set(got) == case.rows and len(got) == len(case.rows)
    assert len(parsed.quarantined) == case.quarantined
    _assert_reasons(parsed.quarantined)
    with db.transaction(force_rollback=True):
        first = store.write_odds_batch(db, payload, parsed)
        again = store.write_odds_batch(db, payload, parsed)  # a rerun: merge path
        stored = db.execute(
            "SELECT event_id, book, market, outcome, price_american FROM odds_lines"
        ).fetchall()
        assert set(stored) == case.rows and len(stored) == len(case.rows)
        assert (first.new_snapshots, again.new_snapshots) == (len(parsed.snapshots), 0)
        assert count(db, "SELECT count(*) FROM quarantine WHERE payload_id = %s",
                     first.payload_id) == case.quarantined  # fmt: skip


@settings(PROPERTY, max_examples=350)
@given(case=schedule_cases())
def test_malformed_schedules_quarantine_exactly_the_bad_games(
    db: psycopg.Connection, case: ScheduleCase
) -> None:
    payload = _payload("mlb_stats", case.body)
    parsed = parse_schedule(case.body, file=payload.label)
    assert (len(parsed.quarantined), parsed.skipped) == (case.quarantined, case.skipped)
    _assert_reasons(parsed.quarantined)
    with db.transaction(force_rollback=True):
        store.write_games_batch(db, [(payload, parsed)])
        stored = db.execute(
            "SELECT m.game_pk, g.game_date, g.away_team, g.home_team, m.status, r.away_score,"
            " r.home_score FROM mlb_games m JOIN games g USING (game_id)"
            " LEFT JOIN results r USING (game_id)"
        ).fetchall()
        assert {pk: tuple(rest) for pk, *rest in stored} == case.games
        assert count(db, "SELECT count(*) FROM quarantine") == case.quarantined


@settings(PROPERTY, max_examples=300)
@given(body=ANY_BODY)
def test_arbitrary_bytes_never_crash_a_parser_or_the_write_path(
    db: psycopg.Connection, body: bytes
) -> None:
    odds = parse_odds(body, file="odds", odds_format="decimal", fetched_at=FETCHED)
    games = parse_schedule(body, file="games")
    _assert_reasons(odds.quarantined + games.quarantined)
    assert odds.snapshots or odds.quarantined or isinstance(json.loads(body), list)
    with db.transaction(force_rollback=True):
        written = store.write_odds_batch(db, _payload("odds_api", body), odds)
        store.write_games_batch(db, [(_payload("mlb_stats", body), games)])
        assert written.new_snapshots == len(odds.snapshots)
        assert count(db, "SELECT count(*) FROM odds_snapshots") == len(odds.snapshots)
        assert count(db, "SELECT count(*) FROM mlb_games") == len(games.games)
        assert count(db, "SELECT count(*) FROM quarantine") == len(
            {(q.file, q.row, q.reason) for q in odds.quarantined + games.quarantined}
        )
