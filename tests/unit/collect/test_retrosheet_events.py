"""Retrosheet event parser: golden events and games, the data README's 2019 totals, outs and
runs against the game logs, and quarantine of bad lines, games and tarball members."""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from bullpen.collect.history.events.parse import parse_event_text, parse_roster_text
from bullpen.collect.history.events.plays import EventError, apply_play, count_pitches, parse_event
from bullpen.collect.history.events.rows import TABLE_COLUMNS, EventParse, to_frames
from bullpen.collect.history.events.season import (
    quarantine_missing_games,
    read_event_season,
    read_gamelog_keys,
    reconcile_with_gamelog,
)
from tests.conftest import DATA

EVENTS = DATA / "retrosheet" / "events"

# (event, bases occupied before, is a PA, outcome, outs, runs, bases after). Every event is a
# real one from the bundled 2009-2021 files.
GOLDEN_EVENTS = [
    ("K", (), True, "K", 1, 0, ()),
    ("K23", (), True, "K", 1, 0, ()),
    ("K+WP.B-1", (), True, "K", 0, 0, (1,)),  # dropped third strike: batter reaches
    ("K+PB.B-1", (2,), True, "K", 0, 0, (1, 2)),
    ("K+CS2(24)/DP", (1,), True, "K", 2, 0, ()),
    ("K+SB2", (1,), True, "K", 1, 0, (2,)),
    ("W", (1, 2, 3), True, "BB", 0, 1, (1, 2, 3)),  # forced in without an advance written
    ("W.1-2", (1,), True, "BB", 0, 0, (1, 2)),
    ("W+SB3", (2,), True, "BB", 0, 0, (1, 3)),
    ("IW", (2,), True, "IBB", 0, 0, (1, 2)),
    ("HP", (1,), True, "HBP", 0, 0, (1, 2)),
    ("C/E2", (), True, "CI", 0, 0, (1,)),
    ("S9/G.1-3", (1,), True, "1B", 0, 0, (1, 3)),
    ("S7/G.2-H;1-3(E2);B-2", (1, 2), True, "1B", 0, 1, (2, 3)),
    ("D8/F+", (), True, "2B", 0, 0, (2,)),
    ("DGR/89/L.2-H", (2,), True, "2B", 0, 1, (2,)),
    ("T9/L", (), True, "3B", 0, 0, (3,)),
    ("HR/9/L", (), True, "HR", 0, 1, ()),
    ("HR/78/F.2-H;1-H", (1, 2), True, "HR", 0, 3, ()),
    ("H/L7D", (3,), True, "HR", 0, 2, ()),  # runners score on a homer even when not written
    ("63/G", (), True, "OUT", 1, 0, ()),
    ("8/L/SF.3-H", (1, 3), True, "OUT", 1, 1, (1,)),
    ("64(1)3/GDP.3-H(UR)(NR)", (1, 3), True, "OUT", 2, 1, ()),
    ("54(1)/FO/G", (1,), True, "OUT", 1, 0, (1,)),  # force out: the batter reaches first
    ("8(B)84(2)/LDP", (2,), True, "OUT", 2, 0, ()),
    ("54(B)/BG25/SH.1-2", (1,), True, "OUT", 1, 0, (2,)),
    ("FC5/G.3XH(52)", (3,), True, "FC", 1, 0, (1,)),
    ("FC5/G.3-H(RBI)(UR);1X2(54)(E5/TH)", (1, 3), True, "FC", 1, 1, (1,)),
    ("E7/L.1-H(UR)(NR);B-2", (1,), True, "ROE", 0, 1, (2,)),
    ("3E1/G", (), True, "ROE", 0, 0, (1,)),
    ("D9/G+.1-H;BX3(95)(E9)", (1,), True, "2B", 1, 1, ()),
    ("S6/G.3-H;1XH(E6/TH)(92);B-2", (1, 3), True, "1B", 1, 1, (2,)),
    ("NP", (1,), False, None, 0, 0, (1,)),
    ("SB2", (1,), False, None, 0, 0, (2,)),
    ("SB3;SB2", (1, 2), False, None, 0, 0, (2, 3)),
    ("SBH", (3,), False, None, 0, 1, ()),
    ("CS2(24)", (1,), False, None, 1, 0, ()),
    ("CS2(2E4).1-3", (1,), False, None, 0, 0, (3,)),  # the error negates the caught stealing
    ("CSH(12)", (3,), False, None, 1, 0, ()),
    ("PO1(13)", (1,), False, None, 1, 0, ()),
    ("PO1(E1).1-2", (1,), False, None, 0, 0, (2,)),
    ("POCS2(136)", (1,), False, None, 1, 0, ()),
    ("WP.3-H;2XH(UR)(5E2)", (2, 3), False, None, 0, 2, ()),  # (UR) first, then the error
    ("PB.2-3", (2,), False, None, 0, 0, (3,)),
    ("BK.3-H;1-2", (1, 3), False, None, 0, 1, (2,)),
    ("DI.1-2", (1,), False, None, 0, 0, (2,)),  # DI is not a double
    ("OA.3-H", (3,), False, None, 0, 1, ()),
    ("FLE7", (), False, None, 0, 0, ()),
]


@pytest.mark.parametrize(
    ("event", "before", "is_pa", "outcome", "outs", "runs", "after"), GOLDEN_EVENTS
)
def test_golden_events(
    event: str,
    before: tuple[int, ...],
    is_pa: bool,
    outcome: str | None,
    outs: int,
    runs: int,
    after: tuple[int, ...],
) -> None:
    play = parse_event(event)
    bases = [False, *(b in before for b in (1, 2, 3))]
    assert (play.is_pa, play.outcome) == (is_pa, outcome)
    assert apply_play(play, bases) == (outs, runs)
    assert tuple(b for b in (1, 2, 3) if bases[b]) == after


@pytest.mark.parametrize("event", ["ZZ9", "S9/G.1-Q", "CS2X", "K+XX", "", "SB2.B-1"])
def test_unreadable_events_raise(event: str) -> None:
    with pytest.raises(EventError):
        parse_event(event)


@pytest.mark.parametrize(
    ("sequence", "pitches"),
    [("BCSFX", 5), ("B.FB.FX", 5), ("C1X", 2), ("*BX", 2), (">C", 1), ("FFBFBFX", 7)]
    + [("VVVV", 0), ("N", 0), (".CBBCFX", 6), ("L1L1", 2), ("", 0)],
)
def test_count_pitches(sequence: str, pitches: int) -> None:
    assert count_pitches(sequence) == pitches


# A short game in Retrosheet's format, from the first inning of BOS201904090 with a few plays
# changed so that one inning shows every record kind the parser handles.
GAME = """\
id,BOS201904090
version,2
info,visteam,TOR
info,hometeam,BOS
info,date,2019/04/09
info,number,0
start,galvf001,"Freddy Galvis",0,1,6
start,hernt002,"Teoscar Hernandez",0,2,7
start,shoem001,"Matt Shoemaker",0,0,1
start,benia002,"Andrew Benintendi",1,1,7
start,bettm001,"Mookie Betts",1,2,9
start,salec001,"Chris Sale",1,0,1
play,1,0,galvf001,12,BCSFX,9/F
play,1,0,hernt002,22,BBCFX,S9/G
play,1,0,drurb001,00,B,SB2
play,1,0,drurb001,11,B.FB,CS3(25)
com,"$Hernandez out stealing third"
play,1,0,drurb001,12,B.FB.BS,K+WP.B-1
play,1,0,gricr001,01,CX,HR/9/F.1-H
play,1,0,jansd001,00,,NP
sub,thort001,"Tyler Thornburg",1,0,1
play,1,0,jansd001,22,.CBBCFX,63/G
play,1,1,benia002,32,BBBCFB,W
play,1,1,bettm001,30,VVVV,IW
play,1,1,morem001,11,BX,64(1)3/GDP.2-3
play,1,1,martj006,00,X,E6/G.3-H(UR)
play,1,1,bogax001,02,CSS,K
data,er,salec001,2
data,er,thort001,0
data,er,shoem001,0
"""


def test_golden_game() -> None:
    parse = parse_event_text(GAME, "2019BOS.EVA", 2019)
    assert parse.quarantined == []
    (game,) = parse.games
    assert (game.game_key, game.game_date, game.away_team, game.home_team) == (
        "BOS201904090",
        date(2019, 4, 9),
        "TOR",
        "BOS",
    )
    assert (game.away_starter, game.home_starter, game.game_number) == ("shoem001", "salec001", 0)

    pas = parse.plate_appearances
    assert [p.seq for p in pas] == list(range(1, 11))
    # The batter on the SB2 and CS3 lines is Drury, mid-count: one plate appearance, his last.
    assert [(p.batter, p.outcome) for p in pas] == [
        ("galvf001", "OUT"),
        ("hernt002", "1B"),
        ("drurb001", "K"),
        ("gricr001", "HR"),
        ("jansd001", "OUT"),
        ("benia002", "BB"),
        ("bettm001", "IBB"),
        ("morem001", "OUT"),
        ("martj006", "ROE"),
        ("bogax001", "K"),
    ]
    drury = pas[2]
    assert (drury.outs_on_play, drury.runs_on_play, drury.pitches) == (0, 0, 5)
    assert (pas[3].runs_on_play, pas[7].outs_on_play, pas[8].runs_on_play) == (2, 2, 1)
    assert pas[6].pitches == 0  # automatic intentional walk: four awarded balls, none thrown
    # Thornburg came in mid-inning (sub, fielding position 1) and faced Jansen.
    assert [p.pitcher for p in pas[:5]] == ["salec001"] * 4 + ["thort001"]
    assert {p.pitcher for p in pas[5:]} == {"shoem001"}

    pitchers = {p.pitcher: p for p in parse.pitcher_games}
    sale, thornburg, shoemaker = pitchers["salec001"], pitchers["thort001"], pitchers["shoem001"]
    assert (sale.team, sale.opponent, sale.side, sale.is_starter) == ("BOS", "TOR", 1, True)
    assert (sale.batters_faced, sale.outs_recorded, sale.hits, sale.home_runs) == (4, 2, 2, 1)
    assert (sale.strikeouts, sale.runs_allowed, sale.earned_runs) == (1, 2, 2)
    assert sale.pitches == 5 + 5 + 5 + 2  # Drury's 5 counted once over his three lines
    assert (thornburg.appearance_order, thornburg.is_starter, thornburg.inning_entered) == (
        2,
        False,
        1,
    )
    assert (thornburg.batters_faced, thornburg.outs_recorded, thornburg.pitches) == (1, 1, 6)
    assert (shoemaker.side, shoemaker.batters_faced, shoemaker.outs_recorded) == (0, 5, 3)
    assert (shoemaker.walks, shoemaker.strikeouts, shoemaker.runs_allowed) == (2, 1, 1)
    assert (shoemaker.pitches, shoemaker.earned_runs) == (6 + 0 + 2 + 1 + 3, 0)

    assert [(s.side, s.batting_order, s.player) for s in parse.lineups] == [
        (0, 1, "galvf001"),
        (0, 2, "hernt002"),
        (1, 1, "benia002"),
        (1, 2, "bettm001"),
    ]
    frames = to_frames(parse)
    assert {t: tuple(f.columns) for t, f in frames.items()} == TABLE_COLUMNS
    assert len(frames["plate_appearances"]) == 10


def test_extra_inning_runner_from_radj_scores() -> None:
    text = GAME.replace(
        "data,er,salec001,2",
        "radj,hernt002,2\nplay,10,0,galvf001,01,CX,S8/G.2-H\ndata,er,salec001,2",
    )
    parse = parse_event_text(text, "2020BOS.EVA", 2020)
    last = parse.plate_appearances[-1]
    assert (last.inning, last.outcome, last.runs_on_play) == (10, "1B", 1)


def test_missing_pitch_sequence_makes_pitches_unknown() -> None:
    parse = parse_event_text(GAME.replace("BCSFX,9/F", ",9/F"), "2019BOS.EVA", 2019)
    assert parse.plate_appearances[0].pitches is None
    sale = next(p for p in parse.pitcher_games if p.pitcher == "salec001")
    assert sale.pitches is None
    other = next(p for p in parse.pitcher_games if p.pitcher == "thort001")
    assert other.pitches == 6


def test_corrupt_line_quarantines_its_game_and_the_rest_loads() -> None:
    second = GAME.replace("BOS201904090", "BOS201904100").replace("2019/04/09", "2019/04/10")
    bad = GAME.replace("play,1,1,bogax001,02,CSS,K", "play,1,1,bogax001,02,CSS,Z9Q")
    text = "junk before any game\n" + bad + second + "frobnicate,1,2\n"
    parse = parse_event_text(text, "2019BOS.EVA", 2019)
    assert [g.game_key for g in parse.games] == ["BOS201904100"]
    assert {p.game_key for p in parse.plate_appearances} == {"BOS201904100"}
    reasons = {(q.row, q.reason.split(":")[0]) for q in parse.quarantined}
    bad_line = bad.splitlines().index("play,1,1,bogax001,02,CSS,Z9Q") + 2  # after the junk line
    assert reasons == {
        (1, "'junk before any game' record outside a game"),
        (bad_line, "event 'Z9Q'"),
        (len(text.splitlines()), "unknown record type 'frobnicate'"),
    }
    dropped = next(q for q in parse.quarantined if q.row == bad_line)
    assert dropped.raw["game_key"] == "BOS201904090"
    assert dropped.file == "2019BOS.EVA"


def test_roster_lines() -> None:
    text = "barnm001,Barnes,Matt,R,R,BOS,P\nbogax001,Bogaerts,Xander,R,R,BOS\n"
    parse = parse_roster_text(text, "BOS2019.ROS", 2019)
    (entry,) = parse.rosters
    assert (entry.team, entry.player, entry.last_name, entry.throws, entry.position) == (
        "BOS",
        "barnm001",
        "Barnes",
        "R",
        "P",
    )
    assert [(q.row, q.reason) for q in parse.quarantined] == [(2, "6 fields, a roster has 7")]


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_corrupt_tarball_member_is_quarantined_and_the_rest_loads(tmp_path: Path) -> None:
    tar = _tar(
        tmp_path / "2019.tar.gz",
        {
            "2019/2019BOS.EVA": GAME.encode(),
            "2019/2019NYA.EVA": b"\x1f\x8b\x08\x00\xff\xfe\x00garbage",
            "2019/BOS2019.ROS": b"barnm001,Barnes,Matt,R,R,BOS,P\n",
            "2019/TEAM2019": b"BOS,A,Boston,Red Sox\n",
        },
    )
    parse = read_event_season(tar)
    assert [g.game_key for g in parse.games] == ["BOS201904090"]
    assert len(parse.rosters) == 1
    ((file, row, reason),) = [(q.file, q.row, q.reason) for q in parse.quarantined]
    assert (file, row, reason) == ("2019.tar.gz:2019/2019NYA.EVA", 0, "member is not a text file")
    assert set(parse.file_sha256) == {
        "2019.tar.gz:2019/2019BOS.EVA",
        "2019.tar.gz:2019/BOS2019.ROS",
    }


def test_game_in_two_files_of_a_season_loads_once(tmp_path: Path) -> None:
    tar = _tar(
        tmp_path / "2019.tar.gz",
        {"2019/2019BOS.EVA": GAME.encode(), "2019/2019TOR.EVA": GAME.encode()},
    )
    parse = read_event_season(tar)
    assert [g.source_file for g in parse.games] == ["2019.tar.gz:2019/2019BOS.EVA"]
    assert len(parse.plate_appearances) == 10
    (q,) = parse.quarantined
    assert (q.file, q.raw["game_key"]) == ("2019.tar.gz:2019/2019TOR.EVA", "BOS201904090")


def test_truncated_tarball_keeps_what_was_read(tmp_path: Path) -> None:
    data = (EVENTS / "2020.tar.gz").read_bytes()
    cut = tmp_path / "2020.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    parse = read_event_season(cut)
    assert 0 < len(parse.games) < 898
    assert [q.reason.split(":")[0] for q in parse.quarantined] == ["tarball unreadable"]


@pytest.fixture(scope="module")
def season_2019() -> EventParse:
    return read_event_season(EVENTS / "2019.tar.gz")


def test_2019_totals_match_the_data_readme(season_2019: EventParse) -> None:
    outcomes = Counter(p.outcome for p in season_2019.plate_appearances)
    assert len(season_2019.plate_appearances) == 186_517
    assert outcomes["K"] == 42_823
    assert outcomes["HR"] == 6_776
    assert len(season_2019.games) == 2429
    assert season_2019.quarantined == []
    assert len({g.game_key for g in season_2019.games}) == 2429
    assert len(season_2019.rosters) > 1200


def test_2019_outs_and_runs_equal_the_game_logs(season_2019: EventParse) -> None:
    gamelog = read_gamelog_keys(DATA / "retrosheet" / "GL2019.TXT.gz")
    check = reconcile_with_gamelog(season_2019, gamelog)
    assert check.games == 2429
    # Measured: every game of 2009-2021 agrees on both; 2019 must not lose one.
    assert (check.outs_match, check.runs_match) == (2429, 2429), (
        check.outs_mismatches[:5],
        check.runs_mismatches[:5],
    )


def test_suspended_game_appears_once_on_its_first_date(season_2019: EventParse) -> None:
    # Suspended in the 10th on 2019-08-07 (KC at BOS), completed on 08-22: one game, its date.
    games = [g for g in season_2019.games if g.game_key == "BOS201908070"]
    assert [(g.game_date, g.away_team) for g in games] == [(date(2019, 8, 7), "KC")]
    # Dini pinch-hit with a 2-1 count when play stopped ("BCB,NP") and finished the at-bat on
    # resumption ("..BCBX,3/L"): one plate appearance of four pitches, not two.
    (dini,) = [
        p
        for p in season_2019.plate_appearances
        if p.game_key == "BOS201908070" and p.batter == "dinin001" and p.inning == 10
    ]
    assert (dini.outcome, dini.pitches) == ("OUT", 4)


def test_game_missing_from_the_game_log_is_quarantined(season_2019: EventParse) -> None:
    gamelog = read_gamelog_keys(DATA / "retrosheet" / "GL2019.TXT.gz")
    del gamelog[(date(2019, 4, 9), "BOS", 0)]
    checked = quarantine_missing_games(season_2019, gamelog)
    assert len(checked.games) == 2428
    assert "BOS201904090" not in {p.game_key for p in checked.plate_appearances}
    (q,) = checked.quarantined
    assert q.file.endswith("2019BOS.EVA")
    assert q.reason.startswith("game BOS201904090 (2019-04-09 TOR@BOS number 0) is not in")


def test_neutral_site_series_with_swapped_home_team_is_quarantined_with_that_reason() -> None:
    parse = read_event_season(EVENTS / "2011.tar.gz", DATA / "retrosheet" / "GL2011.TXT.gz")
    reasons = sorted(q.reason for q in parse.quarantined)
    assert len(reasons) == 3
    assert all("MIA@SEA" in r and "home and visitor swapped" in r for r in reasons)
