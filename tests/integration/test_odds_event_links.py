"""Odds API events the collectors cannot link to an MLB game are quarantined with the reason,
through the real write path and Postgres; an event waits, unquarantined, until the schedule
around its start is collected.

The odds payloads are the hand-made fixture (tests/fixtures/README.md) with events edited into
the cases below: test inputs, not data.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from bullpen.collect.http import FetchedPayload
from bullpen.collect.live import store as live_store
from bullpen.collect.live.mlb_stats import parse_schedule
from bullpen.collect.live.odds_api import parse_odds
from bullpen.db import engine
from bullpen.market.store import load_h2h_snapshots
from bullpen.ops.probes import read_quarantine
from tests.conftest import REPO

FIXTURES = REPO / "tests/fixtures"
SCHEDULE = FIXTURES / "mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"
ODDS = FIXTURES / "the_odds_api/handmade_odds_totals_spreads_american_2030-07-20.json"
FIRST = "handmadeevent0000000000000000001"  # NYY @ BOS 17:05, game 1 (gamePk 900001)


@pytest.fixture(scope="module")
def db(bullpen_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def event(event_id: str, commence: str, away: str, home: str) -> dict[str, Any]:
    """The fixture's first event (its books and prices) under another id, time and teams."""
    (base,) = [e for e in json.loads(ODDS.read_bytes()) if e["id"] == FIRST]
    edited = copy.deepcopy(base)
    edited.update(id=event_id, commence_time=commence, away_team=away, home_team=home)
    for book in edited["bookmakers"]:
        for market in book["markets"]:
            for outcome in market["outcomes"]:
                if outcome["name"] == base["away_team"]:
                    outcome["name"] = away
                elif outcome["name"] == base["home_team"]:
                    outcome["name"] = home
    return edited


def write_odds(db: psycopg.Connection, events: list[dict[str, Any]], fetched: datetime) -> Any:
    body = json.dumps(events).encode()
    payload = FetchedPayload("odds_api", "/v4/sports/baseball_mlb/odds", fetched, 200, {}, body)
    parsed = parse_odds(body, file=payload.label, odds_format="american", fetched_at=fetched)
    assert not parsed.quarantined
    return live_store.write_odds_batch(db, payload, parsed)


def write_schedule(db: psycopg.Connection, body: bytes, fetched: datetime) -> Any:
    payload = FetchedPayload("mlb_stats", "/api/v1/schedule?test", fetched, 200, {}, body)
    return live_store.write_games_batch(db, [(payload, parse_schedule(body, file=payload.label))])


def quarantined(db: psycopg.Connection) -> dict[str, str]:
    rows = db.execute(
        "SELECT file, reason FROM quarantine WHERE source = 'odds_api'"
        " AND file LIKE 'odds_events/%%' ORDER BY quarantine_id"
    ).fetchall()
    return {file.removeprefix("odds_events/"): reason for file, reason in rows}


def linked(db: psycopg.Connection) -> dict[str, int | None]:
    return dict(db.execute("SELECT event_id, game_pk FROM odds_events").fetchall())


CASES = [
    json.loads(ODDS.read_bytes())[0],  # the real link: NYY @ BOS game 1
    event("duplicate", "2030-07-20T17:35:00Z", "New York Yankees", "Boston Red Sox"),
    event("swapped", "2030-07-20T23:10:00Z", "Boston Red Sox", "New York Yankees"),
    event("moved", "2030-07-21T20:00:00Z", "Seattle Mariners", "Texas Rangers"),
    event("early", "2030-08-01T23:05:00Z", "Seattle Mariners", "Texas Rangers"),
]


def test_unlinked_events_are_quarantined_with_the_reason_once(db: psycopg.Connection) -> None:
    # Odds first, schedule later: nothing is judged before the schedule around it is known.
    written = write_odds(db, CASES, datetime(2030, 7, 20, 15, 30, tzinfo=UTC))
    assert (written.linked_events, written.unlinked_events) == (0, 0)
    assert quarantined(db) == {}

    games = write_schedule(db, SCHEDULE.read_bytes(), datetime(2030, 7, 20, 16, tzinfo=UTC))
    assert (games.linked_events, games.unlinked_events) == (1, 3)
    assert linked(db) == {
        FIRST: 900001,
        "duplicate": None,
        "swapped": None,
        "moved": None,
        "early": None,  # no schedule near 2030-08-01 yet: it waits, unquarantined
    }
    assert quarantined(db) == {
        "duplicate": f"duplicate event: game 900001 is linked to event '{FIRST}'",
        "swapped": "no 'BOS@NYY' game within 12 hours of its start in the collected schedule",
        "moved": "no 'SEA@TEX' game within 12 hours of its start;"
        " one is listed at '2030-07-20 21:35 UTC' (moved?)",
    }
    # The duplicate's prices stay out of game 900001's lines.
    snaps = load_h2h_snapshots(db, until=datetime(2030, 7, 21, tzinfo=UTC))
    on_game = snaps[snaps["game_id"].notna()]
    assert set(on_game["event_id"]) == {FIRST}

    # Collected again, and the schedule again: nothing new in quarantine, no link moves.
    again = write_odds(db, CASES, datetime(2030, 7, 20, 15, 45, tzinfo=UTC))
    assert (again.linked_events, again.unlinked_events) == (0, 0)
    games = write_schedule(db, SCHEDULE.read_bytes(), datetime(2030, 7, 20, 16, 15, tzinfo=UTC))
    assert (games.linked_events, games.unlinked_events) == (0, 0)
    assert len(quarantined(db)) == 3
    # One metric series per kind of problem, not per event or team pair.
    kinds = {kind for (source, kind) in read_quarantine(db) if source == "odds_api"}
    assert kinds == {
        "duplicate event: game # is linked to event #",
        "no # game within # hours of its start in the collected schedule",
        "no # game within # hours of its start; one is listed at # (moved?)",
    }


def test_a_nearer_event_takes_the_game_from_a_linked_one(db: psycopg.Connection) -> None:
    """Stored links are re-decided: an event that arrives later but nearer the first pitch wins,
    and the one it displaces is quarantined as the duplicate."""
    nearer = event("nearer", "2030-07-20T23:10:00Z", "New York Yankees", "Boston Red Sox")
    farther = event("farther", "2030-07-21T01:00:00Z", "New York Yankees", "Boston Red Sox")
    write_odds(db, [farther], datetime(2030, 7, 20, 16, 30, tzinfo=UTC))
    assert linked(db)["farther"] == 900002
    write_odds(db, [nearer], datetime(2030, 7, 20, 16, 45, tzinfo=UTC))
    assert (linked(db)["nearer"], linked(db)["farther"]) == (900002, None)
    assert quarantined(db)["farther"] == "duplicate event: game 900002 is linked to event 'nearer'"
