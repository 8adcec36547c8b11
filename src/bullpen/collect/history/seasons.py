"""Merge a season's SBR odds with its Retrosheet game log: SBR's market, Retrosheet's results."""

from __future__ import annotations

import gzip
import operator
from collections import defaultdict
from dataclasses import fields, replace
from datetime import date
from pathlib import Path

from bullpen.collect.history.retrosheet import SOURCE as RETROSHEET
from bullpen.collect.history.retrosheet import parse_retrosheet_file
from bullpen.collect.history.sbr import parse_sbr_file, season_from_file_name
from bullpen.collect.records import GameRecord, ParseResult

_Matchup = tuple[date, str, str]

_FIELDS = tuple(f.name for f in fields(GameRecord))
_FIELD_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_ALL_VALUES = operator.attrgetter(*_FIELDS)
# What a matched game takes from Retrosheet; everything else stays SBR's.
_FROM_RETROSHEET = (
    "game_number", "away_score", "home_score", "outs", "away_starter_id", "home_starter_id",
)  # fmt: skip


def _matchup(game: GameRecord) -> _Matchup:
    return game.game_date, game.away_team, game.home_team


def _score(game: GameRecord) -> tuple[int | None, int | None]:
    return game.away_score, game.home_score


def _match(
    sbr: list[GameRecord], retro: list[GameRecord]
) -> tuple[list[tuple[GameRecord, GameRecord]], list[GameRecord], list[GameRecord]]:
    """Pair one matchup-day's games: (pairs, unmatched SBR games, unmatched Retrosheet games).

    SBR's doubleheader order is unreliable, so an exact score pair that occurs once on each side
    decides first; what is left pairs in order.
    """
    if len(sbr) == 1 and len(retro) == 1:
        return [(sbr[0], retro[0])], [], []
    pairs: list[tuple[GameRecord, GameRecord]] = []
    sbr_left, retro_left = list(sbr), list(retro)
    for game in sbr:
        if game.away_score is None:
            continue
        same_sbr = [g for g in sbr_left if _score(g) == _score(game)]
        same_retro = [g for g in retro_left if _score(g) == _score(game)]
        if len(same_sbr) == 1 and len(same_retro) == 1:
            pairs.append((game, same_retro[0]))
            sbr_left.remove(game)
            retro_left.remove(same_retro[0])
    # Played games first, so a game SBR lists without a result (postponed) is the one left over.
    sbr_left.sort(key=lambda g: g.away_score is None)
    pairs.extend(zip(sbr_left, retro_left, strict=False))
    return pairs, sbr_left[len(retro_left) :], retro_left[len(sbr_left) :]


def _combine(sbr: GameRecord, retro: GameRecord) -> GameRecord:
    # Field by field rather than dataclasses.replace, which costs twice as much per game.
    values = list(_ALL_VALUES(sbr))
    for name in _FROM_RETROSHEET:
        values[_FIELD_INDEX[name]] = getattr(retro, name)
    values[_FIELD_INDEX["score_source"]] = RETROSHEET
    return GameRecord(*values)


def _renumber(retro_numbered: list[GameRecord], sbr_only: list[GameRecord]) -> list[GameRecord]:
    """Give SBR-only games numbers that Retrosheet's games of the same matchup-day do not use.

    A collision needs SBR to list more games for a matchup-day than Retrosheet: e.g. SBR games 1
    and 2, Retrosheet one game numbered 1 that matches SBR's game 2 by score, so SBR's leftover
    game 1 would repeat the natural key. Retrosheet's numbers win; the SBR-only game is renumbered
    to the smallest free number from 1 up, in SBR's order, so reruns number alike (and in practice
    stay within 0-2, as the games table requires).
    """
    taken = {g.game_number for g in retro_numbered}
    out: list[GameRecord] = []
    for game in sbr_only:
        number = game.game_number
        if number in taken:
            number = min(n for n in range(1, len(taken) + 2) if n not in taken)
            game = replace(game, game_number=number)
        taken.add(number)
        out.append(game)
    return out


def merge_history(sbr: list[GameRecord], retro: list[GameRecord]) -> list[GameRecord]:
    """Merge one season's SBR games with Retrosheet's, matched on (date, visitor, home).

    A matched game keeps SBR's market fields, neutral-site flag and pitcher names and hands, and
    takes Retrosheet's scores (score_source "retrosheet"), outs, starter ids and game number.
    Unmatched Retrosheet games are kept without market fields; unmatched SBR games (postseason,
    never played, played on another date) keep SBR's scores. The result has unique natural keys
    (game_date, away_team, home_team, game_number) and is sorted by them.
    """
    sbr_by_day: dict[_Matchup, list[GameRecord]] = defaultdict(list)
    for game in sbr:
        sbr_by_day[_matchup(game)].append(game)
    retro_by_day: dict[_Matchup, list[GameRecord]] = defaultdict(list)
    for game in sorted(retro, key=lambda g: g.game_number):
        retro_by_day[_matchup(game)].append(game)

    merged: list[GameRecord] = []
    for day, sbr_games in sbr_by_day.items():
        sbr_games.sort(key=lambda g: g.game_number)
        pairs, sbr_only, retro_only = _match(sbr_games, retro_by_day.pop(day, []))
        retro_numbered = [_combine(s, r) for s, r in pairs] + retro_only
        merged.extend(retro_numbered)
        merged.extend(_renumber(retro_numbered, sbr_only))
    for retro_games in retro_by_day.values():
        merged.extend(retro_games)
    merged.sort(key=lambda g: (g.game_date, g.away_team, g.home_team, g.game_number))
    return merged


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def read_season_files(odds_path: Path, retrosheet_path: Path | None) -> ParseResult:
    """Read and parse one season's SBR odds file and, if given, its Retrosheet game log; merge them.

    Files may be plain or gzip-compressed (by a ".gz" suffix). The season comes from the odds file's
    name. Returns the merged games and the quarantine of both files.

    Raises:
        ValueError: the odds file name holds no season, or the game log's name names another year.
        OSError: a file cannot be read.
    """
    season = season_from_file_name(odds_path.name)
    odds = parse_sbr_file(_read_text(odds_path), season, odds_path.name)
    if retrosheet_path is None:
        # Through the merge all the same, so games come back in one order either way.
        return ParseResult(games=merge_history(odds.games, []), quarantined=odds.quarantined)
    try:
        retro_season = season_from_file_name(retrosheet_path.name)
    except ValueError:
        retro_season = season  # a name without a year says nothing; the dates still match or not
    if retro_season != season:
        raise ValueError(f"{retrosheet_path.name} is not a game log of {season}")
    retro = parse_retrosheet_file(_read_text(retrosheet_path), retrosheet_path.name)
    games = merge_history(odds.games, retro.games)
    return ParseResult(games=games, quarantined=odds.quarantined + retro.quarantined)
