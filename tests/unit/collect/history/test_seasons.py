"""Merging SBR games with Retrosheet games, on real rows and on the real bundled seasons."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from bullpen.collect.history.retrosheet import parse_retrosheet_file
from bullpen.collect.history.sbr import ACTION_DROPPED_GAME, parse_sbr_file
from bullpen.collect.history.seasons import merge_history, read_season_files
from bullpen.collect.records import GameRecord
from tests.conftest import DATA, SHARED_DATA

REPO_DATA = DATA

SBR_HEADER = (
    "Date,Rot,VH,Team,Pitcher,1st,2nd,3rd,4th,5th,6th,7th,8th,9th,Final,Open,Close,"
    "RunLine,RunLinePrice,OpenOU,OpenOUPrice,CloseOU,CloseOUPrice"
)
# mlb_odds_2019.csv lines 608-609 and 618-619: MIN@BAL doubleheader, listed 16-7 first.
SBR_MIN_BAL_2019 = """
420,973,V,MIN,MPEREZ-L,3,1,6,3,0,0,0,2,1,16,-140,-138,-1.5,115,9.5,-110,10,-105
420,974,H,BAL,ACOBB-R,0,0,0,2,0,2,0,3,0,7,120,128,1.5,-135,9.5,-110,10,-115
420,983,V,MIN,JBERRIOS-R,0,2,0,0,1,3,0,0,0,6,-215,-200,-1.5,-125,9.5,-110,9,-120
420,984,H,BAL,DSTRAILY-R,0,0,3,0,0,1,0,1,0,5,180,180,1.5,105,9.5,-110,9,100
"""
# GL2019.TXT lines 302-303: the same doubleheader; Retrosheet has the 6-5 game first.
RETRO_MIN_BAL_2019 = """"20190420","1","Sat","MIN","AL",17,"BAL","AL",21,6,5,54,"D","","","","BAL12",0,196,"020013000","003001010",36,9,4,0,3,6,0,0,1,3,0,9,0,0,0,0,7,3,5,5,0,0,27,7,0,0,0,0,38,13,3,0,3,5,0,0,1,3,0,10,2,0,0,0,10,4,6,6,1,0,27,6,0,0,0,0,"wolcq901","Quinn Wolcott","millb903","Brennan Miller","hudsm901","Marvin Hudson","johna901","Adrian Johnson","","(none)","","(none)","baldr001","Rocco Baldelli","hydeb801","Brandon Hyde","berrj001","Jose Berrios","yacaj001","Jimmy Yacabonis","roget001","Taylor Rogers","buxtb001","Byron Buxton","berrj001","Jose Berrios","strad003","Dan Straily","polaj001","Jorge Polanco",6,"gonzm002","Marwin Gonzalez",5,"cruzn002","Nelson Cruz",10,"rosae001","Eddie Rosario",7,"astuw001","Willians Astudillo",3,"cavej001","Jake Cave",9,"schoj001","Jonathan Schoop",4,"castj006","Jason Castro",2,"buxtb001","Byron Buxton",8,"villj001","Jonathan Villar",6,"manct001","Trey Mancini",9,"smitd007","Dwight Smith",7,"nuner001","Renato Nunez",10,"ruizr002","Rio Ruiz",5,"albeh001","Hanser Alberto",4,"davic003","Chris Davis",3,"sevep001","Pedro Severino",2,"mullc002","Cedric Mullins",8,"","Y"
"20190420","2","Sat","MIN","AL",18,"BAL","AL",22,16,7,54,"N","","","","BAL12",28409,170,"316300021","000202030",46,19,5,0,8,16,0,0,0,0,0,5,0,0,0,0,3,3,7,7,1,0,27,14,0,0,2,0,36,11,1,0,3,6,0,0,0,1,0,2,0,0,2,0,3,4,16,16,0,0,27,6,0,0,0,0,"cedeg901","Gary Cederstrom","hudsm901","Marvin Hudson","johna901","Adrian Johnson","millb903","Brennan Miller","","(none)","","(none)","baldr001","Rocco Baldelli","hydeb801","Brandon Hyde","perem004","Martin Perez","cobba001","Alex Cobb","","(none)","cruzn002","Nelson Cruz","perem004","Martin Perez","cobba001","Alex Cobb","garvm001","Mitch Garver",2,"gonzm002","Marwin Gonzalez",5,"cruzn002","Nelson Cruz",10,"rosae001","Eddie Rosario",7,"cronc002","C.J. Cron",3,"cavej001","Jake Cave",9,"schoj001","Jonathan Schoop",4,"adrie001","Ehire Adrianza",6,"buxtb001","Byron Buxton",8,"rickj001","Joey Rickard",7,"villj001","Jonathan Villar",4,"manct001","Trey Mancini",9,"nuner001","Renato Nunez",10,"albeh001","Hanser Alberto",5,"sucrj001","Jesus Sucre",2,"martr006","Richie Martin",6,"ruizr002","Rio Ruiz",3,"mullc002","Cedric Mullins",8,"","Y"
"""  # noqa: E501
# mlb_odds_2019.csv lines 2880-2881: SBR lists one TB@NYY game on 2019-07-18 ...
SBR_TB_NYY_2019 = """
718,915,V,TAM,CMORTON-R,0,0,1,0,0,0,0,0,0,1,-105,108,1.5,-180,9.5,-110,9.5,-105
718,916,H,NYY,CGREEN-R,0,0,0,0,1,4,0,0,0,5,-115,-118,-1.5,160,9.5,-110,9.5,-115
"""
# ... GL2019.TXT lines 1444-1445: Retrosheet has a doubleheader; SBR's game is game 2.
RETRO_TB_NYY_2019 = """"20190718","1","Thu","TBA","AL",98,"NYA","AL",94,2,6,51,"D","","","","NYC21",0,176,"200000000","02003100x",30,5,1,0,2,2,0,0,0,3,0,10,0,0,2,0,4,4,5,5,0,0,24,6,1,0,0,0,35,10,3,0,2,6,0,0,0,2,0,9,0,0,0,0,7,4,2,2,0,0,27,9,0,0,2,0,"millb903","Brennan Miller","addir901","Ryan Additon","davig901","Gerry Davis","cuzzp901","Phil Cuzzi","","(none)","","(none)","cashk001","Kevin Cash","boona001","Aaron Boone","germd001","Domingo German","chiry001","Yonny Chirinos","","(none)","sancg002","Gary Sanchez","chiry001","Yonny Chirinos","germd001","Domingo German","meada001","Austin Meadows",7,"diazy001","Yandy Diaz",5,"lowen001","Nate Lowe",10,"kierk001","Kevin Kiermaier",8,"garca003","Avisail Garcia",9,"choij001","Ji-Man Choi",3,"darnt001","Travis d'Arnaud",2,"wendj002","Joey Wendle",4,"adamw002","Willy Adames",6,"lemad001","DJ LeMahieu",4,"judga001","Aaron Judge",9,"hicka001","Aaron Hicks",8,"encae001","Edwin Encarnacion",10,"sancg002","Gary Sanchez",2,"gregd001","Didi Gregorius",6,"voitl001","Luke Voit",3,"urshg001","Giovanny Urshela",5,"gardb001","Brett Gardner",7,"","Y"
"20190718","2","Thu","TBA","AL",99,"NYA","AL",95,1,5,51,"N","","","","NYC21",40504,166,"001000000","00001400x",32,5,2,0,0,1,0,0,1,5,0,9,1,0,0,0,10,3,5,5,0,1,24,12,1,0,2,0,28,6,2,0,1,4,0,0,0,6,0,4,0,0,1,0,5,4,1,1,0,0,27,3,0,0,0,0,"hobep901","Pat Hoberg","davig901","Gerry Davis","cuzzp901","Phil Cuzzi","addir901","Ryan Additon","","(none)","","(none)","cashk001","Kevin Cash","boona001","Aaron Boone","cessl001","Luis Cessa","mortc002","Charlie Morton","","(none)","","(none)","mortc002","Charlie Morton","greec003","Chad Green","meada001","Austin Meadows",9,"phamt001","Tommy Pham",7,"lowen001","Nate Lowe",3,"diazy001","Yandy Diaz",10,"kierk001","Kevin Kiermaier",8,"adamw002","Willy Adames",6,"wendj002","Joey Wendle",4,"brosm001","Michael Brosseau",5,"zunim001","Mike Zunino",2,"gardb001","Brett Gardner",8,"judga001","Aaron Judge",9,"encae001","Edwin Encarnacion",3,"gregd001","Didi Gregorius",6,"voitl001","Luke Voit",10,"torrg001","Gleyber Torres",4,"urshg001","Giovanny Urshela",5,"taucm001","Mike Tauchman",7,"romia002","Austin Romine",2,"","Y"
"""  # noqa: E501


def _sbr(rows: str, season: int = 2019) -> list[GameRecord]:
    text = SBR_HEADER + "\n" + rows.strip() + "\n"
    result = parse_sbr_file(text, season, f"mlb_odds_{season}.csv")
    assert result.quarantined == []
    return result.games


def _retro(text: str) -> list[GameRecord]:
    result = parse_retrosheet_file(text, "GL2019.TXT")
    assert result.quarantined == []
    return result.games


def _game(number: int, score: tuple[int, int] | None, source: str, **extra: object) -> GameRecord:
    """A hand-made game on one matchup-day, for merge rules real rows do not isolate."""
    away, home = score if score is not None else (None, None)
    return GameRecord(
        season=2019,
        game_date=date(2019, 4, 12),
        away_team="CWS",
        home_team="NYY",
        game_number=number,
        away_score=away,
        home_score=home,
        score_source=source if score is not None else None,
        source_file="mlb_odds_2019.csv" if source == "sbr" else "GL2019.TXT",
        **extra,  # type: ignore[arg-type]
    )


def _keys(games: list[GameRecord]) -> list[tuple[date, str, str, int]]:
    return [(g.game_date, g.away_team, g.home_team, g.game_number) for g in games]


def test_merge_history_doubleheader_matches_by_score_and_takes_retrosheet_numbers() -> None:
    merged = merge_history(_sbr(SBR_MIN_BAL_2019), _retro(RETRO_MIN_BAL_2019))
    summary = [
        (g.game_number, g.away_score, g.home_score, g.away_pitcher, g.away_starter_id)
        for g in merged
    ]
    # SBR's first-listed game (Perez, 16-7) was Retrosheet's game 2; its lines travel with it.
    assert summary == [(1, 6, 5, "JBERRIOS", "berrj001"), (2, 16, 7, "MPEREZ", "perem004")]
    assert [g.away_close_ml for g in merged] == [-200, -138]
    assert all(g.score_source == "retrosheet" and g.outs == 54 for g in merged)
    assert [g.home_starter_id for g in merged] == ["strad003", "cobba001"]
    assert [g.source_row for g in merged] == [4, 2]  # SBR's lines, for the market fields


def test_merge_history_single_sbr_game_matches_one_game_of_a_doubleheader() -> None:
    merged = merge_history(_sbr(SBR_TB_NYY_2019), _retro(RETRO_TB_NYY_2019))
    first, second = merged
    assert (first.game_number, first.away_score, first.home_score) == (1, 2, 6)
    assert (first.away_close_ml, first.source_file) == (None, "GL2019.TXT")  # Retrosheet only
    assert (second.game_number, second.away_score, second.home_score) == (2, 1, 5)
    assert (second.away_close_ml, second.home_close_ml) == (108, -118)
    assert (second.away_pitcher, second.home_starter_id) == ("CMORTON", "greec003")


def test_merge_history_prefers_retrosheet_scores() -> None:
    # 2019-04-12 CWS@NYY (mlb_odds_2019.csv line 394, GL2019.TXT line 200): SBR has the score
    # when play stopped after six innings, 7-6; Retrosheet has the final, 9-6 in 37 outs.
    sbr = _game(0, (7, 6), "sbr", away_close_ml=185, away_pitcher="LGIOLITO", away_pitcher_hand="R")
    retro = _game(0, (9, 6), "retrosheet", outs=37, away_starter_id="gioll001")
    (merged,) = merge_history([sbr], [retro])
    assert (merged.away_score, merged.home_score, merged.score_source) == (9, 6, "retrosheet")
    assert (merged.away_close_ml, merged.away_pitcher, merged.away_pitcher_hand) == (
        185,
        "LGIOLITO",
        "R",
    )
    assert (merged.outs, merged.away_starter_id, merged.source_file) == (
        37,
        "gioll001",
        "mlb_odds_2019.csv",
    )


def test_merge_history_keeps_unmatched_games_from_both_sides() -> None:
    postseason = GameRecord(
        season=2019, game_date=date(2019, 10, 1), away_team="MIL", home_team="WSH", game_number=0,
        away_score=3, home_score=4, score_source="sbr", away_close_ml=110,
    )  # fmt: skip
    retro_only = _game(0, (2, 1), "retrosheet")
    merged = merge_history([postseason], [retro_only])
    assert merged == [retro_only, postseason]  # sorted by date


def test_merge_history_falls_back_to_order_when_scores_do_not_decide() -> None:
    # Both SBR games carry scores Retrosheet does not have: pair them in order.
    sbr = [_game(1, (1, 1), "sbr", away_close_ml=101), _game(2, (2, 2), "sbr", away_close_ml=102)]
    retro = [_game(1, (3, 1), "retrosheet"), _game(2, (4, 2), "retrosheet")]
    merged = merge_history(sbr, retro)
    assert [(g.game_number, g.away_score, g.away_close_ml) for g in merged] == [
        (1, 3, 101),
        (2, 4, 102),
    ]


def test_merge_history_leaves_the_unplayed_sbr_game_unmatched() -> None:
    # SBR lists two games, the first without a result; Retrosheet has the one game played.
    sbr = [_game(1, None, "sbr", away_close_ml=101), _game(2, (5, 4), "sbr", away_close_ml=102)]
    retro = [_game(0, (6, 4), "retrosheet")]
    merged = merge_history(sbr, retro)
    assert [(g.game_number, g.away_score, g.away_close_ml, g.score_source) for g in merged] == [
        (0, 6, 102, "retrosheet"),
        (1, None, 101, None),
    ]


def test_merge_history_renumbers_an_sbr_only_game_that_would_collide() -> None:
    # Retrosheet's game 1 is SBR's second game (by score); SBR's leftover game 1 must move.
    sbr = [_game(1, (0, 9), "sbr", away_close_ml=101), _game(2, (5, 4), "sbr", away_close_ml=102)]
    retro = [_game(1, (5, 4), "retrosheet")]
    merged = merge_history(sbr, retro)
    assert [(g.game_number, g.away_close_ml, g.score_source) for g in merged] == [
        (1, 102, "retrosheet"),
        (2, 101, "sbr"),
    ]
    assert len(set(_keys(merged))) == len(merged)


def test_merge_history_is_deterministic_and_sorted() -> None:
    sbr = _sbr(SBR_MIN_BAL_2019) + _sbr(SBR_TB_NYY_2019)
    retro = _retro(RETRO_TB_NYY_2019) + _retro(RETRO_MIN_BAL_2019)
    merged = merge_history(sbr, retro)
    assert merged == merge_history(list(reversed(sbr)), list(reversed(retro)))
    assert _keys(merged) == sorted(_keys(merged))


def test_read_season_files_reads_plain_and_gzip_files(tmp_path: Path) -> None:
    odds = tmp_path / "mlb_odds_2019.csv.gz"
    odds.write_bytes(gzip.compress((SBR_HEADER + SBR_MIN_BAL_2019).encode()))
    log = tmp_path / "GL2019.TXT"
    log.write_text(RETRO_MIN_BAL_2019)
    result = read_season_files(odds, log)
    assert [(g.game_number, g.away_score, g.source_file) for g in result.games] == [
        (1, 6, "mlb_odds_2019.csv.gz"),
        (2, 16, "mlb_odds_2019.csv.gz"),
    ]
    alone = read_season_files(odds, None)
    assert [g.score_source for g in alone.games] == ["sbr", "sbr"]


def test_read_season_files_rejects_a_game_log_of_another_season(tmp_path: Path) -> None:
    odds = tmp_path / "mlb_odds_2019.csv"
    odds.write_text(SBR_HEADER + SBR_MIN_BAL_2019)
    log = tmp_path / "GL2018.TXT"
    log.write_text(RETRO_MIN_BAL_2019)
    with pytest.raises(ValueError, match="GL2018.TXT"):
        read_season_files(odds, log)


# The data README's table: SBR games per season file.
README_GAMES = {
    2010: 2462, 2011: 2467, 2012: 2467, 2013: 2469, 2014: 2462, 2015: 2465, 2016: 2462,
    2017: 2467, 2018: 2464, 2019: 2464, 2020: 950,
}  # fmt: skip
RETROSHEET_SEASONS = (2011, 2015, 2016, 2019)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the repo")
def test_read_season_files_real_seasons_account_for_every_row() -> None:
    for season, expected_games in README_GAMES.items():
        odds = REPO_DATA / "odds" / f"mlb_odds_{season}.csv.gz"
        text = gzip.decompress(odds.read_bytes()).decode()
        # The bundled copy is the shared file, unchanged.
        assert text == (SHARED_DATA / "odds" / f"mlb_odds_{season}.csv").read_text(encoding="utf-8")
        data_lines = sum(1 for line in text.splitlines()[1:] if line.strip())

        log = REPO_DATA / "retrosheet" / f"GL{season}.TXT.gz"
        result = read_season_files(odds, log if season in RETROSHEET_SEASONS else None)
        sbr_games = [g for g in result.games if g.source_file == odds.name]
        dropped_rows = sum(
            len(q.raw["rows"])
            for q in result.quarantined
            if q.source == "sbr" and q.raw["action"] == ACTION_DROPPED_GAME
        )
        assert 2 * len(sbr_games) + dropped_rows == data_lines, season
        assert abs(len(sbr_games) - expected_games) <= 5, season
        keys = Counter(_keys(result.games))
        assert [k for k, n in keys.items() if n > 1] == [], season
        assert all(g.game_number in (0, 1, 2) for g in result.games), season
        assert all(g.away_team != g.home_team for g in result.games), season
        if season in RETROSHEET_SEASONS:
            assert (REPO_DATA / "retrosheet" / log.name).read_bytes() == (
                SHARED_DATA / "retrosheet" / log.name
            ).read_bytes()
            matched = [g for g in sbr_games if g.score_source == "retrosheet"]
            assert len(matched) >= 2426, season
