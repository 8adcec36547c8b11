"""The Odds API parsing against the recorded h2h captures and hand-made totals/spreads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bullpen.collect.http import FetchedPayload, SourceError
from bullpen.collect.live.odds_api import (
    OddsRequest,
    QuotaExhaustedError,
    check_response,
    parse_odds,
    parse_price,
    quota_from_headers,
    should_fetch,
)
from tests.conftest import REPO

ODDS = REPO / "tests" / "fixtures" / "the_odds_api"
AMERICAN = "odds_v4_baseball_mlb_h2h_american_2024-05-24.json"
DECIMAL = "odds_v4_baseball_mlb_h2h_decimal_2023-08-23.json"
HANDMADE = "handmade_odds_totals_spreads_american_2030-07-20.json"


def _body(name: str) -> bytes:
    return (ODDS / name).read_bytes()


def _prices(parsed: Any) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    """(event, book, market, outcome) -> (point, American, decimal, last_update)."""
    return {
        (s.event_id, s.book, s.market, side): (point, american, decimal, s.last_update)
        for s in parsed.snapshots
        for side, point, american, decimal in s.outcomes()
    }


def test_parse_odds_reads_every_price_of_the_recorded_american_capture() -> None:
    parsed = parse_odds(_body(AMERICAN), file="f", odds_format="american")
    outcomes = sum(
        len(m["outcomes"])
        for e in json.loads(_body(AMERICAN))
        for b in e["bookmakers"]
        for m in b["markets"]
    )
    prices = _prices(parsed)
    assert (len(parsed.events), len(prices), parsed.quarantined) == (9, outcomes, [])
    assert len(parsed.snapshots) == outcomes // 2  # one snapshot per book and market
    assert len(parsed.bookmakers) == 13 and parsed.bookmakers["fanduel"] == "FanDuel"
    first = parsed.events[0]
    assert (first.away_team, first.home_team) == ("ATL", "PIT")
    assert first.commence_time == datetime(2024, 5, 24, 22, 40, tzinfo=UTC)
    away = prices[first.event_id, "fanduel", "h2h", "away"]
    home = prices[first.event_id, "fanduel", "h2h", "home"]
    assert (away[1], home[1]) == (-164, 138)
    assert away[2] == Decimal("1.6098")
    assert home[3] == datetime(2024, 5, 24, 16, 31, 14, tzinfo=UTC)
    assert {s.market for s in parsed.snapshots} == {"h2h"}
    assert parsed.earliest == min(s.last_update for s in parsed.snapshots)


def test_parse_odds_reads_decimal_prices_exactly() -> None:
    parsed = parse_odds(_body(DECIMAL), file="f", odds_format="decimal")
    assert (len(parsed.events), len(parsed.snapshots), parsed.quarantined) == (13, 193, [])
    prices = _prices(parsed)
    event = "3da2cc1a7386f81a7b633d7be9e2424a"
    home, away = (
        prices[event, "draftkings", "h2h", "home"],
        prices[event, "draftkings", "h2h", "away"],
    )
    assert (home[2], home[1]) == (Decimal("2.02"), 102)
    assert (away[2], away[1]) == (Decimal("1.82"), -122)


def test_parse_odds_reads_totals_and_spreads_of_the_handmade_payload() -> None:
    parsed = parse_odds(_body(HANDMADE), file="f", odds_format="american")
    assert parsed.quarantined == [] and len(parsed.snapshots) == 12
    rows = {
        (book, market, side): values
        for (event, book, market, side), values in _prices(parsed).items()
        if event == "handmadeevent0000000000000000001"
    }
    assert len(rows) == 12  # 2 books x 3 markets x 2 sides
    over, under = (
        rows["handmade_book_b", "totals", "over"],
        rows["handmade_book_b", "totals", "under"],
    )
    assert (over[0], over[1], under[0], under[1]) == (Decimal("9.0"), -105, Decimal("9.0"), -115)
    home, away = (
        rows["handmade_book_a", "spreads", "home"],
        rows["handmade_book_a", "spreads", "away"],
    )
    assert (away[0], home[0], away[1], home[1]) == (Decimal("-1.5"), Decimal("1.5"), 140, -165)
    assert home[3] == datetime(2030, 7, 20, 15, 1, 40, tzinfo=UTC)  # the market's own time
    assert rows["handmade_book_a", "h2h", "home"][0] is None


def test_parse_odds_quarantines_records_of_a_changed_schema_and_keeps_the_rest() -> None:
    parsed = parse_odds(
        _body("handmade_odds_schema_changed_2030-07-20.json"), file="f", odds_format="american"
    )
    assert [(book, side, values[1]) for (_, book, _, side), values in _prices(parsed).items()] == [
        ("handmade_book_a", "home", 115),
        ("handmade_book_a", "away", -135),
    ]
    assert [(q.row, q.reason) for q in parsed.quarantined] == [
        (5, "schema: outcomes is not a list"),
        (7, "schema: price is not a number"),
        (8, "schema: away_team is not a non-empty string"),
    ]
    assert parsed.quarantined[0].raw["record"]["markets"][0]["selections"][0]["price"] == -130


def _one_market(change: Any, odds_format: str = "american") -> Any:
    events = json.loads(_body(HANDMADE))
    change(events[0]["bookmakers"][0]["markets"])
    return parse_odds(json.dumps(events).encode(), file="f", odds_format=odds_format)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m[0]["outcomes"][0].update(price=-99), "impossible American price -99"),
        (lambda m: m[0]["outcomes"][0].update(price=0), "impossible American price 0"),
        (lambda m: m[0]["outcomes"][0].update(price=1.91), "impossible American price 1.91"),
        (lambda m: m[0]["outcomes"][0].update(price="-110"), "price is not a number"),
        (lambda m: m[0]["outcomes"][0].update(price=True), "price is not a number"),
        (lambda m: m[0]["outcomes"][0].update(name="Springfield Isotopes"), "unknown team name"),
        (lambda m: m[0]["outcomes"][0].update(name="Texas Rangers"), "plays neither side"),
        (lambda m: m[0]["outcomes"][1].update(name="New York Yankees"), "lists away twice"),
        (lambda m: m[0]["outcomes"].pop(), "has 1 outcomes, not 2"),
        (lambda m: m[0]["outcomes"][0].update(point=1.5), "h2h outcome has a point"),
        (lambda m: m[1]["outcomes"][0].update(point=-8.5), "impossible total -8.5"),
        (lambda m: m[1]["outcomes"][0].update(point=8.25), "not a multiple of 0.5"),
        (lambda m: m[1]["outcomes"][0].update(point=9.5), "totals sides differ"),
        (lambda m: m[1]["outcomes"][0].update(name="Maybe"), "is not Over/Under"),
        (lambda m: m[2]["outcomes"][0].update(point=-2.5), "spreads do not offset"),
        (lambda m: m[2]["outcomes"][0].pop("point"), "spreads point is not a number"),
        (lambda m: m[0].update(key="player_props"), "unknown market 'player_props'"),
        (lambda m: m[0].update(last_update="soon"), "market last_update 'soon'"),
    ],
)  # fmt: skip
def test_parse_odds_quarantines_one_bad_market_and_keeps_the_rest(change: Any, reason: str) -> None:
    parsed = _one_market(change)
    assert len(parsed.quarantined) == 1, parsed.quarantined
    assert reason in parsed.quarantined[0].reason
    assert len(parsed.snapshots) == 12 - 1  # every other market of the payload is kept


def test_parse_odds_keeps_the_first_of_a_duplicated_market() -> None:
    other = [{"name": "New York Yankees", "price": -200}, {"name": "Boston Red Sox", "price": 170}]
    parsed = _one_market(lambda m: m.append({**m[0], "outcomes": other}))
    assert [q.reason for q in parsed.quarantined] == ["duplicate h2h market for handmade_book_a"]
    assert len(parsed.snapshots) == 12
    assert -200 not in {price[1] for price in _prices(parsed).values()}
    assert parsed.quarantined[0].raw["record"]["markets"][0]["outcomes"][0]["price"] == -200


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(home_team="Springfield Isotopes"), "unknown team name"),
        (lambda e: e.update(home_team="New York Yankees"), "same team on both sides"),
        (lambda e: e.update(sport_key="basketball_nba"), "not an MLB event"),
        (lambda e: e.update(commence_time="2030-07-20 17:05"), "not a zoned time"),
        (lambda e: e.update(id="drop table;"), "unexpected characters"),
        (lambda e: e.pop("bookmakers"), "bookmakers is not a list"),
    ],
)
def test_parse_odds_quarantines_a_bad_event_whole(change: Any, reason: str) -> None:
    events = json.loads(_body(HANDMADE))
    change(events[0])
    parsed = parse_odds(json.dumps(events).encode(), file="f", odds_format="american")
    assert [q.row for q in parsed.quarantined] == [1]
    assert reason in parsed.quarantined[0].reason
    assert {s.event_id for s in parsed.snapshots} == {
        "handmadeevent0000000000000000002",
        "handmadeevent0000000000000000003",
    }


def test_parse_odds_rejects_a_price_updated_after_the_fetch() -> None:
    fetched = datetime(2030, 7, 20, 15, 1, 40, tzinfo=UTC) - timedelta(days=2)
    parsed = parse_odds(_body(HANDMADE), file="f", odds_format="american", fetched_at=fetched)
    assert parsed.snapshots == []
    assert all("is after the fetch" in q.reason for q in parsed.quarantined)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"message": "Invalid API key", "error_code": "INVALID_KEY"}', "error payload"),
        (b'{"data": []}', "odds payload is not a list"),
        (b'[{"id": "x"', "invalid JSON"),
        (b"\xff\xfe\x00", "invalid JSON"),
        (b"[1e999999]", "invalid JSON: non-finite number"),
    ],
)
def test_parse_odds_handles_unreadable_payloads(body: bytes, reason: str) -> None:
    parsed = parse_odds(body, file="f", odds_format="american")
    assert parsed.snapshots == []
    assert any(reason in q.reason for q in parsed.quarantined), parsed.quarantined


@pytest.mark.parametrize("price", [1.0, 0.5, 1.0001, 1002, -2.0])
def test_parse_price_rejects_impossible_decimal_prices(price: float) -> None:
    with pytest.raises(ValueError, match="impossible decimal price"):
        parse_price(price, "decimal")


def test_should_fetch_keeps_the_reserve() -> None:
    assert should_fetch(None, 3, 30)[0] is True
    assert should_fetch(33, 3, 30)[0] is True
    go, why = should_fetch(32, 3, 30)
    assert go is False and "32 requests left" in why


def test_odds_request_costs_markets_times_regions() -> None:
    assert OddsRequest().cost == 3
    assert OddsRequest(regions="us,eu", markets="h2h").cost == 2
    assert OddsRequest(odds_format="decimal").params()["oddsFormat"] == "decimal"
    with pytest.raises(ValueError, match="odds_format"):
        OddsRequest(odds_format="fractional").params()


def _answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> FetchedPayload:
    now = datetime(2030, 7, 20, tzinfo=UTC)
    return FetchedPayload(
        "odds_api", "/v4/sports/baseball_mlb/odds", now, status, headers or {}, body
    )


def test_quota_and_errors_read_from_a_response() -> None:
    headers = {"x-requests-remaining": "497", "x-requests-used": "3", "x-requests-last": "3"}
    quota = quota_from_headers(headers)
    assert (quota.remaining, quota.used, quota.last) == (497, 3, 3)
    assert quota_from_headers({}).remaining is None
    check_response(_answer(200, b"[]"))
    with pytest.raises(QuotaExhaustedError, match="quota spent"):
        check_response(_answer(401, b'{"message": "Usage quota has been reached",'
                                    b' "error_code": "OUT_OF_USAGE_CREDITS"}'))  # fmt: skip
    with pytest.raises(SourceError, match="HTTP 401.*apiKey=\\*\\*\\*") as err:
        check_response(_answer(401, b'{"message": "Invalid key: apiKey=abc123"}'))
    assert "abc123" not in str(err.value)
