"""Link The Odds API events to games: team names -> codes, commence time -> game date,
doubleheaders told apart by start time. Pure; unmatched events come back with a reason so the
caller quarantines them (`quarantine_records`).

The rule agrees with the live store's SQL link (bullpen.collect.live.store.link_odds_events)
where both apply, but works on frames, so a replayed season and tests link the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from bullpen.collect.records import QuarantinedRecord
from bullpen.teams import TEAMS, UnknownTeamError, team_from_name

# MLB's official date is the local date of the ballpark; US/Eastern gives it for every regular
# venue (a 10:10 pm ET first pitch on the West Coast is still the same Eastern date).
GAME_TIMEZONE = "America/New_York"
EVENT_COLUMNS: tuple[str, ...] = ("event_id", "commence_time", "away_team", "home_team")
GAME_COLUMNS: tuple[str, ...] = (
    "game_id",
    "game_date",
    "away_team",
    "home_team",
    "game_number",
    "start_time",
)
ODDS_SOURCE = "odds_api"
# Odds API start times can differ from MLB's by minutes (rounding, updates): more than this and
# a doubleheader event is closer to neither game with confidence.
DOUBLEHEADER_TOLERANCE = timedelta(hours=3)


@dataclass(frozen=True, eq=False)
class EventLinks:
    """links: (event_id, game_id, away_team, home_team, game_date); unmatched: (event_id,
    reason, and the event's own columns)."""

    links: pd.DataFrame
    unmatched: pd.DataFrame


def team_code(name: str) -> str:
    """Canonical team id for an Odds API team name, or an id that is canonical already.

    Raises:
        UnknownTeamError: a name no mapping knows.
    """
    text = str(name).strip()
    return text if text in TEAMS else team_from_name(text)


def link_events(events: pd.DataFrame, games: pd.DataFrame) -> EventLinks:
    """Match each event to the game with the same teams on the event's (Eastern) date.

    One game that day: that game. A doubleheader: the game whose start time is nearest the
    commence time (within DOUBLEHEADER_TOLERANCE, and not a tie). Two events on one game: the
    one nearest the start time wins, the other is a duplicate. Anything else is unmatched with
    the reason (unknown team, no such game that day, a game moved to another date, ...).
    """
    _require(events, EVENT_COLUMNS, "events")
    _require(games, GAME_COLUMNS, "games")
    games = games.copy()
    games["game_date"] = pd.to_datetime(games["game_date"]).dt.date
    games["start_time"] = pd.to_datetime(games["start_time"], utc=True)
    by_teams = {key: group for key, group in games.groupby(["away_team", "home_team"])}

    links: list[dict[str, object]] = []
    unmatched: list[dict[str, object]] = []
    for event in events.to_dict("records"):
        game, gap, reason = _match(event, by_teams)
        if game is None:
            unmatched.append({**event, "reason": reason})
        else:
            links.append(
                {
                    "event_id": event["event_id"],
                    "game_id": game["game_id"],
                    "away_team": game["away_team"],
                    "home_team": game["home_team"],
                    "game_date": game["game_date"],
                    "gap": gap,
                }
            )

    link_frame = pd.DataFrame(
        links, columns=["event_id", "game_id", "away_team", "home_team", "game_date", "gap"]
    )
    # Duplicate events for one game: the nearest start wins; ties go to the smaller event id.
    link_frame = link_frame.sort_values(["game_id", "gap", "event_id"], kind="stable")
    dup = link_frame.duplicated("game_id", keep="first")
    winners = link_frame[~dup].set_index("game_id")["event_id"]
    event_rows = events.set_index("event_id", drop=False)
    for row in link_frame[dup].itertuples():
        unmatched.append(
            {
                **event_rows.loc[row.event_id].to_dict(),
                "reason": f"duplicate event: game {row.game_id} is linked to event "
                f"{winners[row.game_id]}",
            }
        )
    link_frame = link_frame[~dup].drop(columns="gap").sort_values("event_id", ignore_index=True)
    unmatched_frame = pd.DataFrame(unmatched, columns=[*events.columns, "reason"])
    return EventLinks(links=link_frame, unmatched=unmatched_frame.reset_index(drop=True))


def quarantine_records(unmatched: pd.DataFrame, *, file: str) -> list[QuarantinedRecord]:
    """Unmatched events as quarantine rows (row = 1-based position in `unmatched`)."""
    records = []
    for row, item in enumerate(unmatched.to_dict("records"), start=1):
        raw = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.items()}
        reason = str(raw.pop("reason"))
        records.append(QuarantinedRecord(ODDS_SOURCE, file, row, reason, raw))
    return records


# --- internals ---------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} are missing columns: {missing}")


def _match(
    event: dict[str, object], by_teams: dict[tuple[str, str], pd.DataFrame]
) -> tuple[dict[str, object] | None, float, str]:
    try:
        away, home = team_code(str(event["away_team"])), team_code(str(event["home_team"]))
    except UnknownTeamError as exc:
        return None, 0.0, str(exc)
    commence = pd.Timestamp(event["commence_time"])
    if commence.tzinfo is None:
        return None, 0.0, f"commence time {commence} has no timezone"
    day = commence.tz_convert(GAME_TIMEZONE).date()
    pairing = by_teams.get((away, home))
    if pairing is None:
        return None, 0.0, f"no {away}@{home} game scheduled"
    same_day = pairing[pairing["game_date"] == day]
    if same_day.empty:
        near = sorted(d for d in pairing["game_date"] if abs((d - day).days) <= 3)
        moved = f" (scheduled on {', '.join(map(str, near))}: moved?)" if near else ""
        return None, 0.0, f"no {away}@{home} game on {day}{moved}"
    gaps = (same_day["start_time"] - commence).abs()
    if len(same_day) == 1:
        gap = gaps.iloc[0]
        return same_day.iloc[0].to_dict(), _seconds(gap), ""
    if gaps.isna().any():
        return None, 0.0, f"doubleheader {away}@{home} on {day} without start times"
    order = gaps.sort_values()
    if order.iloc[0] == order.iloc[1]:
        return None, 0.0, f"doubleheader {away}@{home} on {day}: both games equally near"
    if order.iloc[0] > DOUBLEHEADER_TOLERANCE:
        return (
            None,
            0.0,
            (
                f"doubleheader {away}@{home} on {day}: no game starts within "
                f"{DOUBLEHEADER_TOLERANCE} of {commence.isoformat()}"
            ),
        )
    return same_day.loc[order.index[0]].to_dict(), _seconds(order.iloc[0]), ""


def _seconds(gap: object) -> float:
    # A single game without a start time still matches; it sorts after any timed candidate.
    return float("inf") if pd.isna(gap) else float(pd.Timedelta(gap).total_seconds())
