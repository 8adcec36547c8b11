"""SBR odds parsing against real rows, one quirk per test (rows copied verbatim from data/odds)."""

from __future__ import annotations

from datetime import date

import pytest

from bullpen.collect.history.sbr import (
    ACTION_DROPPED_GAME,
    ACTION_NULLED_FIELDS,
    parse_pitcher,
    parse_sbr_file,
    season_from_file_name,
)
from bullpen.collect.records import GameRecord, ParseResult

HEADER = (
    "Date,Rot,VH,Team,Pitcher,1st,2nd,3rd,4th,5th,6th,7th,8th,9th,Final,Open,Close,"
    "RunLine,RunLinePrice,OpenOU,OpenOUPrice,CloseOU,CloseOUPrice"
)


def _parse(rows: str, season: int) -> ParseResult:
    text = HEADER + "\n" + "\n".join(line.strip() for line in rows.strip().splitlines()) + "\n"
    return parse_sbr_file(text, season, f"mlb_odds_{season}.csv")


def _one_game(rows: str, season: int) -> GameRecord:
    result = _parse(rows, season)
    assert len(result.games) == 1, result.quarantined
    return result.games[0]


def test_parse_sbr_file_reads_a_plain_game() -> None:
    # 2019 403 STL@PIT went to extra innings: the inning columns sum to 3-3, Final says 5-4.
    game = _one_game(
        """
        403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
        403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
        """,
        2019,
    )
    assert game == GameRecord(
        season=2019,
        game_date=date(2019, 4, 3),
        away_team="STL",
        home_team="PIT",
        game_number=0,
        neutral_site=False,
        away_pitcher="MMIKOLAS",
        home_pitcher="JTAILLON",
        away_pitcher_hand="R",
        home_pitcher_hand="R",
        away_score=5,
        home_score=4,
        score_source="sbr",
        away_open_ml=-110,
        home_open_ml=-110,
        away_close_ml=-104,
        home_close_ml=-106,
        open_total=7.5,
        open_over_price=-110,
        open_under_price=-110,
        close_total=7.5,
        close_over_price=105,
        close_under_price=-125,
        home_runline=-1.5,
        home_runline_price=188,
        away_runline_price=-225,
        source_file="mlb_odds_2019.csv",
        source_row=2,
    )


def test_parse_sbr_file_neutral_site_second_row_is_home() -> None:
    # 2019 Tokyo series: SEA and OAK both flagged N; OAK (second row) is the designated home team.
    result = _parse(
        """
        320,901,N,SEA,MGONZALES-L,0,0,5,1,3,0,0,0,0,9,107,120,1.5,-160,8.5,-110,8.5,-120
        320,902,N,OAK,MFIERS-R,1,1,2,0,0,0,3,0,0,7,-127,-130,-1.5,140,8.5,-110,8.5,100
        321,903,N,SEA,YKIKUCHI-L,0,2,1,0,0,0,1,0,0,5,109,-125,1.5,-262,9,-110,9,-130
        321,904,N,OAK,MESTRADA-R,0,0,0,0,2,0,2,0,0,4,-129,115,-1.5,216,9,-110,9,110
        """,
        2019,
    )
    assert result.quarantined == []
    first, second = result.games
    assert (first.game_date, first.away_team, first.home_team) == (date(2019, 3, 20), "SEA", "OAK")
    assert first.neutral_site and second.neutral_site
    assert (first.away_score, first.home_score) == (9, 7)
    # The second game went 12 innings: Final (5-4) includes runs the inning columns do not show.
    assert (second.away_score, second.home_score, second.source_row) == (5, 4, 4)


def test_parse_sbr_file_doubleheader_numbers_games_in_file_order() -> None:
    # 2019 420 MIN@BAL doubleheader (rows 608 and 618 of the file), with another game between.
    result = _parse(
        """
        420,973,V,MIN,MPEREZ-L,3,1,6,3,0,0,0,2,1,16,-140,-138,-1.5,115,9.5,-110,10,-105
        420,974,H,BAL,ACOBB-R,0,0,0,2,0,2,0,3,0,7,120,128,1.5,-135,9.5,-110,10,-115
        403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
        403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
        420,983,V,MIN,JBERRIOS-R,0,2,0,0,1,3,0,0,0,6,-215,-200,-1.5,-125,9.5,-110,9,-120
        420,984,H,BAL,DSTRAILY-R,0,0,3,0,0,1,0,1,0,5,180,180,1.5,105,9.5,-110,9,100
        """,
        2019,
    )
    numbers = [(g.away_team, g.game_number, g.away_score, g.home_score) for g in result.games]
    assert numbers == [("MIN", 1, 16, 7), ("STL", 0, 5, 4), ("MIN", 2, 6, 5)]


def test_parse_sbr_file_nl_open_moneyline_is_none_without_quarantine() -> None:
    # 2019 413 PIT@WAS: no opening moneyline ("NL"); the close and totals are fine.
    result = _parse(
        """
        413,901,V,PIT,CARCHER-R,0,0,0,1,0,1,0,0,0,2,NL,109,1.5,-195,8.5,-110,9,100
        413,902,H,WAS,ASANCHEZ-R,0,0,0,1,0,0,0,2,x,3,NL,-119,-1.5,166,8.5,-110,9,-120
        """,
        2019,
    )
    game = result.games[0]
    assert result.quarantined == []
    assert (game.away_open_ml, game.home_open_ml) == (None, None)
    assert (game.away_close_ml, game.home_close_ml) == (109, -119)
    assert (game.home_team, game.away_score, game.home_score) == ("WSH", 2, 3)


def test_parse_sbr_file_nl_final_means_no_result() -> None:
    # 2016 606 NYM@PIT was never played: empty innings, Final "NL", but lines were posted.
    result = _parse(
        """
        606,903,V,NYM,SMATZ-L,,,,,,,,,,NL,-115,118,1.5,-200,8,100,7.5,-110
        606,904,H,PIT,JNIESE-L,,,,,,,,,,NL,-105,-128,-1.5,170,8,-120,7.5,-110
        """,
        2016,
    )
    game = result.games[0]
    assert result.quarantined == []
    assert (game.away_score, game.home_score, game.score_source) == (None, None, None)
    assert (game.away_close_ml, game.home_close_ml, game.close_total) == (118, -128, 7.5)


def test_parse_sbr_file_nl_open_total_is_none() -> None:
    # 2020 817 CUB@STL: "NL" opening moneyline, total and total prices.
    game = _one_game(
        """
        817,975,V,CUB,TMILLER-R,1,0,0,0,0,4,0,x,x,5,NL,-118,-1.5,160,NL,NL,7,-125
        817,976,H,STL,AREYES-R,0,2,0,2,0,0,0,x,x,4,NL,108,1.5,-180,NL,NL,7,105
        """,
        2020,
    )
    assert (game.open_total, game.open_over_price, game.open_under_price) == (None, None, None)
    assert (game.close_total, game.close_over_price, game.close_under_price) == (7.0, -125, 105)
    assert (game.away_score, game.home_score) == (5, 4)  # 7-inning game: "x" in 8th and 9th


def test_parse_sbr_file_half_character_total() -> None:
    # 2010 926 HOU@PIT: closing total written "7½".
    game = _one_game(
        """
        926,955,V,HOU,JHAPP-L,1,0,0,0,0,0,0,2,0,3,-130,-111,,,8,100,7½,-115
        926,956,H,PIT,PMAHOLM-L,0,0,0,0,0,2,4,3,x,9,110,-109,,,8,-120,7½,-105
        """,
        2010,
    )
    assert (game.open_total, game.close_total) == (8.0, 7.5)


def test_parse_sbr_file_total_prices_visitor_over_home_under() -> None:
    game = _one_game(
        """
        926,955,V,HOU,JHAPP-L,1,0,0,0,0,0,0,2,0,3,-130,-111,,,8,100,7½,-115
        926,956,H,PIT,PMAHOLM-L,0,0,0,0,0,2,4,3,x,9,110,-109,,,8,-120,7½,-105
        """,
        2010,
    )
    assert (game.open_over_price, game.open_under_price) == (100, -120)
    assert (game.close_over_price, game.close_under_price) == (-115, -105)


def test_parse_sbr_file_no_run_line_before_2014() -> None:
    game = _one_game(
        """
        926,955,V,HOU,JHAPP-L,1,0,0,0,0,0,0,2,0,3,-130,-111,,,8,100,7½,-115
        926,956,H,PIT,PMAHOLM-L,0,0,0,0,0,2,4,3,x,9,110,-109,,,8,-120,7½,-105
        """,
        2010,
    )
    assert (game.home_runline, game.home_runline_price, game.away_runline_price) == (None,) * 3


def test_parse_sbr_file_typo_moneyline_is_nulled_and_quarantined() -> None:
    # 2019 504 SFO@CIN: open -1235 (close -124), and 770 on the other side.
    result = _parse(
        """
        504,959,V,SFO,DRODRIGUEZ-R,0,1,0,0,0,0,1,0,0,2,770,114,1.5,-185,9,-110,8.5,-125
        504,960,H,CIN,TROARK-R,1,4,0,1,2,0,1,0,x,9,-1235,-124,-1.5,160,9,-110,8.5,105
        """,
        2019,
    )
    game = result.games[0]
    assert (game.away_open_ml, game.home_open_ml) == (None, None)
    assert (game.away_close_ml, game.home_close_ml) == (114, -124)
    (entry,) = result.quarantined
    assert entry.source == "sbr" and entry.file == "mlb_odds_2019.csv" and entry.row == 2
    assert entry.reason.startswith("open moneyline:") and "-1235" in entry.reason
    assert entry.raw["action"] == ACTION_NULLED_FIELDS
    assert entry.raw["fields"] == ["away_open_ml", "home_open_ml"]
    assert [r["Open"] for r in entry.raw["rows"]] == ["770", "-1235"]
    assert [r["line"] for r in entry.raw["rows"]] == [2, 3]


def test_parse_sbr_file_underround_and_scrambled_pairs_are_nulled() -> None:
    # 2020 918 TAM@BAL, inside SBR's scrambled block: both sides favourites (-175/-181, -190/-210)
    # and a run line of -1.5 for both teams.
    scrambled = _parse(
        """
        918,953,V,TAM,TGLASNOW-R,1,0,1,0,0,0,0,0,0,2,-175,-190,-1.5,120,9,-101,8.5,100
        918,954,H,BAL,ACOBB-R,0,0,0,1,0,0,0,0,0,1,-181,-210,-1.5,-145,9,-119,8.5,-120
        """,
        2020,
    )
    game = scrambled.games[0]
    assert (game.away_open_ml, game.away_close_ml, game.home_runline) == (None, None, None)
    assert (game.open_total, game.close_over_price) == (9.0, 100)  # the totals are fine
    assert [q.reason.split(":")[0] for q in scrambled.quarantined] == [
        "open moneyline",
        "close moneyline",
        "run line",
    ]
    assert all(q.raw["action"] == ACTION_NULLED_FIELDS for q in scrambled.quarantined)
    # 2016 823 NYY@SEA: run line prices +140 / +105 imply 0.904 in total.
    underround = _parse(
        """
        823,919,V,NYY,CSABATHIA-L,0,1,0,0,2,1,0,0,1,5,125,139,1.5,140,8,-110,8,-110
        823,920,H,SEA,TWALKER-R,0,0,1,0,0,0,0,0,0,1,-145,-154,-1.5,105,8,-110,8,-110
        """,
        2016,
    )
    game = underround.games[0]
    assert (game.away_close_ml, game.home_runline, game.home_runline_price) == (139, None, None)
    (entry,) = underround.quarantined
    assert "0.904 < 1.0" in entry.reason


def test_parse_sbr_file_fractional_price_and_absurd_total_are_nulled() -> None:
    # 2018 507 DET@TEX: close -219.5 / 189.5 and a closing total of 104.
    result = _parse(
        """
        507,959,V,DET,MFULMER-R,0,0,3,0,0,2,1,0,0,6,-125,-219.5,1.5,-210,9.5,-110,104,-110
        507,960,H,TEX,MMOORE-L,0,1,0,0,0,4,2,0,x,7,105,189.5,-1.5,176,9.5,-110,104,-110
        """,
        2018,
    )
    game = result.games[0]
    assert (game.away_close_ml, game.close_total, game.close_over_price) == (None, None, None)
    assert (game.away_open_ml, game.open_total, game.home_runline) == (-125, 9.5, -1.5)
    assert [q.raw["fields"] for q in result.quarantined] == [
        ["away_close_ml", "home_close_ml"],
        ["close_total", "close_over_price", "close_under_price"],
    ]


def test_parse_sbr_file_pair_across_midnight_takes_the_earlier_date() -> None:
    # 2010: the visitor row says 630, the home row 701.
    result = _parse(
        """
        630,951,V,CIN,TWOOD-L,1,0,0,0,0,0,0,1,0,3,110,112,,,9,100,8,-105
        701,952,H,CUB,CSILVA-R,0,0,0,0,0,0,0,2,0,2,-130,-132,,,9,-120,8,-115
        """,
        2010,
    )
    assert result.quarantined == []
    game = result.games[0]
    assert (game.game_date, game.away_team, game.home_team) == (date(2010, 6, 30), "CIN", "CHC")


def test_parse_sbr_file_duplicate_rot_pairs_by_position() -> None:
    # 2018 518: CUB@CIN has Rot 907 on both rows; pairing by position keeps every game right.
    result = _parse(
        """
        518,905,V,ARI,ZGODLEY-R,0,0,0,0,0,1,0,0,0,1,135,129,1.5,-190,7,-115,6.5,-119
        518,906,H,NYM,JDEGROM-R,2,0,0,0,1,0,0,0,x,3,-155,-144,-1.5,163,7,-105,6.5,-101
        518,907,V,CUB,JLESTER-L,3,0,1,0,2,0,0,1,1,8,-190,-177,-1.5,-104,9.5,-105,9.5,-105
        518,907,H,CIN,HBAILEY-R,0,0,0,0,1,0,0,0,0,1,170,157,1.5,-116,9.5,-115,9.5,-115
        518,909,V,MIA,DSTRAILY-R,0,0,0,0,0,2,0,0,0,2,185,150,1.5,-121,9,-120,9,-125
        518,910,H,ATL,MWISLER-R,0,0,0,0,0,0,0,0,0,0,-215,-170,-1.5,101,9,100,9,105
        """,
        2018,
    )
    assert result.quarantined == []
    matchups = [(g.away_team, g.home_team, g.away_score, g.home_score) for g in result.games]
    assert matchups == [("ARI", "NYM", 1, 3), ("CHC", "CIN", 8, 1), ("MIA", "ATL", 2, 0)]


def test_parse_sbr_file_2020_team_codes() -> None:
    result = _parse(
        """
        729,927,V,SDG,CPADDACK-R,0,0,2,4,0,0,0,0,0,6,-165,-180,-1.5,-115,7.5,-110,7.5,-110
        729,928,H,SFG,JCUETO-R,0,1,1,0,0,1,0,3,1,7,144,165,1.5,-105,7.5,-110,7.5,-110
        811,965,V,TAM,AKITTREDGE-R,1,0,1,0,0,0,6,0,0,8,-107,-113,-1.5,140,10,-107,10,-120
        811,966,H,BRS,MPEREZ-L,0,1,0,0,0,0,0,1,0,2,-113,103,1.5,-160,10,-113,10,100
        813,953,V,MIL,BANDERSON-L,0,0,0,0,0,0,1,0,1,2,160,155,1.5,-125,8,-110,8.5,100
        813,954,H,CHC,YDARVISH-R,1,1,0,0,0,2,0,0,0,4,-185,-165,-1.5,105,8,-110,8.5,-120
        """,
        2020,
    )
    assert [(g.away_team, g.home_team) for g in result.games] == [
        ("SD", "SF"),
        ("TB", "BOS"),
        ("MIL", "CHC"),
    ]


def test_parse_sbr_file_2016_los_and_lad_are_both_dodgers() -> None:
    result = _parse(
        """
        404,957,V,LOS,CKERSHAW-L,2,0,1,0,0,5,3,4,0,15,-175,-200,-1.5,-111,5.5,-110,6,100
        404,958,H,SDG,TROSS-R,0,0,0,0,0,0,0,0,0,0,155,170,1.5,-109,5.5,-110,6,-120
        428,959,V,MIA,JFERNANDZ-R,0,1,0,0,0,0,3,1,0,5,114,110,1.5,-215,6.5,-115,6,-115
        428,960,H,LAD,KMAEDA-R,2,0,0,0,0,0,0,0,1,3,-134,-120,-1.5,185,6.5,-105,6,-105
        """,
        2016,
    )
    assert [(g.away_team, g.home_team) for g in result.games] == [("LAD", "SD"), ("MIA", "LAD")]


def test_parse_sbr_file_pitcher_without_suffix_or_blank() -> None:
    # 2010 515 OAK@LAA: "TROSS" has no hand suffix. 2017 511 LOS@COL: the home Pitcher is blank.
    result = _parse(
        """
        515,929,V,OAK,TROSS,1,0,1,0,0,1,0,0,0,3,110,120,,,8.5,-110,8.5,100
        515,930,H,LAA,ESANTANA-R,0,0,0,3,4,1,4,0,x,12,-130,-140,,,8.5,-110,8.5,-120
        """,
        2010,
    )
    game = result.games[0]
    assert (game.away_pitcher, game.away_pitcher_hand) == ("TROSS", None)
    assert (game.home_pitcher, game.home_pitcher_hand) == ("ESANTANA", "R")
    blank = _one_game(
        """
        511,951,V,LOS,HRYU-L,0,0,0,0,1,2,0,2,2,7,-114,-135,-1.5,115,11.5,-105,11,102
        511,952,H,COL,,2,5,0,3,0,0,0,0,x,10,-106,120,1.5,-135,11.5,-115,11,-122
        """,
        2017,
    )
    assert (blank.home_pitcher, blank.home_pitcher_hand) == (None, None)
    assert (blank.away_pitcher, blank.away_pitcher_hand) == ("HRYU", "L")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("MGONZALES-L", ("MGONZALES", "L")),
        ("TROSS", ("TROSS", None)),
        ("", (None, None)),
        ("  ", (None, None)),
        ("UNDECIDED", (None, None)),
        ("Undecided", (None, None)),
        ("SREID-FOLEY-R", ("SREID-FOLEY", "R")),
        ("RWLND-SMTH-L", ("RWLND-SMTH", "L")),
        ("RMcClain-R", ("RMCCLAIN", "R")),
        ("KBUBIC-L-L", ("KBUBIC", "L")),
        ("NPEARSON-R-L", ("NPEARSON", None)),
        ("DAVIES-Z", ("DAVIES-Z", None)),
    ],
)
def test_parse_pitcher_splits_name_and_hand(
    cell: str, expected: tuple[str | None, str | None]
) -> None:
    assert parse_pitcher(cell) == expected


def test_parse_sbr_file_unknown_team_code_quarantines_the_pair() -> None:
    # Real 2019 504 rows with the visitor's code changed to one SBR never uses.
    result = _parse(
        """
        504,959,V,XXX,DRODRIGUEZ-R,0,1,0,0,0,0,1,0,0,2,770,114,1.5,-185,9,-110,8.5,-125
        504,960,H,CIN,TROARK-R,1,4,0,1,2,0,1,0,x,9,-1235,-124,-1.5,160,9,-110,8.5,105
        403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
        403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
        """,
        2019,
    )
    assert [g.away_team for g in result.games] == ["STL"]
    (entry,) = result.quarantined
    assert entry.row == 2 and "XXX" in entry.reason and "SBR" in entry.reason
    assert entry.raw["action"] == ACTION_DROPPED_GAME
    assert [r["Team"] for r in entry.raw["rows"]] == ["XXX", "CIN"]


def test_parse_sbr_file_visitor_visitor_pair_is_quarantined() -> None:
    # Two real visitor rows (2019 420 MIN, both games of the doubleheader) with no home row between.
    result = _parse(
        """
        420,973,V,MIN,MPEREZ-L,3,1,6,3,0,0,0,2,1,16,-140,-138,-1.5,115,9.5,-110,10,-105
        420,983,V,MIN,JBERRIOS-R,0,2,0,0,1,3,0,0,0,6,-215,-200,-1.5,-125,9.5,-110,9,-120
        """,
        2019,
    )
    assert result.games == []
    (entry,) = result.quarantined
    assert "VH" in entry.reason and entry.raw["action"] == ACTION_DROPPED_GAME
    assert [r["line"] for r in entry.raw["rows"]] == [2, 3]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        # home row first, then visitor (2019 403 STL@PIT, rows swapped)
        (
            """
            403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
            403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
            """,
            "VH",
        ),
        # no such day in 2019
        (
            """
            229,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
            229,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
            """,
            "Date",
        ),
        # not MMDD
        (
            """
            4/3,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
            4/3,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
            """,
            "Date",
        ),
        # rows a week apart cannot be one game
        (
            """
            403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
            410,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
            """,
            "days apart",
        ),
        # a row missing its last cell
        (
            """
            403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5
            403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
            """,
            "width",
        ),
    ],
)
def test_parse_sbr_file_bad_pair_is_quarantined_not_raised(rows: str, reason: str) -> None:
    result = _parse(rows, 2019)
    assert result.games == []
    (entry,) = result.quarantined
    assert reason in entry.reason
    assert entry.raw["action"] == ACTION_DROPPED_GAME and len(entry.raw["rows"]) == 2


def test_parse_sbr_file_odd_row_count_quarantines_the_last_row() -> None:
    result = _parse(
        """
        403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105
        403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125
        320,901,N,SEA,MGONZALES-L,0,0,5,1,3,0,0,0,0,9,107,120,1.5,-160,8.5,-110,8.5,-120
        """,
        2019,
    )
    assert len(result.games) == 1
    (entry,) = result.quarantined
    assert entry.row == 4 and "odd number" in entry.reason
    assert [r["Team"] for r in entry.raw["rows"]] == ["SEA"]


def test_parse_sbr_file_missing_columns_quarantines_every_row() -> None:
    text = "Date,Rot,VH,Team\n403,909,V,STL\n403,910,H,PIT\n"  # a header without price columns
    result = parse_sbr_file(text, 2019, "mlb_odds_2019.csv")
    assert result.games == []
    (entry,) = result.quarantined
    assert "lacks columns" in entry.reason and len(entry.raw["rows"]) == 2


@pytest.mark.parametrize("text", ["", "\n\n", HEADER + "\n", "not,a\ncsv,file,at\nall"])
def test_parse_sbr_file_never_raises_on_junk(text: str) -> None:
    result = parse_sbr_file(text, 2019, "junk.csv")
    assert result.games == []


def test_parse_sbr_file_skips_blank_lines_but_keeps_line_numbers() -> None:
    text = (
        HEADER
        + "\n\n"
        + "403,909,V,STL,MMIKOLAS-R,0,0,0,0,0,0,1,2,0,5,-110,-104,1.5,-225,7.5,-110,7.5,105\n"
        + "403,910,H,PIT,JTAILLON-R,0,2,1,0,0,0,0,0,0,4,-110,-106,-1.5,188,7.5,-110,7.5,-125\n"
    )
    (game,) = parse_sbr_file(text, 2019, "f.csv").games
    assert game.source_row == 3


@pytest.mark.parametrize(
    ("name", "season"),
    [
        ("mlb_odds_2019.csv", 2019),
        ("mlb_odds_2019.csv.gz", 2019),
        ("data/odds/mlb_odds_2010.csv", 2010),
        ("mlb odds 2016.xlsx", 2016),
    ],
)
def test_season_from_file_name_reads_the_year(name: str, season: int) -> None:
    assert season_from_file_name(name) == season


@pytest.mark.parametrize("name", ["mlb_odds.csv", "odds_2019_2020.csv", "mlb_odds_12019.csv"])
def test_season_from_file_name_rejects_names_without_one_year(name: str) -> None:
    with pytest.raises(ValueError, match="season"):
        season_from_file_name(name)
