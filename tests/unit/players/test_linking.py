"""Linking SBR's listed starter to a Retrosheet id: tricky names, late scratches, a season."""

from __future__ import annotations

import tarfile
from dataclasses import asdict

import pandas as pd
import pytest

from bullpen.collect.history.events.parse import parse_roster_text
from bullpen.collect.history.events.rows import EventParse, to_frames
from bullpen.collect.history.seasons import read_season_files
from bullpen.players.linking import (
    attach_listed_starters,
    clean_sbr_name,
    fold,
    link_listed_starters,
    match_rates,
    read_register,
)
from tests.conftest import DATA

ROSTER = pd.DataFrame(
    [
        # season, team, player, last_name, first_name, position
        (2019, "WSH", "schem001", "Scherzer", "Max", "P"),
        (2019, "WSH", "strase001", "Strasburg", "Stephen", "P"),
        (2019, "WSH", "sanca004", "Sánchez", "Aníbal", "P"),
        (2019, "WSH", "garcj001", "García", "Jaime", "P"),
        (2019, "WSH", "garcl001", "Garcia", "Luis", "P"),
        (2019, "WSH", "garco001", "Garcia", "Oscar", "OF"),  # not a pitcher: never a candidate
        (2019, "WSH", "mccul002", "McCullers Jr.", "Lance", "P"),
        (2019, "WSH", "billc001", "Billingsley", "Chad", "P"),
        (2019, "WSH", "weavj003", "Weaver", "Jered", "P"),
        (2019, "WSH", "weavj001", "Weaver", "Jeff", "P"),
        (2019, "WSH", "mastj001", "Masterson", "Justin", "P"),
        (2019, "WSH", "delar001", "de la Rosa", "Rubby", "P"),
    ],
    columns=["season", "team", "player", "last_name", "first_name", "position"],
)


def _link(sbr: str | None, actual: str | None) -> dict[str, object]:
    games = pd.DataFrame(
        {
            "game_id": [7],
            "season": [2019],
            "away_team": ["NYM"],
            "home_team": ["WSH"],
            "away_pitcher": [None],
            "home_pitcher": [sbr],
            "away_starter_id": [None],
            "home_starter_id": [actual],
        }
    )
    links = link_listed_starters(games, ROSTER)
    assert list(links["side"]) == [0, 1]
    return links.iloc[1].to_dict()


def test_fold_drops_accents_punctuation_and_spaces() -> None:
    assert fold("Aníbal Sánchez") == "ANIBALSANCHEZ"
    assert fold("O'Sullivan") == "OSULLIVAN"
    assert clean_sbr_name("MSCHERZER-R") == "MSCHERZER"
    assert clean_sbr_name("KBUBIC-L-L") == "KBUBIC"
    assert clean_sbr_name("  ") is None


@pytest.mark.parametrize(
    ("sbr", "actual", "listed", "method"),
    [
        ("MSCHERZER-R", "schem001", "schem001", "actual_prefix"),
        ("MSCHERZER", "schem001", "schem001", "actual_prefix"),  # no hand suffix
        ("ASANCHEZ-R", "sanca004", "sanca004", "actual_prefix"),  # accent in the roster
        ("ASÁNCHEZ-R", "sanca004", "sanca004", "actual_prefix"),  # accent on SBR's side
        ("STRASBURG-R", "strase001", "strase001", "actual_surname"),  # initial dropped
        ("MASTERSON", "mastj001", "mastj001", "actual_surname"),
        ("LMCCULLERS-R", "mccul002", "mccul002", "actual_prefix"),  # "Jr." dropped
        ("RDELAROSA-R", "delar001", "delar001", "actual_prefix"),  # spaces in the surname
        ("JERWEAVER-R", "weavj003", "weavj003", "actual_surname"),  # part of the first name
        ("BILLNGSLEY-R", "billc001", "billc001", "actual_surname"),  # letters dropped
        # An initial picks one of two García pitchers, even against who actually started.
        ("LGARCIA-R", "garcj001", "garcl001", "roster_prefix"),
        ("JGARCIA-L", "garcj001", "garcj001", "actual_prefix"),
    ],
)
def test_tricky_names_link(sbr: str, actual: str, listed: str, method: str) -> None:
    link = _link(sbr, actual)
    assert (link["listed_starter"], link["method"]) == (listed, method)
    assert link["sbr_name"] == sbr  # kept as SBR wrote it


def test_two_pitchers_with_one_surname_and_no_initial_are_ambiguous() -> None:
    link = _link("GARCIA-R", "garcj001")
    assert link["listed_starter"] is None
    assert link["method"] == "unmatched"
    assert str(link["reason"]).startswith("ambiguous")
    assert "garcj001" in str(link["reason"]) and "garcl001" in str(link["reason"])
    # Two Weavers share the initial J: the six-letter prefix cannot decide either.
    jweaver = _link("JWEAVER-R", "weavj003")
    assert jweaver["method"] == "unmatched" and str(jweaver["reason"]).startswith("ambiguous")


def test_blank_and_unknown_names_are_unmatched_with_a_reason() -> None:
    for cell in (None, "", "UNDECIDED"):
        link = _link(cell, "schem001")
        assert (link["method"], link["reason"], link["late_scratch"]) == (
            "unmatched",
            "blank",
            False,
        )
    stranger = _link("CKERSHAW-L", "schem001")
    assert stranger["listed_starter"] is None
    assert stranger["reason"] == "no pitcher of the team fits the name"


def test_late_scratch_when_the_listed_pitcher_did_not_start() -> None:
    scratched = _link("SSTRASBURG-R", "schem001")
    assert scratched["listed_starter"] == "strase001"
    assert scratched["method"] == "roster_prefix"
    assert bool(scratched["late_scratch"]) is True
    started = _link("SSTRASBURG-R", "strase001")
    assert bool(started["late_scratch"]) is False
    unknown = _link("SSTRASBURG-R", None)
    assert unknown["listed_starter"] == "strase001"
    assert (bool(unknown["late_scratch"]), unknown["reason"]) == (False, "actual starter unknown")


def test_register_adds_a_later_name() -> None:
    roster = pd.DataFrame(
        [(2013, "TB", "carmf001", "Carmona", "Fausto", "P")],
        columns=["season", "team", "player", "last_name", "first_name", "position"],
    )
    games = pd.DataFrame(
        {
            "game_id": [1],
            "season": [2013],
            "away_team": ["TB"],
            "home_team": ["NYY"],
            "away_pitcher": ["RHERNANDEZ"],
            "home_pitcher": [None],
            "away_starter_id": ["carmf001"],
            "home_starter_id": [None],
        }
    )
    without = link_listed_starters(games, roster)
    assert without.loc[0, "listed_starter"] is None
    register = read_register(DATA / "register" / "people_mlb_2005_2026.csv.gz")
    linked = link_listed_starters(games, roster, register)
    assert (linked.loc[0, "listed_starter"], linked.loc[0, "method"]) == (
        "carmf001",
        "actual_prefix",
    )
    attached = attach_listed_starters(games, linked)
    assert attached.loc[0, "away_listed_starter"] == "carmf001"
    assert attached.loc[0, "home_listed_starter"] is None


def season_rosters(season: int) -> pd.DataFrame:
    """The season's roster files through the event parser's roster reader."""
    parse = EventParse()
    with tarfile.open(DATA / "retrosheet" / "events" / f"{season}.tar.gz") as tar:
        for member in tar.getmembers():
            if member.name.endswith(".ROS"):
                handle = tar.extractfile(member)
                assert handle is not None
                text = handle.read().decode("utf-8")
                parse.rosters += parse_roster_text(text, member.name, season).rosters
    return to_frames(parse)["rosters"]


def test_real_season_2019_links_nearly_every_named_starter() -> None:
    season = 2019
    parsed = read_season_files(
        DATA / "odds" / f"mlb_odds_{season}.csv.gz", DATA / "retrosheet" / f"GL{season}.TXT.gz"
    )
    games = pd.DataFrame([asdict(g) for g in parsed.games])
    games["game_id"] = range(len(games))
    register = read_register(DATA / "register" / "people_mlb_2005_2026.csv.gz")
    links = link_listed_starters(games, season_rosters(season), register)
    assert len(links) == 2 * len(games)
    rates = match_rates(links, games).loc[season]
    assert rates["named_sides"] > 4800
    assert rates["match_rate"] > 0.99
    assert rates["late_scratch_rate"] < 0.02
    # Every link names a pitcher of that team's roster; unmatched rows all carry a reason.
    assert links.loc[links["method"] == "unmatched", "reason"].notna().all()
    assert links.loc[links["method"] != "unmatched", "listed_starter"].notna().all()
