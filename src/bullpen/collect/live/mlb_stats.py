"""MLB Stats API (statsapi.mlb.com, no key): the schedule and game-feed requests, and their
parsers (bytes → LiveGame rows and quarantined records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bullpen.collect.http import FetchedPayload, Source
from bullpen.collect.live.checks import (
    Reject,
    attempt,
    clean_text,
    jsonb_safe,
    load_json,
    parse_day,
    parse_time,
    require_dict,
    require_int,
    require_list,
    require_text,
    short,
)
from bullpen.collect.records import QuarantinedRecord
from bullpen.teams import UnknownTeamError, team_from_mlb

SOURCE = "mlb_stats"
SCHEDULE_PATH = "/api/v1/schedule"
EASTERN = ZoneInfo("America/New_York")

# Regular season and postseason; spring training, exhibitions and the All-Star game are skipped.
GAME_TYPES_KEPT = frozenset({"R", "F", "D", "L", "W", "C", "P"})
GAME_TYPES_SKIPPED = frozenset({"S", "E", "A", "I"})


def default_dates(now: datetime) -> tuple[date, date]:
    """Yesterday and today in US Eastern time: last night's finals and today's schedule."""
    today = now.astimezone(EASTERN).date()
    return today - timedelta(days=1), today


def schedule_params(start: date, end: date) -> dict[str, str]:
    """Query for one day (`date=`) or a range (`startDate`/`endDate`), with probable pitchers."""
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    params = {"sportId": "1", "hydrate": "probablePitcher"}
    if start == end:
        params["date"] = start.isoformat()
    else:
        params["startDate"], params["endDate"] = start.isoformat(), end.isoformat()
    return params


def fetch_schedule(source: Source, start: date, end: date) -> FetchedPayload:
    """`GET /api/v1/schedule?sportId=1&...`: games, status, doubleheaders, scores, probables."""
    return source.get(SCHEDULE_PATH, schedule_params(start, end))


def feed_path(game_pk: int) -> str:
    return f"/api/v1.1/game/{int(game_pk)}/feed/live"


def fetch_game_feed(source: Source, game_pk: int) -> FetchedPayload:
    """`GET /api/v1.1/game/{gamePk}/feed/live`: one game in full (teams, linescore, probables)."""
    return source.get(feed_path(game_pk), {})


# -- parsing ---------------------------------------------------------------------------------


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
    status = require_dict(status, "status")
    detailed = require_text(status.get("detailedState"), "status.detailedState", limit=80)
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
        raise Reject(f"unknown game status {short(detailed, 60)!r} ({abstract!r}/{coded!r})")
    return kind, clean_text(detailed), clean_text(reason) if reason else None


def _score(side: dict[str, Any], key: str, what: str) -> int | None:
    if side.get(key) is None:
        return None
    return require_int(side[key], what, 0, 99)


def _pitcher(value: Any, what: str) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    pitcher = require_dict(value, what)
    name = require_text(pitcher.get("fullName"), f"{what}.fullName", limit=80)
    player_id = pitcher.get("id")
    return name, None if player_id is None else require_int(player_id, f"{what}.id", 1, 10**9)


def _team(side: Any, which: str) -> str:
    team = require_dict(require_dict(side, f"teams.{which}").get("team"), f"teams.{which}.team")
    name = team.get("name")
    try:
        return team_from_mlb(team.get("id"), name if isinstance(name, str) else None)
    except UnknownTeamError as exc:
        raise Reject(str(exc)) from None


def _doubleheader(game: dict[str, Any]) -> tuple[str, int, int]:
    kind = game.get("doubleHeader")
    if kind not in ("N", "Y", "S"):
        raise Reject(f"schema: doubleHeader {short(str(kind), 20)!r} is not N, Y or S")
    number = require_int(game.get("gameNumber"), "gameNumber", 1, 2)
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
        game_type=require_text(game_type, "gameType", limit=2),
        season=require_int(season_int, "season", 2000, 2100),
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
        venue=clean_text(venue) if isinstance(venue, str) and len(venue) <= 100 else None,
        away_score=away_score,
        home_score=home_score,
        away_probable_pitcher=clean_text(away_p) if away_p else None,
        away_probable_pitcher_id=away_pid,
        home_probable_pitcher=clean_text(home_p) if home_p else None,
        home_probable_pitcher_id=home_pid,
    )


def _schedule_game(game: Any, listed: date) -> LiveGame:
    game = require_dict(game, "game")
    if game.get("gameType") not in GAME_TYPES_KEPT:
        raise Reject(f"unknown gameType {short(str(game.get('gameType')), 20)!r}")
    require_int(game.get("gamePk"), "gamePk", 1, 10**9)
    teams = require_dict(game.get("teams"), "teams")
    if not teams.get("away") or not teams.get("home"):
        raise Reject("missing teams")
    away_side, home_side = (
        require_dict(teams["away"], "teams.away"),
        require_dict(teams["home"], "teams.home"),
    )
    reschedule = game.get("rescheduleDate")
    status = require_dict(game.get("status"), "status")
    venue = game.get("venue")
    return _game_common(
        game_pk=require_int(game.get("gamePk"), "gamePk", 1, 10**9),
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
        result.quarantined.append(QuarantinedRecord(SOURCE, file, row, reason, raw_safe))

    try:
        payload = require_dict(load_json(body), "schedule payload")
        dates = require_list(payload.get("dates"), "dates")
    except Reject as exc:
        quarantine(0, str(exc), {"body_prefix": body[:2000].decode("utf-8", "replace")})
        return result
    latest: dict[int, LiveGame] = {}
    row = 0
    for day in dates:
        try:
            listed = parse_day(require_dict(day, "dates[]").get("date"), "dates[].date")
            games = require_list(day.get("games"), "dates[].games")
        except Reject as exc:
            row += 1
            quarantine(row, str(exc), day)
            continue
        for game in games:
            row += 1
            if isinstance(game, dict) and game.get("gameType") in GAME_TYPES_SKIPPED:
                result.skipped += 1
                continue
            parsed, reason = attempt(_schedule_game, game, listed)
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


def feed_teams(data: dict[str, Any]) -> tuple[str, str]:
    """(away, home) team codes of a game feed's gameData."""
    teams = require_dict(data.get("teams"), "gameData.teams")
    codes = []
    for which in ("away", "home"):
        team = require_dict(teams.get(which), f"gameData.teams.{which}")
        try:
            codes.append(team_from_mlb(team.get("id"), team.get("name")))
        except UnknownTeamError as exc:
            raise Reject(str(exc)) from None
    return codes[0], codes[1]


def parse_game_feed(body: bytes, *, file: str, game_pk: int, listed_date: date) -> GamesParse:
    """The game of a `GET /api/v1.1/game/{gamePk}/feed/live` response (used where the schedule
    listing lacks teams). `listed_date` is the schedule date that asked for it."""
    result = GamesParse()

    def build() -> LiveGame:
        payload = require_dict(load_json(body), "game feed")
        data = require_dict(payload.get("gameData"), "gameData")
        game = require_dict(data.get("game"), "gameData.game")
        pk = require_int(game.get("pk", payload.get("gamePk")), "gameData.game.pk", 1, 10**9)
        if pk != game_pk:
            raise Reject(f"feed is for gamePk {pk}, not {game_pk}")
        when = require_dict(data.get("datetime"), "gameData.datetime")
        status = require_dict(data.get("status"), "gameData.status")
        sides = feed_teams(data)
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
            teams=sides,
            scores=tuple(  # type: ignore[arg-type]
                _score(require_dict(runs.get(side, {}), f"linescore.teams.{side}"), "runs", side)
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
        result.quarantined.append(QuarantinedRecord(SOURCE, file, 0, reason, raw))

    parsed, reason = attempt(build)
    if parsed is None:
        reject(reason or "")
    else:
        result.games.append(parsed)
    return result
