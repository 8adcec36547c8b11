"""A real season as the live APIs would have served it: SBR open and close lines turned into
The Odds API v4 snapshot payloads, Retrosheet results into MLB Stats API schedule payloads.

Nothing here was recorded from those APIs. The payloads are DERIVED from the bundled files and
say so: the only bookmaker is `sbr_derived` (title "SBR open/close, derived - not recorded"),
and every schedule payload carries a top-level `_derived` note. They exist so that a whole real
season can go through the live path (collectors, market lines, recommend-bets, settle-bets) and
be compared with the offline backtest of the same games.

Times are invented but plausible (SBR and the game logs carry no first-pitch times): first pitch
23:05 UTC (7:05 pm Eastern), the first game of a doubleheader 17:05 UTC; every game's line opens
at 14:00 UTC of its date (10:00 am Eastern) and closes 10 minutes before first pitch. A game
without a score in the game logs or SBR is listed as postponed once its time has passed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bullpen.collect.history.seasons import read_season_files
from bullpen.collect.records import GameRecord
from bullpen.teams import MLB_IDS, TEAMS

BOOK = "sbr_derived"
BOOK_TITLE = "SBR open/close, derived - not recorded"
DERIVED_NOTE = (
    "DERIVED by bullpen.market.replay from the bundled Retrosheet game log and SBR odds file "
    "{files}: not a recorded MLB Stats API response. Start times are invented."
)
OPEN_AT = time(14, 0)  # UTC, the game's date
FIRST_PITCH = time(23, 5)  # UTC
DOUBLEHEADER_FIRST = time(17, 5)  # UTC, game 1 of a doubleheader
CLOSE_BEFORE = timedelta(minutes=10)
# A fetch a few minutes after the quotes it carries (the books' last_update precede it).
FETCH_DELAY = timedelta(minutes=5)
GAME_LENGTH = timedelta(hours=4)  # after this a game is listed final (or postponed)
_TEAM_IDS = {code: mlb_id for mlb_id, code in MLB_IDS.items()}


@dataclass(frozen=True)
class ReplayGame:
    """One game of the season with the identities and times the derived payloads use."""

    record: GameRecord
    game_pk: int
    event_id: str
    commence_time: datetime

    @property
    def game_date(self) -> date:
        return self.record.game_date

    @property
    def opens_at(self) -> datetime:
        return datetime.combine(self.game_date, OPEN_AT, UTC)

    @property
    def closes_at(self) -> datetime:
        return self.commence_time - CLOSE_BEFORE


@dataclass(frozen=True)
class Season:
    season: int
    games: list[ReplayGame]
    files: str  # the bundled files the payloads derive from

    def days(self, first: date | None = None, last: date | None = None) -> list[date]:
        dates = sorted({g.game_date for g in self.games})
        return [d for d in dates if (first is None or d >= first) and (last is None or d <= last)]

    def on(self, day: date) -> list[ReplayGame]:
        return [g for g in self.games if g.game_date == day]


def load_season(odds_path: Path, retrosheet_path: Path | None) -> Season:
    """The season's games as bullpen's history replay merges them (same natural keys, so the
    live collectors link onto the replayed games), with a gamePk, an event id and a first pitch.

    gamePks are 8-digit numbers in natural-key order (no real gamePk: MLB's are 6 digits); event
    ids are the first 32 hex digits of a SHA-256 of the natural key, shaped like the API's.
    """
    parsed = read_season_files(odds_path, retrosheet_path)
    season = parsed.games[0].season if parsed.games else 0
    games = []
    for n, record in enumerate(parsed.games, start=1):
        key = f"{record.game_date}:{record.away_team}:{record.home_team}:{record.game_number}"
        pitch = DOUBLEHEADER_FIRST if record.game_number == 1 else FIRST_PITCH
        games.append(
            ReplayGame(
                record=record,
                game_pk=season * 10_000 + n,
                event_id=hashlib.sha256(f"sbr-derived:{key}".encode()).hexdigest()[:32],
                commence_time=datetime.combine(record.game_date, pitch, UTC),
            )
        )
    names = [odds_path.name] + ([retrosheet_path.name] if retrosheet_path else [])
    return Season(season, games, ", ".join(names))


def odds_fetch_times(games: Iterable[ReplayGame]) -> list[datetime]:
    """When a collector polling the API sees each phase of these games' lines: after the open,
    and after each first pitch's closing quotes."""
    times = set()
    for game in games:
        times.add(game.opens_at + FETCH_DELAY)
        times.add(game.closes_at + FETCH_DELAY)
    return sorted(times)


def odds_payload(games: Iterable[ReplayGame], at: datetime) -> bytes:
    """The Odds API v4 `/sports/baseball_mlb/odds` body at `at`: every game whose line has
    opened and which has not started, with the one derived book's h2h and totals.

    A phase's quote is the SBR close once the close time has passed, else the open. A market
    SBR has no open for is not quoted at all (the live market always has an open); a missing
    close leaves the open as the book's last quote.
    """
    events = []
    for game in sorted(games, key=lambda g: (g.commence_time, g.event_id)):
        if not game.opens_at <= at < game.commence_time:
            continue
        closed = at >= game.closes_at
        markets = [m for m in (_h2h(game, closed), _totals(game, closed)) if m is not None]
        books = []
        if markets:
            update = max(m["last_update"] for m in markets)
            books.append({"key": BOOK, "title": BOOK_TITLE, "last_update": update,
                          "markets": markets})  # fmt: skip
        events.append(
            {
                "id": game.event_id,
                "sport_key": "baseball_mlb",
                "sport_title": "MLB",
                "commence_time": _iso(game.commence_time),
                "home_team": TEAMS[game.record.home_team].name,
                "away_team": TEAMS[game.record.away_team].name,
                "bookmakers": books,
            }
        )
    return json.dumps(events).encode()


def schedule_payload(season: Season, start: date, end: date, at: datetime) -> bytes:
    """The MLB Stats API `/api/v1/schedule` body for `start`..`end` as listed at `at`: a game
    whose first pitch is GAME_LENGTH past is final with its score (postponed when it has none),
    any other game scheduled."""
    by_day: dict[date, list[dict[str, Any]]] = {}
    for game in season.games:
        if start <= game.game_date <= end:
            by_day.setdefault(game.game_date, []).append(_schedule_game(game, at))
    dates = [
        {
            "date": str(day),
            "totalItems": len(items),
            "totalEvents": 0,
            "totalGames": len(items),
            "totalGamesInProgress": 0,
            "games": items,
            "events": [],
        }  # fmt: skip
        for day, items in sorted(by_day.items())
    ]
    total = sum(len(d["games"]) for d in dates)
    return json.dumps(
        {
            "_derived": DERIVED_NOTE.format(files=season.files),
            "copyright": "none: derived from Retrosheet and SBR files bundled with bullpen",
            "totalItems": total,
            "totalEvents": 0,
            "totalGames": total,
            "totalGamesInProgress": 0,
            "dates": dates,
        }
    ).encode()


# --- internals ---------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(game: ReplayGame, closed: bool, opened: Sequence[Any], closing: Sequence[Any]) -> tuple:
    """(values, last_update) of the phase: the close when it has passed and SBR has one."""
    if closed and all(v is not None for v in closing):
        return tuple(closing), _iso(game.closes_at)
    return tuple(opened), _iso(game.opens_at)


def _h2h(game: ReplayGame, closed: bool) -> dict[str, Any] | None:
    r = game.record
    if r.home_open_ml is None or r.away_open_ml is None:
        return None
    (away, home), update = _quote(
        game, closed, (r.away_open_ml, r.home_open_ml), (r.away_close_ml, r.home_close_ml)
    )
    return {
        "key": "h2h",
        "last_update": update,
        "outcomes": [
            {"name": TEAMS[r.away_team].name, "price": int(away)},
            {"name": TEAMS[r.home_team].name, "price": int(home)},
        ],
    }


def _totals(game: ReplayGame, closed: bool) -> dict[str, Any] | None:
    r = game.record
    opened = (r.open_total, r.open_over_price, r.open_under_price)
    if any(v is None for v in opened):
        return None
    closing = (r.close_total, r.close_over_price, r.close_under_price)
    (point, over, under), update = _quote(game, closed, opened, closing)
    return {
        "key": "totals",
        "last_update": update,
        "outcomes": [
            {"name": "Over", "price": int(over), "point": float(point)},
            {"name": "Under", "price": int(under), "point": float(point)},
        ],
    }


def _schedule_game(game: ReplayGame, at: datetime) -> dict[str, Any]:
    r = game.record
    over = at >= game.commence_time + GAME_LENGTH
    scored = r.home_score is not None and r.away_score is not None
    if over and scored:
        status = {"abstractGameState": "Final", "codedGameState": "F", "detailedState": "Final",
                  "statusCode": "F", "startTimeTBD": False, "abstractGameCode": "F"}  # fmt: skip
    elif over:
        status = {"abstractGameState": "Final", "codedGameState": "D",
                  "detailedState": "Postponed", "statusCode": "DI", "startTimeTBD": False,
                  "abstractGameCode": "F", "reason": "no result in the game log"}  # fmt: skip
    else:
        status = {"abstractGameState": "Preview", "codedGameState": "S",
                  "detailedState": "Scheduled", "statusCode": "S", "startTimeTBD": False,
                  "abstractGameCode": "P"}  # fmt: skip
    teams: dict[str, Any] = {}
    for side, code, score in (("away", r.away_team, r.away_score),
                              ("home", r.home_team, r.home_score)):  # fmt: skip
        entry: dict[str, Any] = {"team": {"id": _TEAM_IDS[code], "name": TEAMS[code].name}}
        if over and scored:
            entry["score"] = score
            entry["isWinner"] = score > (r.home_score if side == "away" else r.away_score)
        teams[side] = entry
    number = max(r.game_number, 1)
    return {
        "gamePk": game.game_pk,
        "link": f"/api/v1.1/game/{game.game_pk}/feed/live",
        "gameType": "R",
        "season": str(r.season),
        "gameDate": _iso(game.commence_time),
        "officialDate": str(r.game_date),
        "status": status,
        "teams": teams,
        "venue": {"name": f"{TEAMS[r.home_team].name} home park (derived)"},
        "gameNumber": number,
        "doubleHeader": "N" if r.game_number == 0 else "S",
        "dayNight": "night",
        "scheduledInnings": 9,
    }
