"""A season of play-by-play: tarball members (corrupt, repeated games, truncation), the data
README's 2019 totals, outs and runs against the game logs, games missing from the game log."""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from bullpen.collect.history.events.rows import EventParse
from bullpen.collect.history.events.season import (
    quarantine_missing_games,
    read_event_season,
    read_gamelog_keys,
    reconcile_with_gamelog,
)
from tests.conftest import DATA
from tests.unit.collect.history.events.test_event_parse import GAME

EVENTS = DATA / "retrosheet" / "events"


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
