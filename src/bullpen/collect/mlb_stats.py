"""MLB Stats API (statsapi.mlb.com, no key): schedule and game-feed requests; HTTP only."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bullpen.collect.http import FetchedPayload, Source

SOURCE = "mlb_stats"
SCHEDULE_PATH = "/api/v1/schedule"
EASTERN = ZoneInfo("America/New_York")


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
