"""Odds API events linked to games: names -> codes, commence time -> date, doubleheaders."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pandas as pd

from bullpen.market.events import link_events, quarantine_records


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=UTC)


GAMES = pd.DataFrame(
    [
        # game_id, date, away, home, number, MLB start time
        (1, date(2024, 6, 1), "NYY", "BOS", 0, utc(1, 23, 10)),
        # A West Coast night game: 7:10 pm PT is 02:10 UTC on the next day.
        (2, date(2024, 6, 1), "SF", "LAD", 0, utc(2, 2, 10)),
        # A day-night doubleheader.
        (3, date(2024, 6, 1), "CWS", "DET", 1, utc(1, 17, 10)),
        (4, date(2024, 6, 1), "CWS", "DET", 2, utc(1, 23, 10)),
        # A game moved from June 1 to June 2 (the June 1 listing is gone).
        (5, date(2024, 6, 2), "TB", "TOR", 0, utc(2, 17, 7)),
        # A doubleheader whose start times are not known yet.
        (6, date(2024, 6, 1), "OAK", "SEA", 1, None),
        (7, date(2024, 6, 1), "OAK", "SEA", 2, None),
    ],
    columns=["game_id", "game_date", "away_team", "home_team", "game_number", "start_time"],
)


def events(*rows: tuple[str, datetime, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "commence_time", "away_team", "home_team"])


def linked(result: object) -> dict[str, int]:
    links = result.links  # type: ignore[attr-defined]
    return dict(zip(links["event_id"], links["game_id"], strict=True))


def reasons(result: object) -> dict[str, str]:
    unmatched = result.unmatched  # type: ignore[attr-defined]
    return dict(zip(unmatched["event_id"], unmatched["reason"], strict=True))


def test_link_events_matches_names_and_eastern_dates() -> None:
    result = link_events(
        events(
            ("a", utc(1, 23, 5), "New York Yankees", "Boston Red Sox"),
            ("b", utc(2, 2, 10), "San Francisco Giants", "Los Angeles Dodgers"),
        ),
        GAMES,
    )
    assert linked(result) == {"a": 1, "b": 2}
    assert result.unmatched.empty
    assert result.links.set_index("event_id").loc["b", "game_date"] == date(2024, 6, 1)


def test_link_events_tells_doubleheader_games_apart_by_start_time() -> None:
    result = link_events(
        events(
            ("night", utc(1, 23, 5), "Chicago White Sox", "Detroit Tigers"),
            ("day", utc(1, 17, 10), "Chicago White Sox", "Detroit Tigers"),
        ),
        GAMES,
    )
    assert linked(result) == {"day": 3, "night": 4}


def test_link_events_reports_unmatched_events_with_reasons() -> None:
    result = link_events(
        events(
            ("unknown", utc(1, 23), "Springfield Isotopes", "Boston Red Sox"),
            ("moved", utc(1, 17, 7), "Tampa Bay Rays", "Toronto Blue Jays"),
            ("no-pairing", utc(1, 23), "Boston Red Sox", "New York Yankees"),
            ("untimed", utc(1, 20), "Oakland Athletics", "Seattle Mariners"),
            ("far", utc(1, 20, 10), "Chicago White Sox", "Detroit Tigers"),
        ),
        GAMES,
    )
    assert result.links.empty
    why = reasons(result)
    assert why["unknown"] == "unknown team name 'Springfield Isotopes'"
    assert why["moved"] == "no TB@TOR game on 2024-06-01 (scheduled on 2024-06-02: moved?)"
    assert why["no-pairing"] == "no BOS@NYY game scheduled"
    assert why["untimed"] == "doubleheader OAK@SEA on 2024-06-01 without start times"
    # 20:10 is three hours from both games of the doubleheader.
    assert why["far"] == "doubleheader CWS@DET on 2024-06-01: both games equally near"


def test_link_events_keeps_one_event_per_game() -> None:
    result = link_events(
        events(
            ("late", utc(1, 23, 40), "New York Yankees", "Boston Red Sox"),
            ("exact", utc(1, 23, 10), "New York Yankees", "Boston Red Sox"),
        ),
        GAMES,
    )
    assert linked(result) == {"exact": 1}
    assert reasons(result) == {"late": "duplicate event: game 1 is linked to event exact"}


def test_quarantine_records_carry_the_reason_and_a_json_safe_event() -> None:
    result = link_events(events(("x", utc(1, 23), "Nobody", "Boston Red Sox")), GAMES)
    (record,) = quarantine_records(result.unmatched, file="odds-2024-06-01T2300Z")
    assert (record.source, record.file, record.row) == ("odds_api", "odds-2024-06-01T2300Z", 1)
    assert record.reason == "unknown team name 'Nobody'"
    assert record.raw["commence_time"] == "2024-06-01T23:00:00+00:00"
    json.dumps(record.raw)
