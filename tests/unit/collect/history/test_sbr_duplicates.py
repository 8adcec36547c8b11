"""An SBR pair repeated cell for cell is quarantined, not counted as another game of the day."""

from __future__ import annotations

import gzip

import pytest

from bullpen.collect.history.sbr import parse_sbr_file
from tests.conftest import DATA


def _text(season: int) -> str:
    return gzip.decompress((DATA / "odds" / f"mlb_odds_{season}.csv.gz").read_bytes()).decode()


@pytest.mark.parametrize("season", range(2010, 2021))
def test_bundled_seasons_hold_no_exact_duplicate_pair(season: int) -> None:
    parsed = parse_sbr_file(_text(season), season, f"mlb_odds_{season}.csv")
    assert not [q for q in parsed.quarantined if "exact duplicate" in q.reason]


def test_a_pair_listed_again_is_quarantined_and_the_day_keeps_its_games() -> None:
    lines = _text(2019).splitlines()
    header, rows = lines[0], lines[1:]
    original = parse_sbr_file("\n".join([header, *rows]) + "\n", 2019, "f.csv")
    # The first game (file lines 2-3) listed three more times, as a forged file might.
    forged = [header, *rows[:2], *rows[:2], *rows[:2], *rows[:2], *rows[2:]]
    parsed = parse_sbr_file("\n".join(forged) + "\n", 2019, "f.csv")

    assert len(parsed.games) == len(original.games)
    duplicates = [q for q in parsed.quarantined if "exact duplicate" in q.reason]
    assert [(q.row, q.reason) for q in duplicates] == [
        (line, "exact duplicate of the pair at line 2") for line in (4, 6, 8)
    ]
    first = original.games[0]
    same_day = [
        g
        for g in parsed.games
        if (g.game_date, g.away_team, g.home_team)
        == (first.game_date, first.away_team, first.home_team)
    ]
    assert [g.game_number for g in same_day] == [0]
