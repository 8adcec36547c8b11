"""MLB Stats API parsing against recorded schedules and feed (and hand-made doubleheaders)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bullpen.collect.live.mlb_stats import (
    default_dates,
    game_status,
    parse_game_feed,
    parse_schedule,
    schedule_params,
)
from tests.conftest import REPO

MLB = REPO / "tests" / "fixtures" / "mlb_statsapi"


def _schedule(name: str) -> bytes:
    return (MLB / name).read_bytes()


def _by_pk(body: bytes) -> dict[int, Any]:
    parsed = parse_schedule(body, file="test")
    return {g.game_pk: g for g in parsed.games}


def test_parse_schedule_reads_finals_and_postponed_games_of_a_recorded_day() -> None:
    parsed = parse_schedule(_schedule("schedule_date_2022-04-07.json"), file="test")
    games = {g.game_pk: g for g in parsed.games}
    assert (len(games), parsed.quarantined, parsed.skipped) == (9, [], 0)
    opener = games[663178]  # Brewers 4 @ Cubs 5, Wrigley home opener
    assert (opener.away_team, opener.home_team, opener.away_score, opener.home_score) == (
        "MIL",
        "CHC",
        4,
        5,
    )
    assert (opener.status, opener.game_number, opener.official_date) == (
        "final",
        0,
        date(2022, 4, 7),
    )
    assert opener.start_time == datetime(2022, 4, 7, 18, 20, tzinfo=UTC)
    assert opener.venue == "Wrigley Field" and opener.game_type == "R"
    # Mariners @ Twins was rained out: MLB keeps abstractGameState "Final" but it is postponed,
    # it has no score, and its official date is the make-up day.
    rainout = games[661750]
    assert (rainout.status, rainout.detailed_state, rainout.status_reason) == (
        "postponed",
        "Postponed",
        "Inclement Weather",
    )
    assert (rainout.away_score, rainout.home_score) == (None, None)
    assert (rainout.official_date, rainout.listed_date) == (date(2022, 4, 8), date(2022, 4, 7))
    assert rainout.rescheduled_to == datetime(2022, 4, 8, 20, 10, tzinfo=UTC)
    assert sum(g.status == "final" for g in games.values()) == 7


def test_parse_schedule_quarantines_listings_without_teams_and_asks_for_their_feed() -> None:
    parsed = parse_schedule(_schedule("schedule_range_2022-10-11_2022-10-13.json"), file="f")
    assert [(q.row, q.reason) for q in parsed.quarantined] == [
        (3, "missing teams"),
        (4, "missing teams"),
    ]
    assert parsed.quarantined[0].raw["gamePk"] == 715753
    assert parsed.need_feed == [(715753, date(2022, 10, 11)), (715748, date(2022, 10, 11))]
    games = {g.game_pk: g for g in parsed.games}
    assert len(games) == 6 and {g.game_type for g in games.values()} == {"D"}
    # ALDS game 2 (Guardians @ Yankees) was postponed from 10-13 to 10-14.
    assert games[715752].status == "postponed"
    assert games[715752].official_date == date(2022, 10, 14)


def test_parse_schedule_numbers_both_kinds_of_doubleheader() -> None:
    games = _by_pk(_schedule("handmade_schedule_2030-07-20.json"))
    split = [games[900001], games[900002]]
    assert [(g.double_header, g.game_number, g.away_team, g.home_team) for g in split] == [
        ("S", 1, "NYY", "BOS"),
        ("S", 2, "NYY", "BOS"),
    ]
    traditional = games[900004]
    assert (traditional.double_header, traditional.game_number) == ("Y", 2)
    assert traditional.start_time_tbd is True
    assert games[900003].game_number == 1


def test_parse_schedule_keeps_a_suspended_game_until_it_is_listed_as_resumed() -> None:
    one_day = _by_pk(_schedule("handmade_schedule_2030-07-20.json"))[900005]
    assert (one_day.status, one_day.detailed_state, one_day.status_reason) == (
        "suspended",
        "Suspended: Rain",
        "Rain",
    )
    assert (one_day.away_score, one_day.home_score) == (2, 2)
    parsed = parse_schedule(_schedule("handmade_schedule_2030-07-20_2030-07-21.json"), file="f")
    resumed = {g.game_pk: g for g in parsed.games}[900005]
    assert parsed.superseded == 1  # the suspended listing gives way to the later one
    assert (resumed.status, resumed.away_score, resumed.home_score) == ("final", 4, 3)
    assert (resumed.official_date, resumed.listed_date) == (date(2030, 7, 20), date(2030, 7, 21))


def test_parse_schedule_reads_probable_pitchers() -> None:
    game = _by_pk(_schedule("handmade_schedule_2030-07-20_2030-07-21.json"))[900007]
    assert (game.away_probable_pitcher, game.away_probable_pitcher_id) == ("Handmade Pitcher A", 1)
    assert (game.home_probable_pitcher, game.home_probable_pitcher_id) == ("Handmade Pitcher B", 2)
    assert game.status == "scheduled"


def test_parse_game_feed_reads_a_recorded_world_series_game() -> None:
    body = (MLB / "game_715720_feed_live.json").read_bytes()
    parsed = parse_game_feed(body, file="f", game_pk=715720, listed_date=date(2022, 11, 3))
    assert parsed.quarantined == []
    game = parsed.games[0]
    assert (game.away_team, game.home_team, game.away_score, game.home_score) == (
        "HOU",
        "PHI",
        3,
        2,
    )
    assert (game.status, game.game_type, game.official_date) == ("final", "W", date(2022, 11, 3))
    assert game.away_probable_pitcher == "Justin Verlander"
    assert game.home_probable_pitcher_id == 592789


def test_parse_game_feed_rejects_a_feed_for_another_game() -> None:
    body = (MLB / "game_715720_feed_live.json").read_bytes()
    parsed = parse_game_feed(body, file="f", game_pk=715753, listed_date=date(2022, 10, 11))
    assert parsed.games == []
    assert [q.reason for q in parsed.quarantined] == ["feed is for gamePk 715720, not 715753"]
    assert set(parsed.quarantined[0].raw["gameData"]) == {"game", "datetime", "status", "teams"}


@pytest.mark.parametrize(
    ("abstract", "coded", "detailed", "expected"),
    [
        ("Final", "F", "Final", "final"),
        ("Final", "O", "Game Over", "final"),
        ("Final", "F", "Completed Early", "final"),
        ("Final", "D", "Postponed", "postponed"),
        ("Live", "U", "Suspended: Rain", "suspended"),
        ("Final", "T", "Suspended", "suspended"),
        ("Final", "C", "Cancelled", "cancelled"),
        ("Live", "I", "In Progress", "live"),
        ("Preview", "S", "Scheduled", "scheduled"),
        ("Preview", "P", "Pre-Game", "scheduled"),
    ],
)
def test_game_status_reads_every_kind(
    abstract: str, coded: str, detailed: str, expected: str
) -> None:
    status = {"abstractGameState": abstract, "codedGameState": coded, "detailedState": detailed}
    assert game_status(status)[0] == expected


def _mutated(change: Any) -> bytes:
    payload = json.loads(_schedule("schedule_date_2022-04-07.json"))
    change(payload["dates"][0]["games"][0])
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda g: g["teams"]["away"]["team"].update(id=999), "unknown MLB Stats API team id 999"),
        (lambda g: g["teams"]["away"]["team"].update(name="Chicago Cubs"), "is MIL, but its name"),
        (lambda g: g["teams"]["home"].update(score=-1), "implausible teams.home.score -1"),
        (lambda g: g["teams"]["home"].pop("score"), "final game without a score"),
        (lambda g: g.update(gameDate="yesterday"), "gameDate 'yesterday' is not an ISO time"),
        (lambda g: g.update(doubleHeader="Q"), "doubleHeader 'Q' is not N, Y or S"),
        (lambda g: g.update(gameNumber=3), "implausible gameNumber 3"),
        (lambda g: g.update(gameType="Z"), "unknown gameType 'Z'"),
        (lambda g: g["status"].update(abstractGameState="Odd", codedGameState="?"), "unknown game"),
        (lambda g: g.pop("officialDate"), "officialDate is not a non-empty string"),
        (lambda g: g.update(gamePk="663178"), "gamePk is not an integer"),
    ],
)  # fmt: skip
def test_parse_schedule_quarantines_one_bad_game_and_keeps_the_rest(
    change: Any, reason: str
) -> None:
    parsed = parse_schedule(_mutated(change), file="f")
    assert len(parsed.games) == 8
    assert len(parsed.quarantined) == 1
    assert reason in parsed.quarantined[0].reason
    assert parsed.quarantined[0].row == 1
    assert parsed.quarantined[0].raw["calendarEventID"] == "14-663178-2022-04-07"


def test_parse_schedule_skips_spring_training_without_quarantine() -> None:
    parsed = parse_schedule(_mutated(lambda g: g.update(gameType="S")), file="f")
    assert (len(parsed.games), parsed.skipped, parsed.quarantined) == (8, 1, [])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (lambda b: b[: len(b) // 2], "invalid JSON"),
        (lambda b: b.replace(b'"dates"', b'"days"'), "schema: dates is not a list"),
        (lambda b: b"[]", "schema: schedule payload is not an object"),
        (lambda b: b'{"dates": NaN}', "non-standard JSON constant NaN"),
    ],
)
def test_parse_schedule_quarantines_an_unreadable_payload_whole(body: Any, reason: str) -> None:
    parsed = parse_schedule(body(_schedule("schedule_date_2022-04-07.json")), file="f")
    assert parsed.games == []
    assert [q.row for q in parsed.quarantined] == [0]
    assert reason in parsed.quarantined[0].reason


def test_parse_schedule_reports_two_gamepks_on_one_game_row() -> None:
    payload = json.loads(_schedule("schedule_date_2022-04-07.json"))
    clone = json.loads(json.dumps(payload["dates"][0]["games"][0]))
    clone["gamePk"] = 1
    payload["dates"][0]["games"].append(clone)
    parsed = parse_schedule(json.dumps(payload).encode(), file="f")
    assert len(parsed.games) == 9
    assert parsed.quarantined[0].reason == (
        "gamePk 1 has the same date, teams and game number as gamePk 663178"
    )


def test_default_dates_are_yesterday_and_today_in_us_eastern_time() -> None:
    # 03:30 UTC on May 25 is still May 24 in New York (EDT, UTC-4).
    assert default_dates(datetime(2024, 5, 25, 3, 30, tzinfo=UTC)) == (
        date(2024, 5, 23),
        date(2024, 5, 24),
    )
    assert default_dates(datetime(2024, 5, 25, 4, 30, tzinfo=UTC))[1] == date(2024, 5, 25)


def test_schedule_params_use_date_for_one_day_and_a_range_otherwise() -> None:
    one = schedule_params(date(2022, 4, 7), date(2022, 4, 7))
    assert one == {"sportId": "1", "hydrate": "probablePitcher", "date": "2022-04-07"}
    span = schedule_params(date(2022, 10, 11), date(2022, 10, 13))
    assert (span["startDate"], span["endDate"]) == ("2022-10-11", "2022-10-13")
    with pytest.raises(ValueError, match="before"):
        schedule_params(date(2022, 10, 13), date(2022, 10, 11))
