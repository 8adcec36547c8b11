"""Retrosheet plays: golden events (outs, runs, bases), unreadable events, pitch counts."""

from __future__ import annotations

import pytest

from bullpen.collect.history.events.plays import EventError, apply_play, count_pitches, parse_event
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
