"""Retrosheet event files: a golden game, extra-inning runners, unknown pitches, quarantine of
a corrupt line (its game) and roster lines."""

from __future__ import annotations

from datetime import date

from bullpen.collect.history.events.parse import parse_event_text, parse_roster_text
from bullpen.collect.history.events.rows import TABLE_COLUMNS, to_frames
from tests.conftest import DATA

EVENTS = DATA / "retrosheet" / "events"

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
