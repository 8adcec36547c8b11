"""The Odds API v4 (key required): the MLB odds request, its quota rules, and its parser
(bytes → events and per-market price snapshots, quarantined records)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import SecretStr

from bullpen.collect.http import FetchedPayload, Source, SourceError, error_message
from bullpen.collect.live.checks import (
    Reject,
    attempt,
    jsonb_safe,
    load_json,
    parse_time,
    require_dict,
    require_list,
    require_text,
    short,
)
from bullpen.collect.records import QuarantinedRecord
from bullpen.prices import american_to_decimal_exact, decimal_to_american_exact
from bullpen.teams import UnknownTeamError, team_from_name

log = logging.getLogger(__name__)

SOURCE = "odds_api"
ODDS_PATH = "/v4/sports/baseball_mlb/odds"

MARKETS = {"h2h": 1, "totals": 2, "spreads": 3}
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class QuotaExhaustedError(SourceError):
    """The monthly request quota is (nearly) spent: no request was sent, or the API refused."""


@dataclass(frozen=True, slots=True)
class OddsRequest:
    """What one snapshot asks for; the quota cost is markets x regions."""

    regions: str = "us"
    markets: str = "h2h,totals,spreads"
    odds_format: str = "american"  # or "decimal"

    def params(self) -> dict[str, str]:
        if self.odds_format not in ("american", "decimal"):
            raise ValueError(f"odds_format must be american or decimal, not {self.odds_format!r}")
        return {
            "regions": self.regions,
            "markets": self.markets,
            "oddsFormat": self.odds_format,
            "dateFormat": "iso",
        }

    @property
    def cost(self) -> int:
        return len(self.markets.split(",")) * len(self.regions.split(","))


@dataclass(frozen=True, slots=True)
class Quota:
    remaining: int | None
    used: int | None
    last: int | None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def quota_from_headers(headers: Mapping[str, str]) -> Quota:
    """x-requests-remaining / -used / -last as sent with every response (None when missing)."""
    return Quota(
        _header_int(headers, "x-requests-remaining"),
        _header_int(headers, "x-requests-used"),
        _header_int(headers, "x-requests-last"),
    )


def should_fetch(remaining: int | None, cost: int, reserve: int) -> tuple[bool, str]:
    """Whether a request costing `cost` still leaves `reserve` requests of the quota.

    `remaining` is the last value the API reported; unknown (no request yet) means go ahead,
    since the response will report it.
    """
    if remaining is None:
        return True, "quota not known yet"
    if remaining - cost < reserve:
        return False, (
            f"The Odds API quota: {remaining} requests left, this snapshot costs {cost}, "
            f"reserve is {reserve}; not fetching"
        )
    return True, f"{remaining} requests left"


def fetch_odds(source: Source, request: OddsRequest, api_key: SecretStr) -> FetchedPayload:
    """`GET /v4/sports/baseball_mlb/odds?...`; the key is sent but never recorded or logged."""
    return source.get(ODDS_PATH, request.params(), {"apiKey": api_key.get_secret_value()})


def check_response(payload: FetchedPayload) -> None:
    """Raise a clear error for a non-200 answer (the key never appears in the message).

    Raises:
        QuotaExhaustedError: 401/403 saying the usage quota is spent.
        SourceError: any other non-200 answer (bad key, bad parameters, unknown sport).
    """
    if payload.status == 200:
        return
    message = error_message(payload)
    body = payload.body[:4000].decode("utf-8", "replace").upper()
    if payload.status in (401, 403) and ("OUT_OF_USAGE_CREDITS" in body or "QUOTA" in body):
        raise QuotaExhaustedError(f"The Odds API refused: quota spent ({message})")
    raise SourceError(
        f"The Odds API answered HTTP {payload.status} for {payload.request}: {message}"
    )


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OddsEvent:
    event_id: str
    commence_time: datetime
    away_team: str
    home_team: str


@dataclass(frozen=True, slots=True)
class OddsSnapshot:
    """One bookmaker's two prices for one market of an event, at the book's `last_update` (UTC).

    The first side is home (h2h, spreads) or over (totals), the second away or under. `point` is
    the total, or the home side's spread (the away side's is its negative); None for h2h.
    """

    event_id: str
    book: str
    market: str  # h2h | totals | spreads
    last_update: datetime
    point: Decimal | None
    home_over_american: int
    away_under_american: int
    home_over_decimal: Decimal
    away_under_decimal: Decimal

    def outcomes(self) -> tuple[tuple[str, Decimal | None, int, Decimal], ...]:
        """Both sides as (outcome, point, American price, decimal price)."""
        first, second = ("over", "under") if self.market == "totals" else ("home", "away")
        other = -self.point if self.market == "spreads" and self.point is not None else self.point
        return (
            (first, self.point, self.home_over_american, self.home_over_decimal),
            (second, other, self.away_under_american, self.away_under_decimal),
        )


@dataclass(slots=True)
class OddsParse:
    events: list[OddsEvent] = field(default_factory=list)
    bookmakers: dict[str, str] = field(default_factory=dict)  # key -> title
    snapshots: list[OddsSnapshot] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    # The earliest last_update among the snapshots, noted while parsing so the writer need not
    # scan them again (None: unknown, the writer computes it).
    earliest: datetime | None = None


_DECIMAL_MIN, _DECIMAL_MAX = Decimal("1.001"), Decimal(1001)
_AMERICAN_MAX = 100_000


def _number(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Reject(f"schema: {what} is not a number")
    try:
        # repr() is the shortest text that round-trips, so 1.91 stays exactly 1.91.
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise Reject(f"schema: {what} is not a finite number") from None


def parse_price(value: Any, odds_format: str) -> tuple[int, Decimal]:
    """(American, decimal) for a price in the request's format; impossible prices raise Reject."""
    number = _number(value, "price")
    if odds_format == "american":
        if number != number.to_integral_value():
            raise Reject(f"impossible American price {number}")
        american = int(number)
        if not 100 <= abs(american) <= _AMERICAN_MAX:
            raise Reject(f"impossible American price {american} (needs 100 <= |price| <= 100000)")
        return american, american_to_decimal_exact(american)
    if not _DECIMAL_MIN <= number <= _DECIMAL_MAX:
        raise Reject(f"impossible decimal price {number} (needs 1.001 <= price <= 1001)")
    return decimal_to_american_exact(number), number


def _point(value: Any, market: str) -> Decimal:
    point = _number(value, f"{market} point")
    if (point * 2) != (point * 2).to_integral_value():
        raise Reject(f"impossible {market} point {point} (not a multiple of 0.5)")
    if market == "totals" and not 0 < point <= 40:
        raise Reject(f"impossible total {point}")
    if market == "spreads" and not abs(point) <= 20:
        raise Reject(f"impossible spread {point}")
    return point


def _outcomes(
    market: str,
    outcomes: list[Any],
    event: OddsEvent,
    odds_format: str,
) -> dict[str, tuple[Decimal | None, int, Decimal]]:
    """{outcome: (point, american, decimal)} for both sides of one market, checked together."""
    if len(outcomes) != 2:
        raise Reject(f"{market} market has {len(outcomes)} outcomes, not 2")
    sides: dict[str, tuple[Decimal | None, int, Decimal]] = {}
    for item in outcomes:
        item = require_dict(item, "outcome")
        name = require_text(item.get("name"), "outcome name", limit=80)
        if market == "totals":
            side = name.strip().lower()
            if side not in ("over", "under"):
                raise Reject(f"totals outcome {short(name, 40)!r} is not Over/Under")
        else:
            try:
                team = team_from_name(name)
            except UnknownTeamError as exc:
                raise Reject(str(exc)) from None
            if team not in (event.home_team, event.away_team):
                raise Reject(f"outcome team {team} plays neither side of {event.event_id}")
            side = "home" if team == event.home_team else "away"
        if side in sides:
            raise Reject(f"{market} market lists {side} twice")
        if market == "h2h":
            if item.get("point") is not None:
                raise Reject("h2h outcome has a point")
            point = None
        else:
            point = _point(item.get("point"), market)
        american, decimal_price = parse_price(item.get("price"), odds_format)
        sides[side] = (point, american, decimal_price)
    if market == "totals" and sides["over"][0] != sides["under"][0]:
        raise Reject(f"totals sides differ: over {sides['over'][0]}, under {sides['under'][0]}")
    if market == "spreads" and sides["home"][0] != -sides["away"][0]:  # type: ignore[operator]
        raise Reject(f"spreads do not offset: home {sides['home'][0]}, away {sides['away'][0]}")
    return sides


def _event(item: Any) -> OddsEvent:
    item = require_dict(item, "event")
    event_id = require_text(item.get("id"), "event id", limit=64)
    if not _ID.fullmatch(event_id):
        raise Reject(f"schema: event id {short(event_id, 40)!r} has unexpected characters")
    sport = item.get("sport_key")
    if sport is not None and sport != "baseball_mlb":
        raise Reject(f"not an MLB event (sport_key {short(str(sport), 40)!r})")
    teams = []
    for key in ("away_team", "home_team"):
        try:
            teams.append(team_from_name(require_text(item.get(key), key, limit=80)))
        except UnknownTeamError as exc:
            raise Reject(str(exc)) from None
    if teams[0] == teams[1]:
        raise Reject(f"same team on both sides ({teams[0]})")
    require_list(item.get("bookmakers"), "bookmakers")
    return OddsEvent(event_id, parse_time(item.get("commence_time"), "commence_time"), *teams)


def parse_odds(
    body: bytes, *, file: str, odds_format: str, fetched_at: datetime | None = None
) -> OddsParse:
    """Events and per-market price snapshots of a `GET /v4/sports/baseball_mlb/odds` response.

    Rejection is as narrow as the fault: a whole payload (row 0), an event, one bookmaker of an
    event, or one market of a bookmaker (row = 1-based position of that record in the payload,
    counting events, bookmakers and markets in order). Everything else is kept. A price
    updated more than a day after `fetched_at` is impossible and rejected.
    """
    if odds_format not in ("american", "decimal"):
        raise ValueError(f"odds_format must be american or decimal, not {odds_format!r}")
    result = OddsParse()

    def quarantine(row: int, reason: str, raw: Any) -> None:
        raw_safe = jsonb_safe(raw)
        result.quarantined.append(QuarantinedRecord(SOURCE, file, row, reason, raw_safe))

    try:
        payload = load_json(body)
        if isinstance(payload, dict) and "message" in payload:
            raise Reject(f"error payload: {short(str(payload['message']))}")
        events = require_list(payload, "odds payload")
    except Reject as exc:
        quarantine(0, str(exc), {"body_prefix": body[:2000].decode("utf-8", "replace")})
        return result
    latest = None if fetched_at is None else fetched_at + timedelta(days=1)
    row = 0
    seen_events: set[str] = set()
    for item in events:
        row += 1
        event, reason = attempt(_event, item)
        if event is None or event.event_id in seen_events:
            duplicate = event and f"duplicate event {event.event_id}"
            quarantine(row, reason or duplicate or "", item)
            continue
        seen_events.add(event.event_id)
        result.events.append(event)
        seen_books: set[str] = set()
        for book_item in item["bookmakers"]:
            row += 1
            book, reason = attempt(_bookmaker, book_item)
            if book is None or book[0] in seen_books:
                duplicate = book and f"duplicate bookmaker {book[0]}"
                quarantine(row, reason or duplicate or "", _ctx(event, book_item))
                continue
            key, title, book_update, markets = book
            seen_books.add(key)
            result.bookmakers.setdefault(key, title)
            seen_markets: set[str] = set()
            for market_item in markets:
                row += 1
                quote, reason = attempt(
                    _market, market_item, event, key, book_update, odds_format, latest
                )
                if quote is None or quote.market in seen_markets:
                    duplicate = quote and f"duplicate {quote.market} market for {key}"
                    raw = _ctx(event, {"key": key, "markets": [market_item]})
                    quarantine(row, reason or duplicate or "", raw)
                    continue
                seen_markets.add(quote.market)
                result.snapshots.append(quote)
                if result.earliest is None or quote.last_update < result.earliest:
                    result.earliest = quote.last_update
    return result


def _ctx(event: OddsEvent, raw: Any) -> dict[str, Any]:
    return {"event_id": event.event_id, "record": raw}


def _bookmaker(item: Any) -> tuple[str, str, datetime | None, list[Any]]:
    item = require_dict(item, "bookmaker")
    key = require_text(item.get("key"), "bookmaker key", limit=64)
    if not _ID.fullmatch(key):
        raise Reject(f"schema: bookmaker key {short(key, 40)!r} has unexpected characters")
    title = item.get("title", key)
    title = require_text(title, "bookmaker title", limit=100)
    update = item.get("last_update")
    return (
        key,
        title,
        None if update is None else parse_time(update, "bookmaker last_update"),
        require_list(item.get("markets"), "markets"),
    )


def _market(
    item: Any,
    event: OddsEvent,
    book: str,
    book_update: datetime | None,
    odds_format: str,
    latest: datetime | None,
) -> OddsSnapshot:
    item = require_dict(item, "market")
    market = item.get("key")
    if market not in MARKETS:
        raise Reject(f"unknown market {short(str(market), 40)!r}")
    update = item.get("last_update")
    if update is not None:
        last_update = parse_time(update, "market last_update")
    elif book_update is not None:
        last_update = book_update
    else:
        raise Reject("market without last_update (neither market nor bookmaker has one)")
    if latest is not None and last_update > latest:
        raise Reject(f"last_update {last_update.isoformat()} is after the fetch")
    sides = _outcomes(market, require_list(item.get("outcomes"), "outcomes"), event, odds_format)
    first, second = ("over", "under") if market == "totals" else ("home", "away")
    point, first_american, first_decimal = sides[first]
    _, second_american, second_decimal = sides[second]
    return OddsSnapshot(
        event.event_id,
        book,
        market,
        last_update,
        point,
        first_american,
        second_american,
        first_decimal,
        second_decimal,
    )
