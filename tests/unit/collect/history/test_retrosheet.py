"""Retrosheet game-log parsing against real lines (copied verbatim from data/retrosheet)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from bullpen.collect.history.retrosheet import parse_retrosheet_file
from bullpen.collect.history.sbr import ACTION_DROPPED_GAME

# GL2019.TXT line 1: the Tokyo opener, SEA 9 @ OAK 7.
TOKYO_2019 = '''"20190320","0","Wed","SEA","AL",1,"OAK","AL",1,9,7,54,"N","","","","TOK01",45787,204,"005130000","112000300",31,7,1,0,2,9,1,1,2,6,0,10,2,1,0,0,5,5,6,6,1,0,27,11,1,0,2,0,35,9,3,0,3,7,0,0,0,3,0,8,0,0,2,0,4,7,9,9,2,0,27,4,0,0,0,0,"nelsj901","Jeff Nelson","gibsh902","Tripp Gibson","barkl901","Lance Barksdale","muchm901","Mike Muchlinski","","(none)","","(none)","servs002","Scott Servais","melvb001","Bob Melvin","gonzm005","Marco Gonzales","fierm001","Michael Fiers","strih001","Hunter Strickland","santd002","Domingo Santana","gonzm005","Marco Gonzales","fierm001","Michael Fiers","gordd002","Dee Gordon",4,"hanim001","Mitch Haniger",8,"brucj001","Jay Bruce",3,"encae001","Edwin Encarnacion",10,"santd002","Domingo Santana",7,"narvo001","Omar Narvaez",2,"healr001","Ryon Healy",5,"beckt001","Tim Beckham",6,"suzui001","Ichiro Suzuki",9,"laurr001","Ramon Laureano",8,"chapm001","Matt Chapman",5,"piscs001","Stephen Piscotty",9,"davik003","Khris Davis",10,"pindc001","Chad Pinder",7,"olsom001","Matt Olson",3,"profj001","Jurickson Profar",4,"semim001","Marcus Semien",6,"hundn001","Nick Hundley",2,"","Y"'''  # noqa: E501
# GL2019.TXT lines 1444-1445: TB @ NYY doubleheader on 2019-07-18.
TB_NYY_DOUBLEHEADER_2019 = """"20190718","1","Thu","TBA","AL",98,"NYA","AL",94,2,6,51,"D","","","","NYC21",0,176,"200000000","02003100x",30,5,1,0,2,2,0,0,0,3,0,10,0,0,2,0,4,4,5,5,0,0,24,6,1,0,0,0,35,10,3,0,2,6,0,0,0,2,0,9,0,0,0,0,7,4,2,2,0,0,27,9,0,0,2,0,"millb903","Brennan Miller","addir901","Ryan Additon","davig901","Gerry Davis","cuzzp901","Phil Cuzzi","","(none)","","(none)","cashk001","Kevin Cash","boona001","Aaron Boone","germd001","Domingo German","chiry001","Yonny Chirinos","","(none)","sancg002","Gary Sanchez","chiry001","Yonny Chirinos","germd001","Domingo German","meada001","Austin Meadows",7,"diazy001","Yandy Diaz",5,"lowen001","Nate Lowe",10,"kierk001","Kevin Kiermaier",8,"garca003","Avisail Garcia",9,"choij001","Ji-Man Choi",3,"darnt001","Travis d'Arnaud",2,"wendj002","Joey Wendle",4,"adamw002","Willy Adames",6,"lemad001","DJ LeMahieu",4,"judga001","Aaron Judge",9,"hicka001","Aaron Hicks",8,"encae001","Edwin Encarnacion",10,"sancg002","Gary Sanchez",2,"gregd001","Didi Gregorius",6,"voitl001","Luke Voit",3,"urshg001","Giovanny Urshela",5,"gardb001","Brett Gardner",7,"","Y"
"20190718","2","Thu","TBA","AL",99,"NYA","AL",95,1,5,51,"N","","","","NYC21",40504,166,"001000000","00001400x",32,5,2,0,0,1,0,0,1,5,0,9,1,0,0,0,10,3,5,5,0,1,24,12,1,0,2,0,28,6,2,0,1,4,0,0,0,6,0,4,0,0,1,0,5,4,1,1,0,0,27,3,0,0,0,0,"hobep901","Pat Hoberg","davig901","Gerry Davis","cuzzp901","Phil Cuzzi","addir901","Ryan Additon","","(none)","","(none)","cashk001","Kevin Cash","boona001","Aaron Boone","cessl001","Luis Cessa","mortc002","Charlie Morton","","(none)","","(none)","mortc002","Charlie Morton","greec003","Chad Green","meada001","Austin Meadows",9,"phamt001","Tommy Pham",7,"lowen001","Nate Lowe",3,"diazy001","Yandy Diaz",10,"kierk001","Kevin Kiermaier",8,"adamw002","Willy Adames",6,"wendj002","Joey Wendle",4,"brosm001","Michael Brosseau",5,"zunim001","Mike Zunino",2,"gardb001","Brett Gardner",8,"judga001","Aaron Judge",9,"encae001","Edwin Encarnacion",3,"gregd001","Didi Gregorius",6,"voitl001","Luke Voit",10,"torrg001","Gleyber Torres",4,"urshg001","Giovanny Urshela",5,"taucm001","Mike Tauchman",7,"romia002","Austin Romine",2,"","Y"
"""  # noqa: E501
# GL2011.TXT line 9: NYM @ Florida, whose Retrosheet code was FLO until 2011.
NYM_FLO_2011 = '''"20110401","0","Fri","NYN","NL",1,"FLO","NL",1,2,6,51,"N","","","","MIA01",41237,162,"000000200","00041001x",31,4,2,0,0,2,0,0,0,2,0,6,0,0,0,0,4,4,6,6,0,0,24,14,0,0,1,0,33,10,3,0,2,6,0,0,0,4,0,2,3,0,1,0,7,4,2,2,0,1,27,11,0,0,0,0,"davig901","Gerry Davis","holbs901","Sam Holbrook","gibsg901","Greg Gibson","ticht901","Todd Tichenor","","(none)","","(none)","collt801","Terry Collins","rodre001","Edwin Rodriguez","johnj009","Josh Johnson","pelfm001","Mike Pelfrey","","(none)","buckj001","John Buck","pelfm001","Mike Pelfrey","johnj009","Josh Johnson","reyej001","Jose Reyes",6,"harrw001","Willie Harris",7,"wrigd002","David Wright",5,"beltc001","Carlos Beltran",9,"pagaa001","Angel Pagan",8,"davii001","Ike Davis",3,"emaub001","Brad Emaus",4,"tholj001","Josh Thole",2,"pelfm001","Mike Pelfrey",1,"coghc001","Chris Coghlan",8,"infao001","Omar Infante",4,"ramih003","Hanley Ramirez",6,"stanm004","Mike Stanton",9,"sancg001","Gaby Sanchez",3,"morrl001","Logan Morrison",7,"buckj001","John Buck",2,"murpd004","Donnie Murphy",5,"johnj009","Josh Johnson",1,"","Y"'''  # noqa: E501


def _fields(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)))


def _line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def test_parse_retrosheet_file_reads_scores_outs_and_starters() -> None:
    result = parse_retrosheet_file(TOKYO_2019 + "\n", "GL2019.TXT")
    assert result.quarantined == []
    (game,) = result.games
    assert (game.season, game.game_date, game.game_number) == (2019, date(2019, 3, 20), 0)
    assert (game.away_team, game.home_team) == ("SEA", "OAK")
    assert (game.away_score, game.home_score, game.outs) == (9, 7, 54)
    assert (game.away_starter_id, game.away_pitcher) == ("gonzm005", "Marco Gonzales")
    assert (game.home_starter_id, game.home_pitcher) == ("fierm001", "Michael Fiers")
    assert game.score_source == "retrosheet"
    assert (game.source_file, game.source_row) == ("GL2019.TXT", 1)


def test_parse_retrosheet_file_has_no_market_fields() -> None:
    (game,) = parse_retrosheet_file(TOKYO_2019, "GL2019.TXT").games
    market = (game.away_open_ml, game.home_close_ml, game.close_total, game.home_runline)
    assert market == (None, None, None, None)
    assert (game.away_pitcher_hand, game.neutral_site) == (None, False)


def test_parse_retrosheet_file_keeps_doubleheader_numbers() -> None:
    result = parse_retrosheet_file(TB_NYY_DOUBLEHEADER_2019, "GL2019.TXT")
    games = [(g.away_team, g.home_team, g.game_number, g.away_score, g.home_score, g.outs)
             for g in result.games]  # fmt: skip
    assert games == [("TB", "NYY", 1, 2, 6, 51), ("TB", "NYY", 2, 1, 5, 51)]
    assert [g.source_row for g in result.games] == [1, 2]


def test_parse_retrosheet_file_maps_flo_in_2011() -> None:
    (game,) = parse_retrosheet_file(NYM_FLO_2011, "GL2011.TXT").games
    assert (game.game_date, game.away_team, game.home_team) == (date(2011, 4, 1), "NYM", "MIA")


def test_parse_retrosheet_file_rejects_flo_after_2011() -> None:
    fields = _fields(NYM_FLO_2011)
    fields[0] = "20120401"
    result = parse_retrosheet_file(_line(fields), "GL2012.TXT")
    assert result.games == []
    (entry,) = result.quarantined
    assert "FLO" in entry.reason and "Retrosheet" in entry.reason


@pytest.mark.parametrize(
    ("index", "value", "reason"),
    [
        (0, "2019032", "yyyymmdd"),
        (0, "20190230", "calendar day"),
        (1, "X", "game number"),
        (3, "XXX", "XXX"),
        (6, "SEA", "both teams"),
        (9, "nine", "visitor score"),
        (10, "-1", "negative"),
        (11, "54.5", "outs"),
    ],
)
def test_parse_retrosheet_file_quarantines_bad_fields(index: int, value: str, reason: str) -> None:
    # The real Tokyo line with one field broken.
    fields = _fields(TOKYO_2019)
    fields[index] = value
    result = parse_retrosheet_file(_line(fields), "GL2019.TXT")
    assert result.games == []
    (entry,) = result.quarantined
    assert reason in entry.reason
    assert (entry.source, entry.file, entry.row) == ("retrosheet", "GL2019.TXT", 1)
    assert entry.raw["action"] == ACTION_DROPPED_GAME
    assert entry.raw["rows"] == [{"line": 1, "fields": fields}]


def test_parse_retrosheet_file_quarantines_short_lines() -> None:
    truncated = _line(_fields(TOKYO_2019)[:20])
    result = parse_retrosheet_file(truncated + "\n" + NYM_FLO_2011 + "\n", "GL.TXT")
    assert [g.home_team for g in result.games] == ["MIA"]
    (entry,) = result.quarantined
    assert "20 fields" in entry.reason and entry.row == 1


def test_parse_retrosheet_file_quarantines_a_repeated_game() -> None:
    text = TOKYO_2019 + "\n" + TOKYO_2019 + "\n"
    result = parse_retrosheet_file(text, "GL2019.TXT")
    assert len(result.games) == 1
    (entry,) = result.quarantined
    assert entry.row == 2 and "duplicate" in entry.reason


def test_parse_retrosheet_file_blank_outs_is_none() -> None:
    fields = _fields(TOKYO_2019)
    fields[11] = ""
    (game,) = parse_retrosheet_file(_line(fields), "GL2019.TXT").games
    assert game.outs is None


def test_parse_retrosheet_file_skips_blank_lines_but_keeps_line_numbers() -> None:
    result = parse_retrosheet_file("\n" + TB_NYY_DOUBLEHEADER_2019 + "\n\n", "GL2019.TXT")
    assert [g.source_row for g in result.games] == [2, 3]
    assert result.quarantined == []


@pytest.mark.parametrize("text", ["", "\n", "garbage", '"20190320","0"\n'])
def test_parse_retrosheet_file_never_raises_on_junk(text: str) -> None:
    result = parse_retrosheet_file(text, "junk.TXT")
    assert result.games == []
