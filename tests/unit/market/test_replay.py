"""Derived live payloads from a season's records, read back by the real live parsers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bullpen.collect.live.mlb_stats import parse_schedule
from bullpen.collect.live.odds_api import parse_odds
from bullpen.collect.records import GameRecord
from bullpen.market import replay
from tests.conftest import DATA

DAY = date(2019, 5, 4)


def record(**fields: object) -> GameRecord:
    base: dict[str, object] = dict(
        season=2019, game_date=DAY, away_team="NYY", home_team="BOS", game_number=0,
        away_open_ml=120, home_open_ml=-130, away_close_ml=135, home_close_ml=-150,
        open_total=8.5, open_over_price=-110, open_under_price=-110,
        close_total=9.0, close_over_price=-105, close_under_price=-115,
        away_score=3, home_score=5,
    )  # fmt: skip
    base.update(fields)
    return GameRecord(**base)  # type: ignore[arg-type]


def season(*records: GameRecord) -> replay.Season:
    games = [
        replay.ReplayGame(
            r, 20190001 + n, f"{n:032x}",
            datetime.combine(r.game_date, replay.DOUBLEHEADER_FIRST if r.game_number == 1
                             else replay.FIRST_PITCH, UTC),
        )
        for n, r in enumerate(records)
    ]  # fmt: skip
    return replay.Season(2019, games, "handmade")


def h2h(body: bytes, at: datetime) -> dict[str, tuple[int, int, datetime]]:
    parsed = parse_odds(body, file="t", odds_format="american", fetched_at=at)
    assert parsed.quarantined == []
    out = {}
    for snap in parsed.snapshots:
        if snap.market == "h2h":
            out[snap.event_id] = (snap.home_over_american, snap.away_under_american,
                                  snap.last_update)  # fmt: skip
    return out


def test_open_until_the_close_then_the_close_and_nothing_after_first_pitch() -> None:
    s = season(record())
    game = s.games[0]
    opened, closed = replay.odds_fetch_times(s.games)
    assert opened == datetime(2019, 5, 4, 14, 5, tzinfo=UTC)
    assert closed == game.commence_time - timedelta(minutes=5)
    assert h2h(replay.odds_payload(s.games, opened), opened)[game.event_id] == (
        -130,
        120,
        datetime(2019, 5, 4, 14, 0, tzinfo=UTC),
    )
    assert h2h(replay.odds_payload(s.games, closed), closed)[game.event_id] == (
        -150,
        135,
        game.commence_time - timedelta(minutes=10),
    )
    assert json.loads(replay.odds_payload(s.games, game.commence_time)) == []
    events = json.loads(replay.odds_payload(s.games, opened))
    assert events[0]["bookmakers"][0]["key"] == "sbr_derived"
    assert "not recorded" in events[0]["bookmakers"][0]["title"]


def test_missing_open_is_never_quoted_and_missing_close_keeps_the_open() -> None:
    s = season(record(home_open_ml=None), record(home_team="TB", home_close_ml=None))
    no_open, no_close = s.games
    closed = replay.odds_fetch_times(s.games)[-1]
    quotes = h2h(replay.odds_payload(s.games, closed), closed)
    assert no_open.event_id not in quotes
    assert quotes[no_close.event_id] == (-130, 120, no_close.opens_at)


def test_schedule_is_scheduled_then_final_or_postponed() -> None:
    s = season(record(), record(home_team="TB", away_score=None, home_score=None),
               record(game_number=1), record(game_number=2))  # fmt: skip
    morning = datetime(2019, 5, 4, 9, tzinfo=UTC)
    before = parse_schedule(replay.schedule_payload(s, DAY, DAY, morning), file="a")
    assert before.quarantined == [] and {g.status for g in before.games} == {"scheduled"}
    assert sorted(g.game_number for g in before.games) == [0, 0, 1, 2]
    after = parse_schedule(
        replay.schedule_payload(s, DAY, DAY, morning + timedelta(days=1)), file="b"
    )
    by_home = {(g.home_team, g.game_number): g for g in after.games}
    assert by_home[("BOS", 0)].status == "final"
    assert (by_home[("BOS", 0)].away_score, by_home[("BOS", 0)].home_score) == (3, 5)
    assert by_home[("TB", 0)].status == "postponed"
    body = json.loads(replay.schedule_payload(s, DAY, DAY, morning))
    assert body["_derived"].startswith("DERIVED")


def test_a_bundled_season_parses_without_quarantine() -> None:
    s = replay.load_season(
        DATA / "odds" / "mlb_odds_2019.csv.gz", DATA / "retrosheet" / "GL2019.TXT.gz"
    )
    assert len(s.games) == 2466 and len({g.game_pk for g in s.games}) == 2466
    day = s.days()[30]
    for at in replay.odds_fetch_times(s.on(day)):
        parsed = parse_odds(replay.odds_payload(s.on(day), at), file="x",
                            odds_format="american", fetched_at=at)  # fmt: skip
        assert parsed.quarantined == [] and len(parsed.events) > 0
