"""A finished game's feed as play-by-play rows, checked against the feed's own boxscore.

The recorded feed (2022 World Series game 5) had its plays trimmed upstream to the first two, so
its boxscore (the whole game) cannot agree with them: that is the refusal case on real data. The
case where they agree uses that feed with its boxscore cut, in code, to what the two plays hold.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bullpen.collect.history.events.rows import OUTCOMES
from bullpen.collect.live.game_feed import (
    OUTCOME_OF_EVENT,
    derive_game,
    feed_file,
    parse_finished_game,
)
from bullpen.players.probables import RegisterIndex, load_register_index
from tests.conftest import DATA, REPO

FEED = REPO / "tests" / "fixtures" / "mlb_statsapi" / "game_715720_feed_live.json"
PK = 715720


@pytest.fixture(scope="module")
def register() -> RegisterIndex:
    return load_register_index(DATA)


def _feed() -> dict[str, Any]:
    return json.loads(FEED.read_bytes())


def _agreeing(feed: dict[str, Any]) -> dict[str, Any]:
    """The recorded feed with the boxscore of only its two recorded plays (Altuve doubles, Peña
    singles him home, both off Syndergaard): what a scorer counts for them."""
    out = copy.deepcopy(feed)
    teams = out["liveData"]["boxscore"]["teams"]
    for side, faced in (("away", 0), ("home", 2)):
        stats = teams[side]["teamStats"]["pitching"]
        stats.update(strikeOuts=0, baseOnBalls=0, homeRuns=0, battersFaced=faced)
    return out


def test_every_outcome_is_one_of_the_event_files_codes() -> None:
    assert set(OUTCOME_OF_EVENT.values()) <= set(OUTCOMES)


def test_recorded_plays_become_the_event_files_rows(register: RegisterIndex) -> None:
    parsed, problems = derive_game(FEED.read_bytes(), game_pk=PK, register=register)
    rows = parsed.rows
    (game,) = rows.games
    assert (game.game_key, game.away_team, game.home_team, game.game_number) == (
        "PHI202211030", "HOU", "PHI", 0,
    )  # fmt: skip
    # The starters are the feed's probable pitchers, through the register.
    assert (game.away_starter, game.home_starter) == ("verlj001", "syndn001")
    assert game.source_file == feed_file(PK)
    pas = [(p.seq, p.batter, p.pitcher, p.outcome, p.outs_on_play, p.runs_on_play, p.pitches)
           for p in rows.plate_appearances]  # fmt: skip
    assert pas == [
        (1, "altuj001", "syndn001", "2B", 0, 0, 2),
        (2, "penaj004", "syndn001", "1B", 0, 1, 2),  # Altuve scores from third
    ]
    lines = {p.pitcher: p for p in rows.pitcher_games}
    syndergaard = lines["syndn001"]
    assert (syndergaard.team, syndergaard.side, syndergaard.is_starter) == ("PHI", 1, True)
    assert (syndergaard.batters_faced, syndergaard.hits, syndergaard.runs_allowed) == (2, 2, 1)
    assert syndergaard.pitches == 4
    # The boxscore's order of appearance holds the relievers who face nobody here.
    assert [p.pitcher for p in rows.pitcher_games if p.side == 0][0] == "verlj001"
    assert sum(p.is_starter for p in rows.pitcher_games) == 2
    assert [s.player for s in rows.lineups if s.side == 0][:2] == ["altuj001", "penaj004"]
    assert parsed.unmapped_players == 0
    # The derived totals against the feed's own boxscore: the trimmed plays do not add up.
    assert problems == [
        "away pitching strikeOuts: plays 0, boxscore 12",
        "away pitching baseOnBalls: plays 0, boxscore 6",
        "away pitching homeRuns: plays 0, boxscore 1",
        "away pitching battersFaced: plays 0, boxscore 41",
        "home pitching strikeOuts: plays 0, boxscore 12",
        "home pitching baseOnBalls: plays 0, boxscore 2",
        "home pitching homeRuns: plays 0, boxscore 1",
        "home pitching battersFaced: plays 2, boxscore 37",
    ]


def test_a_feed_whose_plays_disagree_with_its_boxscore_is_quarantined(
    register: RegisterIndex,
) -> None:
    parsed, refused = parse_finished_game(FEED.read_bytes(), game_pk=PK, register=register)
    assert parsed is None and refused is not None
    assert refused.reason.startswith("plays disagree with the boxscore: away pitching strikeOuts")
    assert (refused.file, refused.row, refused.raw["gamePk"]) == (feed_file(PK), 0, PK)


def test_plays_that_add_up_are_accepted(register: RegisterIndex) -> None:
    body = json.dumps(_agreeing(_feed())).encode()
    parsed, refused = parse_finished_game(body, game_pk=PK, register=register)
    assert refused is None and parsed is not None
    assert len(parsed.rows.plate_appearances) == 2
    # A per-pitcher line in the boxscore is checked too: give Syndergaard a strikeout he lacks.
    feed = _agreeing(_feed())
    home = feed["liveData"]["boxscore"]["teams"]["home"]["players"]
    home["ID592789"] = {"stats": {"pitching": {"strikeOuts": 1, "battersFaced": 2}}}
    _, problems = derive_game(json.dumps(feed).encode(), game_pk=PK, register=register)
    assert problems == ["Noah Syndergaard strikeOuts: plays 0, boxscore 1"]


def test_unmapped_players_keep_their_mlb_id() -> None:
    body = json.dumps(_agreeing(_feed())).encode()
    parsed, _ = derive_game(body, game_pk=PK, register=RegisterIndex.empty())
    assert parsed.rows.plate_appearances[0].batter == "mlbam:514888"
    assert parsed.unmapped_players == len(
        {s.player for s in parsed.rows.lineups} | {p.pitcher for p in parsed.rows.pitcher_games}
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f["gameData"]["status"].update(abstractGameState="Live", codedGameState="I",
                                                  detailedState="In Progress"),
         "game is not final (In Progress)"),
        (lambda f: f["liveData"]["plays"]["allPlays"][1]["result"].update(eventType="new_thing"),
         "unknown eventType 'new_thing' in play 2"),
        (lambda f: f["liveData"]["plays"].update(allPlays=[]), "final game without plays"),
        (lambda f: f["gameData"]["game"].update(pk=1), "feed is for gamePk 1, not 715720"),
    ],
)  # fmt: skip
def test_malformed_feeds_are_quarantined_with_the_reason(
    register: RegisterIndex, change: Any, reason: str
) -> None:
    feed = _agreeing(_feed())
    change(feed)
    parsed, refused = parse_finished_game(json.dumps(feed).encode(), game_pk=PK, register=register)
    assert parsed is None and refused is not None and refused.reason == reason


def test_a_truncated_feed_is_quarantined(register: RegisterIndex) -> None:
    parsed, refused = parse_finished_game(FEED.read_bytes()[:5000], game_pk=PK, register=register)
    assert parsed is None and refused is not None
    assert "body_prefix" in refused.raw and refused.reason
