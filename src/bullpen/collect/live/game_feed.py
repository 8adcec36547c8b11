"""A finished game's play-by-play from the MLB Stats API game feed (`/api/v1.1/game/{pk}/feed/live`)
as the rows the Retrosheet event files fill (bullpen.collect.history.events.rows): one EventGame,
its PlateAppearances, PitcherGames and starting LineupSlots, so player features read live and
replayed games through one code path.

Players are Retrosheet ids through the Chadwick register (players.probables.RegisterIndex); a
player the register cannot map keeps his MLB id as `mlbam:<id>`: a distinct player the features
treat as new, never a guessed Retrosheet id.

The feed is checked against its own boxscore before anything is written: per pitcher (where the
boxscore lists him) and per team, strikeouts, walks, home runs and batters faced derived from the
plays must equal the boxscore's. A feed whose plays do not add up (trimmed, still being scored)
is quarantined whole with the differences as the reason.

Fields derived differently from the event files (see docs/players_live.md):
  game_key       home team (canonical id) + yyyymmdd + game number, e.g. PHI202211030; the
                 Retrosheet id uses Retrosheet's team code, so a game loaded from both sources
                 would be two games (event files cover finished seasons, the feed the live one).
  pitches        pitches thrown in the plate appearance (playEvents with isPitch); a PA without
                 pitch events (automatic intentional walk) counts 0, as Retrosheet's "VVVV".
  outs_on_play   runners put out on the plate appearance's own last event; outs on earlier
                 events of the PA (caught stealing) count for the pitcher's outs_recorded only,
                 as Retrosheet writes those as separate events.
  runs_allowed   runs scored while he was the pitcher of record of each play (score change).
  earned_runs    the boxscore's earnedRuns for him; NULL when the boxscore lacks him.
  lineups        boxscore players whose battingOrder is "N00" (the starter of slot N); the
                 team's battingOrder list when fewer than nine players carry such a code.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from bullpen.collect.history.events.rows import (
    HIT_OUTCOMES,
    EventGame,
    EventParse,
    LineupSlot,
    PitcherGame,
    PlateAppearance,
)
from bullpen.collect.live.checks import (
    Reject,
    attempt,
    jsonb_safe,
    load_json,
    parse_day,
    require_dict,
    require_int,
    require_list,
)
from bullpen.collect.live.mlb_stats import SOURCE, feed_path, feed_teams, game_status
from bullpen.collect.records import QuarantinedRecord
from bullpen.players.probables import RegisterIndex

# MLB eventType of a plate appearance -> the outcome codes of collect/history/events/rows.py.
OUTCOME_OF_EVENT: dict[str, str] = {
    "strikeout": "K",
    "strikeout_double_play": "K",
    "strikeout_triple_play": "K",
    "walk": "BB",
    "intent_walk": "IBB",
    "hit_by_pitch": "HBP",
    "single": "1B",
    "double": "2B",
    "triple": "3B",
    "home_run": "HR",
    "field_error": "ROE",
    "fielders_choice": "FC",
    "fielders_choice_out": "FC",
    "catcher_interf": "CI",
    "field_out": "OUT",
    "force_out": "OUT",
    "grounded_into_double_play": "OUT",
    "grounded_into_triple_play": "OUT",
    "double_play": "OUT",
    "triple_play": "OUT",
    "sac_fly": "OUT",
    "sac_bunt": "OUT",
    "sac_fly_double_play": "OUT",
    "sac_bunt_double_play": "OUT",
}
# Records of allPlays that end without the batter's plate appearance ending (the inning ended on
# a runner): their outs and runs count for the pitcher, not as a plate appearance.
NOT_PA_EVENTS = frozenset(
    {
        "caught_stealing_2b", "caught_stealing_3b", "caught_stealing_home",
        "pickoff_1b", "pickoff_2b", "pickoff_3b",
        "pickoff_caught_stealing_2b", "pickoff_caught_stealing_3b",
        "pickoff_caught_stealing_home", "runner_double_play", "other_out", "stolen_base_2b",
        "stolen_base_3b", "stolen_base_home", "wild_pitch", "passed_ball", "balk",
        "other_advance", "defensive_indiff", "pickoff_error_1b", "pickoff_error_2b",
        "pickoff_error_3b", "error", "game_advisory", "ejection", "batter_timeout",
        "mound_visit", "no_pitch",
    }
)  # fmt: skip


def feed_file(game_pk: int) -> str:
    """The ledger and quarantine name of a game's feed (ingested_files.file)."""
    return f"{SOURCE}:{feed_path(game_pk)}"


@dataclass(frozen=True, slots=True)
class FeedParse:
    rows: EventParse
    sha256: str  # of the body and the register's mapping of its players (both decide the rows)
    unmapped_players: int  # players kept as mlbam:<id>


@dataclass(slots=True)
class _Line:
    """One pitcher's running totals, derived from the plays."""

    side: int
    order: int
    inning: int = 0
    bf: int = 0
    outs: int = 0
    pitches: int = 0
    k: int = 0
    bb: int = 0
    hbp: int = 0
    hits: int = 0
    hr: int = 0
    runs: int = 0


def _player_id(value: Any, what: str) -> int:
    return require_int(require_dict(value, what).get("id"), f"{what}.id", 1, 10**9)


def _last_event_index(play: dict[str, Any]) -> int | None:
    events = play.get("playEvents")
    if not isinstance(events, list) or not events:
        return None
    last = events[-1]
    return last.get("index") if isinstance(last, dict) else None


def _runners_on(play: dict[str, Any], index: int | None) -> tuple[int, int]:
    """(outs, runs) of the play's runners moved on event `index` (None: any event)."""
    outs = runs = 0
    for runner in play.get("runners") or ():
        if not isinstance(runner, dict):
            raise Reject("schema: runners[] is not an object")
        movement = runner.get("movement") or {}
        details = runner.get("details") or {}
        if index is not None and details.get("playIndex") != index:
            continue
        outs += 1 if movement.get("isOut") is True else 0
        runs += 1 if movement.get("end") == "score" and movement.get("isOut") is not True else 0
    return outs, runs


def _boxscore_pitching(box: dict[str, Any], side: str) -> tuple[list[int], dict[int, dict], dict]:
    team = require_dict(require_dict(box.get("teams"), "boxscore.teams").get(side), side)
    order = [require_int(p, "boxscore pitchers[]", 1, 10**9) for p in team.get("pitchers") or ()]
    players: dict[int, dict] = {}
    for key, player in (team.get("players") or {}).items():
        if isinstance(player, dict) and isinstance(key, str) and key[2:].isdigit():
            players[int(key[2:])] = player
    team_stats = (team.get("teamStats") or {}).get("pitching") or {}
    return order, players, team_stats


def _lineup(box: dict[str, Any], side: str) -> dict[int, int]:
    """{batting order 1-9: MLB id} of the starters (see the module docstring)."""
    team = require_dict(require_dict(box.get("teams"), "boxscore.teams").get(side), side)
    slots: dict[int, int] = {}
    for key, player in (team.get("players") or {}).items():
        code = player.get("battingOrder") if isinstance(player, dict) else None
        if isinstance(code, str) and code.isdigit() and code.endswith("00"):
            slot = int(code) // 100
            if 1 <= slot <= 9 and key[2:].isdigit():
                slots[slot] = int(key[2:])
    listed = team.get("battingOrder") or []
    if len(slots) == 9 or len(listed) < len(slots):
        return slots
    # Players without their battingOrder codes (a trimmed boxscore): the team's list instead.
    return {i + 1: require_int(p, "battingOrder[]", 1, 10**9) for i, p in enumerate(listed[:9])}


def reconcile(lines: dict[int, _Line], box: dict[str, Any], names: dict[int, str]) -> list[str]:
    """Differences between the totals derived from the plays and the feed's boxscore."""
    problems: list[str] = []
    checks = (
        ("strikeOuts", "k"),
        ("baseOnBalls", "bb"),
        ("homeRuns", "hr"),
        ("battersFaced", "bf"),
    )
    for side_name, side in (("away", 0), ("home", 1)):
        _, players, team_stats = _boxscore_pitching(box, side_name)
        mine = [line for line in lines.values() if line.side == side]
        for stat, attr in checks:
            if stat in team_stats:
                derived = sum(getattr(line, attr) for line in mine)
                if int(team_stats[stat]) != derived:
                    problems.append(
                        f"{side_name} pitching {stat}: plays {derived}, boxscore {team_stats[stat]}"
                    )
        for pitcher, line in lines.items():
            stats = ((players.get(pitcher) or {}).get("stats") or {}).get("pitching") or {}
            if line.side != side or not stats:
                continue
            for stat, attr in checks:
                if stat in stats and int(stats[stat]) != getattr(line, attr):
                    problems.append(
                        f"{names.get(pitcher, pitcher)} {stat}: plays {getattr(line, attr)},"
                        f" boxscore {stats[stat]}"
                    )
    return problems


def _parse(body: bytes, game_pk: int, register: RegisterIndex) -> tuple[FeedParse, list[str]]:
    payload = require_dict(load_json(body), "game feed")
    data = require_dict(payload.get("gameData"), "gameData")
    game = require_dict(data.get("game"), "gameData.game")
    pk = require_int(game.get("pk", payload.get("gamePk")), "gameData.game.pk", 1, 10**9)
    if pk != game_pk:
        raise Reject(f"feed is for gamePk {pk}, not {game_pk}")
    status, detailed, _ = game_status(data.get("status"))
    if status != "final":
        raise Reject(f"game is not final ({detailed})")
    when = require_dict(data.get("datetime"), "gameData.datetime")
    game_date: date = parse_day(when.get("officialDate"), "gameData.datetime.officialDate")
    season = require_int(int(str(game.get("season", "0")) or 0), "gameData.game.season", 2000, 2100)
    number = require_int(game.get("gameNumber"), "gameData.game.gameNumber", 1, 2)
    game_number = 0 if game.get("doubleHeader") == "N" else number
    away, home = feed_teams(data)
    live = require_dict(payload.get("liveData"), "liveData")
    plays = require_list(
        require_dict(live.get("plays"), "liveData.plays").get("allPlays"), "allPlays"
    )
    box = require_dict(live.get("boxscore"), "liveData.boxscore")
    if not plays:
        raise Reject("final game without plays")
    key = f"{home}{game_date:%Y%m%d}{game_number}"

    names: dict[int, str] = {}
    lines: dict[int, _Line] = {}
    appearances = [0, 0]
    pas: list[PlateAppearance] = []
    seen: set[int] = set()  # MLB ids of every player in the rows
    outs_before: dict[tuple[int, bool], int] = defaultdict(int)
    score = [0, 0]
    for position, play in enumerate(plays, start=1):
        play = require_dict(play, "allPlays[]")
        about = require_dict(play.get("about"), "allPlays[].about")
        result = require_dict(play.get("result"), "allPlays[].result")
        if about.get("isComplete") is not True:
            raise Reject(f"play {position} is not complete")
        matchup = require_dict(play.get("matchup"), "allPlays[].matchup")
        batter = _player_id(matchup.get("batter"), "matchup.batter")
        pitcher = _player_id(matchup.get("pitcher"), "matchup.pitcher")
        names.setdefault(pitcher, str(matchup["pitcher"].get("fullName", pitcher)))
        inning = require_int(about.get("inning"), "about.inning", 1, 40)
        top = about.get("isTopInning")
        if not isinstance(top, bool):
            raise Reject("schema: about.isTopInning is not a boolean")
        batting_side, pitching_side = (0, 1) if top else (1, 0)
        line = lines.get(pitcher)
        if line is None:
            appearances[pitching_side] += 1
            line = lines[pitcher] = _Line(pitching_side, appearances[pitching_side], inning)
        elif line.side != pitching_side:
            raise Reject(f"pitcher {pitcher} pitched for both teams")
        outs_after = require_int(
            require_dict(play.get("count"), "allPlays[].count").get("outs"), "count.outs", 0, 3
        )
        half = (inning, top)
        line.outs += max(outs_after - outs_before[half], 0)
        outs_before[half] = outs_after
        away_score = require_int(result.get("awayScore"), "result.awayScore", 0, 99)
        home_score = require_int(result.get("homeScore"), "result.homeScore", 0, 99)
        line.runs += (away_score - score[0]) if top else (home_score - score[1])
        score = [away_score, home_score]
        event = result.get("eventType")
        if event in NOT_PA_EVENTS:
            continue
        outcome = OUTCOME_OF_EVENT.get(event) if isinstance(event, str) else None
        if outcome is None:
            raise Reject(f"unknown eventType {event!r} in play {position}")
        events = play.get("playEvents") or []
        pitches = sum(1 for e in events if isinstance(e, dict) and e.get("isPitch") is True)
        outs_on_play, runs_on_play = _runners_on(play, _last_event_index(play))
        line.bf += 1
        line.pitches += pitches
        line.k += outcome == "K"
        line.bb += outcome in ("BB", "IBB")
        line.hbp += outcome == "HBP"
        line.hits += outcome in HIT_OUTCOMES
        line.hr += outcome == "HR"
        seen.update((batter, pitcher))
        pas.append(
            PlateAppearance(
                game_key=key,
                seq=len(pas) + 1,
                game_date=game_date,
                inning=inning,
                batting_side=batting_side,
                batter=str(batter),  # mapped below, once the register lookups are known
                pitcher=str(pitcher),
                outcome=outcome,
                outs_on_play=min(outs_on_play, 3),
                runs_on_play=min(runs_on_play, 4),
                pitches=pitches,
            )
        )
    problems = reconcile(lines, box, names)

    starters: dict[int, int] = {}
    order_of: dict[int, int] = {}
    for side_name, side in (("away", 0), ("home", 1)):
        order, players, _ = _boxscore_pitching(box, side_name)
        # The boxscore's order of appearance also holds pitchers who faced nobody.
        listed = list(dict.fromkeys(order))
        ours = sorted((ln.order, p) for p, ln in lines.items() if ln.side == side)
        listed += [p for _, p in ours if p not in listed]
        for rank, p in enumerate(listed, start=1):
            order_of[p] = rank
            if p not in lines:  # faced nobody: he entered when the pitcher before him did
                before = lines.get(listed[rank - 2]) if rank > 1 else None
                lines[p] = _Line(side, rank, inning=before.inning if before else 1)
            elif lines[p].side != side:
                raise Reject(f"pitcher {p} listed by both teams")
        if listed:
            starters[side] = listed[0]
        seen.update(listed)
    lineups = {side: _lineup(box, name) for name, side in (("away", 0), ("home", 1))}
    for slots in lineups.values():
        seen.update(slots.values())
    ids = {mlb: register.player_id(mlb) for mlb in seen}
    unmapped = sum(1 for v in ids.values() if v.startswith("mlbam:"))
    rows = EventParse()
    source_file = feed_file(game_pk)
    rows.games.append(
        EventGame(
            key, season, game_date, away, home, game_number,
            ids[starters[0]] if 0 in starters else None,
            ids[starters[1]] if 1 in starters else None,
            source_file,
        )
    )  # fmt: skip
    for pa in pas:
        rows.plate_appearances.append(
            PlateAppearance(
                pa.game_key, pa.seq, pa.game_date, pa.inning, pa.batting_side,
                ids[int(pa.batter)], ids[int(pa.pitcher)], pa.outcome, pa.outs_on_play,
                pa.runs_on_play, pa.pitches,
            )
        )  # fmt: skip
    teams_of = (away, home)
    for side_name, side in (("away", 0), ("home", 1)):
        _, players, _ = _boxscore_pitching(box, side_name)
        for p, line in sorted(lines.items(), key=lambda kv: kv[1].order):
            if line.side != side:
                continue
            stats = ((players.get(p) or {}).get("stats") or {}).get("pitching") or {}
            earned = stats.get("earnedRuns")
            order = order_of.get(p, line.order)
            rows.pitcher_games.append(
                PitcherGame(
                    key, ids[p], game_date, season, teams_of[side], teams_of[1 - side], side,
                    order == 1, order, line.inning, line.bf, line.outs, line.pitches, line.k,
                    line.bb, line.hbp, line.hits, line.hr, line.runs,
                    int(earned) if isinstance(earned, int) else None,
                )
            )  # fmt: skip
    for side, slots in lineups.items():
        for slot, player in sorted(slots.items()):
            rows.lineups.append(LineupSlot(key, side, slot, ids[player]))
    mapping = ",".join(f"{k}={v}" for k, v in sorted(ids.items()))
    digest = hashlib.sha256(body + b"\n" + mapping.encode()).hexdigest()
    rows.file_sha256[source_file] = digest
    return FeedParse(rows, digest, unmapped), problems


def derive_game(
    body: bytes, *, game_pk: int, register: RegisterIndex
) -> tuple[FeedParse, list[str]]:
    """The feed's rows and their differences from its boxscore (empty: they add up).

    Raises Reject for a feed that cannot be read as a finished game.
    """
    return _parse(body, game_pk, register)


def _checked(body: bytes, game_pk: int, register: RegisterIndex) -> FeedParse:
    parsed, problems = _parse(body, game_pk, register)
    if problems:
        raise Reject("plays disagree with the boxscore: " + "; ".join(problems[:6]))
    return parsed


def parse_finished_game(
    body: bytes, *, game_pk: int, register: RegisterIndex
) -> tuple[FeedParse | None, QuarantinedRecord | None]:
    """The feed's rows, or why it was refused (quarantined whole, row 0)."""
    parsed, reason = attempt(_checked, body, game_pk, register)
    if parsed is not None:
        return parsed, None
    try:
        raw: Any = jsonb_safe(load_json(body))
    except Reject:
        raw = {"body_prefix": body[:2000].decode("utf-8", "replace")}
    if isinstance(raw, dict) and isinstance(raw.get("gameData"), dict):
        kept = {k: raw["gameData"].get(k) for k in ("game", "datetime", "status", "teams")}
        raw = {"gamePk": raw.get("gamePk"), "gameData": kept}  # the whole feed is large
    return None, QuarantinedRecord(SOURCE, feed_file(game_pk), 0, reason or "", raw)
