"""Lines and settlement over what the real live collector stores: odds snapshots read back into
game lines, and a pick whose game the MLB schedule moves to another date.

Payloads are the fixtures in tests/fixtures (recorded, or hand-made where no recording has the
case: see tests/fixtures/README.md); the day-before listing is derived from the recorded one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bullpen.betting.ledger import load_bets, load_outcomes, record_pick, settle_bets
from bullpen.betting.picks import MOVED, Pick, StakePolicy
from bullpen.collect.http import FetchedPayload
from bullpen.collect.live import store as live_store
from bullpen.collect.live.mlb_stats import parse_schedule
from bullpen.collect.live.odds_api import parse_odds
from bullpen.db import engine
from bullpen.market.lines import LineSettings, build_lines
from bullpen.market.store import load_h2h_snapshots
from tests.conftest import REPO

FIXTURES = REPO / "tests/fixtures"
SCHEDULE_2030 = FIXTURES / "mlb_statsapi/handmade_schedule_2030-07-20_2030-07-21.json"
ODDS_2030 = FIXTURES / "the_odds_api/handmade_odds_totals_spreads_american_2030-07-20.json"
SCHEDULE_2022 = FIXTURES / "mlb_statsapi/schedule_date_2022-04-07.json"
ODDS_FETCHED = datetime(2030, 7, 20, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(bullpen_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def write_schedule(db: psycopg.Connection, body: bytes, fetched: datetime) -> None:
    payload = FetchedPayload("mlb_stats", "/api/v1/schedule?test", fetched, 200, {}, body)
    live_store.write_games_batch(db, [(payload, parse_schedule(body, file=payload.label))])


def test_stored_snapshots_become_game_lines(db: psycopg.Connection) -> None:
    write_schedule(db, SCHEDULE_2030.read_bytes(), datetime(2030, 7, 20, 12, tzinfo=UTC))
    body = ODDS_2030.read_bytes()
    payload = FetchedPayload(
        "odds_api", "/v4/sports/baseball_mlb/odds", ODDS_FETCHED, 200, {}, body
    )
    parsed = parse_odds(body, file=payload.label, odds_format="american", fetched_at=ODDS_FETCHED)
    live_store.write_odds_batch(db, payload, parsed)

    snaps = load_h2h_snapshots(db, until=ODDS_FETCHED)
    assert len(snaps) == 4  # h2h: two books on event 1, one book on events 2 and 3
    assert snaps["game_id"].notna().all()
    lines = build_lines(snaps, ODDS_FETCHED, LineSettings(max_age=timedelta(hours=2)))

    first = "handmadeevent0000000000000000001"  # NYY @ BOS, game 1 of a doubleheader
    books = lines.books[lines.books["event_id"] == first].set_index("book")
    assert books.loc["handmade_book_a", ["now_home", "now_away"]].tolist() == [115, -135]
    assert books.loc["handmade_book_b", ["now_home", "now_away"]].tolist() == [110, -130]
    best = lines.best[lines.best["event_id"] == first].set_index("side")
    assert best.loc["home", ["book", "price_american"]].tolist() == ["handmade_book_a", 115]
    assert best.loc["away", ["book", "price_american"]].tolist() == ["handmade_book_b", -130]
    now = lines.consensus[(lines.consensus["event_id"] == first)].set_index("phase").loc["now"]
    # No sharp book: the median (here the mean) of the two books' Shin probabilities.
    fair = [0.5 * (1 + 100 / 215 - 135 / 235), 0.5 * (1 + 100 / 210 - 130 / 230)]
    assert (now["method"], now["n_books"]) == ("median", 2)
    assert now["fair_home"] == pytest.approx(sum(fair) / 2, abs=1e-12)

    # With the default 30-minute limit the 15:00 quotes are stale at 16:00: no best price.
    assert build_lines(snaps, ODDS_FETCHED).best.empty


def day_before_listing() -> bytes:
    """The 2022-04-07 schedule as it stood the day before: BOS @ NYY still scheduled that day."""
    payload = json.loads(SCHEDULE_2022.read_bytes())
    day = copy.deepcopy(payload["dates"][0])
    (game,) = [g for g in day["games"] if g["gamePk"] == 661333]
    game["officialDate"] = "2022-04-07"
    for key in ("rescheduleDate", "rescheduleGameDate"):
        game.pop(key, None)
    game["status"] = {
        "abstractGameState": "Preview",
        "codedGameState": "S",
        "detailedState": "Scheduled",
        "statusCode": "S",
        "startTimeTBD": False,
        "abstractGameCode": "P",
    }
    day["games"] = [game]
    payload["dates"] = [day]
    return json.dumps(payload).encode()


def test_a_pick_on_a_game_moved_to_another_date_is_void(db: psycopg.Connection) -> None:
    write_schedule(db, day_before_listing(), datetime(2022, 4, 6, 15, tzinfo=UTC))
    (original,) = db.execute(
        "SELECT game_id FROM games WHERE (game_date, away_team, home_team)"
        " = ('2022-04-07', 'BOS', 'NYY')"
    ).fetchone()  # type: ignore[misc]
    pick = Pick(
        game_id=original,
        side="away",
        book="pinnacle",
        price_american=125,
        quoted_at=datetime(2022, 4, 6, 20, tzinfo=UTC),
        p_home=0.52,
        p_away=0.48,
        consensus_home=0.55,
        consensus_method="sharp:pinnacle/shin",
        model_version="7",
        strategy_version="moved",
        reason="test",
    )
    opened = record_pick(db, pick, StakePolicy(), at=datetime(2022, 4, 6, 20, tzinfo=UTC))
    assert opened.action == "opened"

    # The game is postponed to 2022-04-08: the recorded listing moves it to a new game row.
    write_schedule(db, SCHEDULE_2022.read_bytes(), datetime(2022, 4, 7, 18, tzinfo=UTC))
    moved_to = db.execute(
        "SELECT g.game_date::text FROM mlb_games m JOIN games g USING (game_id)"
        " WHERE m.game_pk = 661333"
    ).fetchone()
    assert moved_to == ("2022-04-08",)
    (outcome,) = load_outcomes(db, [original])
    assert outcome.status == MOVED

    settled_at = datetime(2022, 4, 8, 9, tzinfo=UTC)
    summary = settle_bets(db, [outcome], {}, at=settled_at)
    assert summary.by_state == {"void": 1}
    (bet,) = load_bets(db, "moved").itertuples()
    assert (bet.state, bet.profit, bet.settle_reason) == ("void", 0.0, "game moved to another date")
    # The new date's game is a different game: a pick on it would be a new pick.
    assert settle_bets(db, load_outcomes(db, [original]), {}, at=settled_at).settled == 0
