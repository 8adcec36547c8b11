"""Pure parsers for live payloads (MLB Stats API, The Odds API): bytes → typed rows, quarantine."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from bullpen.collect.records import QuarantinedRecord
from bullpen.prices import american_to_decimal_exact, decimal_to_american_exact
from bullpen.teams import UnknownTeamError, team_from_mlb, team_from_name

log = logging.getLogger(__name__)

MLB_SOURCE = "mlb_stats"
ODDS_SOURCE = "odds_api"

# Regular season and postseason; spring training, exhibitions and the All-Star game are skipped.
GAME_TYPES_KEPT = frozenset({"R", "F", "D", "L", "W", "C", "P"})
GAME_TYPES_SKIPPED = frozenset({"S", "E", "A", "I"})

MARKETS = {"h2h": 1, "totals": 2, "spreads": 3}

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_MAX_DEPTH = 40

T = TypeVar("T")


class Reject(ValueError):
    """A record that cannot be trusted; the message is the quarantine reason."""


# -- shared helpers ---------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999 overflows; jsonb cannot hold it either
        raise ValueError(f"non-finite number {_short(text, 20)}")
    return value


def load_json(body: bytes) -> Any:
    """Strict JSON (no NaN/Infinity); raises Reject with the decoder's reason."""
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise Reject("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, over-long integers
        raise Reject(f"invalid JSON: {_short(str(exc))}") from None


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_text(text: str) -> str:
    # jsonb rejects NUL and lone surrogates; keep them visible as escapes instead.
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        return "".join(
            f"\\u{ord(ch):04x}" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text
        )
    return text


def jsonb_safe(value: Any, depth: int = 0) -> Any:
    """A copy of a decoded JSON value that PostgreSQL jsonb accepts (for quarantine.raw)."""
    if depth > _MAX_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return {_clean_text(str(k)): jsonb_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonb_safe(v, depth + 1) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)  # load_json refuses these; callers building raw by hand might not
    return value


def _text(value: Any, what: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Reject(f"schema: {what} is not a non-empty string")
    if len(value) > limit or "\x00" in value:
        raise Reject(f"schema: {what} is not a plausible string")
    return value


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Reject(f"schema: {what} is not an integer")
    if not low <= value <= high:
        raise Reject(f"implausible {what} {value}")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Reject(f"schema: {what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Reject(f"schema: {what} is not a list")
    return value


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 instant with a zone (e.g. 2024-05-24T22:40:00Z), as UTC."""
    text = _text(value, what, limit=40)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Reject(f"schema: {what} {_short(text, 40)!r} is not an ISO time") from None
    if parsed.tzinfo is None or not 2000 <= parsed.year <= 2100:
        raise Reject(f"schema: {what} {_short(text, 40)!r} is not a zoned time in 2000-2100")
    return parsed.astimezone(UTC)


def parse_day(value: Any, what: str) -> date:
    text = _text(value, what, limit=20)
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise Reject(f"schema: {what} {_short(text, 20)!r} is not a date") from None
    if not 2000 <= parsed.year <= 2100:
        raise Reject(f"implausible {what} {parsed}")
    return parsed


def _attempt(build: Callable[..., T], *args: Any) -> tuple[T | None, str | None]:
    """(value, None), or (None, reason): a Reject (or, defensively, any bug) rejects one record."""
    try:
        return build(*args), None
    except Reject as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad record must never sink the batch
        log.exception("unexpected error in %s", getattr(build, "__name__", build))
        return None, f"unexpected parser error: {type(exc).__name__}"


# -- MLB Stats API ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveGame:
    """One MLB game (gamePk) as the schedule or game feed lists it; teams are canonical ids."""

    game_pk: int
    game_type: str
    season: int
    official_date: date
    listed_date: date  # the schedule date this listing came from; the latest listing wins
    start_time: datetime
    start_time_tbd: bool
    away_team: str
    home_team: str
    game_number: int  # 0 single game, 1/2 doubleheader (games.game_number)
    double_header: str  # N / Y (traditional) / S (split)
    mlb_game_number: int
    status: str  # scheduled | live | final | postponed | suspended | cancelled
    detailed_state: str
    status_reason: str | None = None
    rescheduled_to: datetime | None = None
    venue: str | None = None
    away_score: int | None = None
    home_score: int | None = None
    away_probable_pitcher: str | None = None
    away_probable_pitcher_id: int | None = None
    home_probable_pitcher: str | None = None
    home_probable_pitcher_id: int | None = None


@dataclass(slots=True)
class GamesParse:
    games: list[LiveGame] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    skipped: int = 0  # spring training, exhibition, All-Star
    superseded: int = 0  # older listings of a gamePk listed again later in the same payload
    # (gamePk, schedule date) of listings without teams: their game feed may have them
    need_feed: list[tuple[int, date]] = field(default_factory=list)


def game_status(status: Any) -> tuple[str, str, str | None]:
    """(status, detailedState, reason) from an MLB status object.

    Postponed/suspended/cancelled are read from detailedState or codedGameState first, because
    MLB marks a postponed game abstractGameState "Final".
    """
    status = _dict(status, "status")
    detailed = _text(status.get("detailedState"), "status.detailedState", limit=80)
    coded = status.get("codedGameState")
    abstract = status.get("abstractGameState")
    reason = status.get("reason")
    reason = reason if isinstance(reason, str) and 0 < len(reason) <= 200 else None
    lowered = detailed.lower()
    if lowered.startswith("postponed") or coded == "D":
        kind = "postponed"
    elif lowered.startswith("suspended") or coded in ("T", "U"):
        kind = "suspended"
    elif lowered.startswith(("cancelled", "canceled")) or coded == "C":
        kind = "cancelled"
    elif abstract == "Final" or coded in ("F", "O"):
        kind = "final"
    elif abstract == "Live":
        kind = "live"
    elif abstract == "Preview":
        kind = "scheduled"
    else:
        raise Reject(f"unknown game status {_short(detailed, 60)!r} ({abstract!r}/{coded!r})")
    return kind, _clean_text(detailed), _clean_text(reason) if reason else None


def _score(side: dict[str, Any], key: str, what: str) -> int | None:
    if side.get(key) is None:
        return None
    return _int(side[key], what, 0, 99)


def _pitcher(value: Any, what: str) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    pitcher = _dict(value, what)
    name = _text(pitcher.get("fullName"), f"{what}.fullName", limit=80)
    player_id = pitcher.get("id")
    return name, None if player_id is None else _int(player_id, f"{what}.id", 1, 10**9)


def _team(side: Any, which: str) -> str:
    team = _dict(_dict(side, f"teams.{which}").get("team"), f"teams.{which}.team")
    name = team.get("name")
    try:
        return team_from_mlb(team.get("id"), name if isinstance(name, str) else None)
    except UnknownTeamError as exc:
        raise Reject(str(exc)) from None


def _doubleheader(game: dict[str, Any]) -> tuple[str, int, int]:
    kind = game.get("doubleHeader")
    if kind not in ("N", "Y", "S"):
        raise Reject(f"schema: doubleHeader {_short(str(kind), 20)!r} is not N, Y or S")
    number = _int(game.get("gameNumber"), "gameNumber", 1, 2)
    if kind == "N" and number != 1:
        raise Reject(f"single game (doubleHeader N) with gameNumber {number}")
    return kind, number, 0 if kind == "N" else number


def _game_common(
    *,
    game_pk: int,
    game_type: Any,
    season: Any,
    official_date: date,
    listed_date: date,
    start: datetime,
    tbd: Any,
    status: Any,
    doubleheader: tuple[str, int, int],
    teams: tuple[str, str],
    scores: tuple[int | None, int | None],
    pitchers: tuple[tuple[str | None, int | None], tuple[str | None, int | None]],
    rescheduled_to: datetime | None,
    venue: Any,
) -> LiveGame:
    kind, detailed, reason = game_status(status)
    away, home = teams
    if away == home:
        raise Reject(f"same team on both sides ({away})")
    away_score, home_score = scores
    if kind == "final" and (away_score is None or home_score is None):
        raise Reject("final game without a score for both teams")
    season_int = int(season) if isinstance(season, str) and season.isdigit() else season
    (away_p, away_pid), (home_p, home_pid) = pitchers
    dh_kind, mlb_number, game_number = doubleheader
    return LiveGame(
        game_pk=game_pk,
        game_type=_text(game_type, "gameType", limit=2),
        season=_int(season_int, "season", 2000, 2100),
        official_date=official_date,
        listed_date=listed_date,
        start_time=start,
        start_time_tbd=tbd is True,
        away_team=away,
        home_team=home,
        game_number=game_number,
        double_header=dh_kind,
        mlb_game_number=mlb_number,
        status=kind,
        detailed_state=detailed,
        status_reason=reason,
        rescheduled_to=rescheduled_to,
        venue=_clean_text(venue) if isinstance(venue, str) and len(venue) <= 100 else None,
        away_score=away_score,
        home_score=home_score,
        away_probable_pitcher=_clean_text(away_p) if away_p else None,
        away_probable_pitcher_id=away_pid,
        home_probable_pitcher=_clean_text(home_p) if home_p else None,
        home_probable_pitcher_id=home_pid,
    )


def _schedule_game(game: Any, listed: date) -> LiveGame:
    game = _dict(game, "game")
    if game.get("gameType") not in GAME_TYPES_KEPT:
        raise Reject(f"unknown gameType {_short(str(game.get('gameType')), 20)!r}")
    _int(game.get("gamePk"), "gamePk", 1, 10**9)
    teams = _dict(game.get("teams"), "teams")
    if not teams.get("away") or not teams.get("home"):
        raise Reject("missing teams")
    away_side, home_side = _dict(teams["away"], "teams.away"), _dict(teams["home"], "teams.home")
    reschedule = game.get("rescheduleDate")
    status = _dict(game.get("status"), "status")
    venue = game.get("venue")
    return _game_common(
        game_pk=_int(game.get("gamePk"), "gamePk", 1, 10**9),
        game_type=game.get("gameType"),
        season=game.get("season"),
        official_date=parse_day(game.get("officialDate"), "officialDate"),
        listed_date=listed,
        start=parse_time(game.get("gameDate"), "gameDate"),
        tbd=status.get("startTimeTBD"),
        status=status,
        doubleheader=_doubleheader(game),
        teams=(_team(away_side, "away"), _team(home_side, "home")),
        scores=(
            _score(away_side, "score", "teams.away.score"),
            _score(home_side, "score", "teams.home.score"),
        ),
        pitchers=(
            _pitcher(away_side.get("probablePitcher"), "teams.away.probablePitcher"),
            _pitcher(home_side.get("probablePitcher"), "teams.home.probablePitcher"),
        ),
        rescheduled_to=None if reschedule is None else parse_time(reschedule, "rescheduleDate"),
        venue=venue.get("name") if isinstance(venue, dict) else None,
    )


def parse_schedule(body: bytes, *, file: str) -> GamesParse:
    """Games of a `GET /api/v1/schedule` response.

    A gamePk listed on several dates (postponed, suspended and resumed) yields one game: the
    listing under the latest date. Bad records are quarantined one by one (row = position of
    the game in the payload, 1-based); an unreadable payload is quarantined whole (row 0).
    """
    result = GamesParse()

    def quarantine(row: int, reason: str, raw: Any) -> None:
        raw_safe = jsonb_safe(raw)
        result.quarantined.append(QuarantinedRecord(MLB_SOURCE, file, row, reason, raw_safe))

    try:
        payload = _dict(load_json(body), "schedule payload")
        dates = _list(payload.get("dates"), "dates")
    except Reject as exc:
        quarantine(0, str(exc), {"body_prefix": body[:2000].decode("utf-8", "replace")})
        return result
    latest: dict[int, LiveGame] = {}
    row = 0
    for day in dates:
        try:
            listed = parse_day(_dict(day, "dates[]").get("date"), "dates[].date")
            games = _list(day.get("games"), "dates[].games")
        except Reject as exc:
            row += 1
            quarantine(row, str(exc), day)
            continue
        for game in games:
            row += 1
            if isinstance(game, dict) and game.get("gameType") in GAME_TYPES_SKIPPED:
                result.skipped += 1
                continue
            parsed, reason = _attempt(_schedule_game, game, listed)
            if parsed is None:
                quarantine(row, reason or "", game)
                if reason == "missing teams" and isinstance(game.get("gamePk"), int):
                    result.need_feed.append((game["gamePk"], listed))
                continue
            previous = latest.get(parsed.game_pk)
            if previous is not None:
                result.superseded += 1
                if previous.listed_date > parsed.listed_date:
                    continue
            latest[parsed.game_pk] = parsed
    # Two gamePks on one natural key would merge into one games row: keep the first, say why.
    seen: dict[tuple[date, str, str, int], int] = {}
    for game in latest.values():
        key = (game.official_date, game.away_team, game.home_team, game.game_number)
        if key in seen:
            quarantine(
                0,
                f"gamePk {game.game_pk} has the same date, teams and game number as "
                f"gamePk {seen[key]}",
                {"gamePk": game.game_pk, "clashes_with": seen[key]},
            )
            continue
        seen[key] = game.game_pk
        result.games.append(game)
    return result


def parse_game_feed(body: bytes, *, file: str, game_pk: int, listed_date: date) -> GamesParse:
    """The game of a `GET /api/v1.1/game/{gamePk}/feed/live` response (used where the schedule
    listing lacks teams). `listed_date` is the schedule date that asked for it."""
    result = GamesParse()

    def build() -> LiveGame:
        payload = _dict(load_json(body), "game feed")
        data = _dict(payload.get("gameData"), "gameData")
        game = _dict(data.get("game"), "gameData.game")
        pk = _int(game.get("pk", payload.get("gamePk")), "gameData.game.pk", 1, 10**9)
        if pk != game_pk:
            raise Reject(f"feed is for gamePk {pk}, not {game_pk}")
        when = _dict(data.get("datetime"), "gameData.datetime")
        status = _dict(data.get("status"), "gameData.status")
        teams = _dict(data.get("teams"), "gameData.teams")
        sides = []
        for which in ("away", "home"):
            team = _dict(teams.get(which), f"gameData.teams.{which}")
            try:
                sides.append(team_from_mlb(team.get("id"), team.get("name")))
            except UnknownTeamError as exc:
                raise Reject(str(exc)) from None
        live = payload.get("liveData")
        line = live.get("linescore") if isinstance(live, dict) else None
        runs = line.get("teams") if isinstance(line, dict) else None
        runs = runs if isinstance(runs, dict) else {}
        probables = data.get("probablePitchers")
        probables = probables if isinstance(probables, dict) else {}
        venue = data.get("venue")
        return _game_common(
            game_pk=pk,
            game_type=game.get("type"),
            season=game.get("season"),
            official_date=parse_day(when.get("officialDate"), "gameData.datetime.officialDate"),
            listed_date=listed_date,
            start=parse_time(when.get("dateTime"), "gameData.datetime.dateTime"),
            tbd=status.get("startTimeTBD"),
            status=status,
            doubleheader=_doubleheader(game),
            teams=(sides[0], sides[1]),
            scores=tuple(  # type: ignore[arg-type]
                _score(_dict(runs.get(side, {}), f"linescore.teams.{side}"), "runs", side)
                for side in ("away", "home")
            ),
            pitchers=(
                _pitcher(probables.get("away"), "probablePitchers.away"),
                _pitcher(probables.get("home"), "probablePitchers.home"),
            ),
            rescheduled_to=None,
            venue=venue.get("name") if isinstance(venue, dict) else None,
        )

    def reject(reason: str) -> None:
        try:
            raw: Any = jsonb_safe(load_json(body))
        except Reject:
            raw = {"body_prefix": body[:2000].decode("utf-8", "replace")}
        game_data = raw.get("gameData") if isinstance(raw, dict) else None
        if isinstance(game_data, dict):  # the whole feed is large; keep what identifies the game
            kept = {k: game_data.get(k) for k in ("game", "datetime", "status", "teams")}
            raw = {"gamePk": raw.get("gamePk"), "gameData": kept}
        result.quarantined.append(QuarantinedRecord(MLB_SOURCE, file, 0, reason, raw))

    parsed, reason = _attempt(build)
    if parsed is None:
        reject(reason or "")
    else:
        result.games.append(parsed)
    return result


# -- The Odds API -----------------------------------------------------------------------------


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
        item = _dict(item, "outcome")
        name = _text(item.get("name"), "outcome name", limit=80)
        if market == "totals":
            side = name.strip().lower()
            if side not in ("over", "under"):
                raise Reject(f"totals outcome {_short(name, 40)!r} is not Over/Under")
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
    item = _dict(item, "event")
    event_id = _text(item.get("id"), "event id", limit=64)
    if not _ID.fullmatch(event_id):
        raise Reject(f"schema: event id {_short(event_id, 40)!r} has unexpected characters")
    sport = item.get("sport_key")
    if sport is not None and sport != "baseball_mlb":
        raise Reject(f"not an MLB event (sport_key {_short(str(sport), 40)!r})")
    teams = []
    for key in ("away_team", "home_team"):
        try:
            teams.append(team_from_name(_text(item.get(key), key, limit=80)))
        except UnknownTeamError as exc:
            raise Reject(str(exc)) from None
    if teams[0] == teams[1]:
        raise Reject(f"same team on both sides ({teams[0]})")
    _list(item.get("bookmakers"), "bookmakers")
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
        result.quarantined.append(QuarantinedRecord(ODDS_SOURCE, file, row, reason, raw_safe))

    try:
        payload = load_json(body)
        if isinstance(payload, dict) and "message" in payload:
            raise Reject(f"error payload: {_short(str(payload['message']))}")
        events = _list(payload, "odds payload")
    except Reject as exc:
        quarantine(0, str(exc), {"body_prefix": body[:2000].decode("utf-8", "replace")})
        return result
    latest = None if fetched_at is None else fetched_at + timedelta(days=1)
    row = 0
    seen_events: set[str] = set()
    for item in events:
        row += 1
        event, reason = _attempt(_event, item)
        if event is None or event.event_id in seen_events:
            duplicate = event and f"duplicate event {event.event_id}"
            quarantine(row, reason or duplicate or "", item)
            continue
        seen_events.add(event.event_id)
        result.events.append(event)
        seen_books: set[str] = set()
        for book_item in item["bookmakers"]:
            row += 1
            book, reason = _attempt(_bookmaker, book_item)
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
                quote, reason = _attempt(
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
    item = _dict(item, "bookmaker")
    key = _text(item.get("key"), "bookmaker key", limit=64)
    if not _ID.fullmatch(key):
        raise Reject(f"schema: bookmaker key {_short(key, 40)!r} has unexpected characters")
    title = item.get("title", key)
    title = _text(title, "bookmaker title", limit=100)
    update = item.get("last_update")
    return (
        key,
        title,
        None if update is None else parse_time(update, "bookmaker last_update"),
        _list(item.get("markets"), "markets"),
    )


def _market(
    item: Any,
    event: OddsEvent,
    book: str,
    book_update: datetime | None,
    odds_format: str,
    latest: datetime | None,
) -> OddsSnapshot:
    item = _dict(item, "market")
    market = item.get("key")
    if market not in MARKETS:
        raise Reject(f"unknown market {_short(str(market), 40)!r}")
    update = item.get("last_update")
    if update is not None:
        last_update = parse_time(update, "market last_update")
    elif book_update is not None:
        last_update = book_update
    else:
        raise Reject("market without last_update (neither market nor bookmaker has one)")
    if latest is not None and last_update > latest:
        raise Reject(f"last_update {last_update.isoformat()} is after the fetch")
    sides = _outcomes(market, _list(item.get("outcomes"), "outcomes"), event, odds_format)
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
