"""Game lines from snapshot rows: open/close/now, vig-free, consensus, best price, exclusions.

The snapshot rows are test inputs written out explicitly in the shape `odds_snapshots` stores
(one book's two American h2h prices at its last_update); the expected numbers are worked by hand
from the prices, not read back from the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from bullpen.market.lines import LineSettings, best_prices, build_lines

COMMENCE = datetime(2024, 6, 1, 23, 5, tzinfo=UTC)


def t(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, 1, hour, minute, tzinfo=UTC)


def snaps(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [(r[0], COMMENCE, *r[1:]) for r in rows],
        columns=[
            "event_id",
            "commence_time",
            "book",
            "last_update",
            "home_american",
            "away_american",
        ],
    )


def shin_two_way(home: int, away: int) -> float:
    # Two-outcome Shin equals the additive method: p = pi_home - (overround / 2).
    def implied(price: int) -> float:
        return 100 / (price + 100) if price > 0 else -price / (-price + 100)

    return 0.5 * (1 + implied(home) - implied(away))


MARKET = snaps(
    ("e1", "pinnacle", t(12), -130, 120),
    ("e1", "pinnacle", t(22, 50), -140, 128),
    ("e1", "draftkings", t(13), -135, 114),
    ("e1", "draftkings", t(22, 55), -145, 122),
    ("e1", "fanduel", t(14), -138, 118),
    ("e1", "fanduel", t(22, 45), -142, 130),
)


def book(lines: pd.DataFrame, name: str) -> pd.Series:
    return lines.set_index("book").loc[name]


def test_build_lines_open_close_now_per_book() -> None:
    lines = build_lines(MARKET, t(23, 0))
    pin = book(lines.books, "pinnacle")
    assert (pin["open_home"], pin["open_away"], pin["open_time"]) == (-130, 120, t(12))
    assert (pin["close_home"], pin["close_away"], pin["close_time"]) == (-140, 128, t(22, 50))
    assert (pin["now_home"], pin["now_away"]) == (-140, 128)
    assert pin["open_fair_home"] == pytest.approx(shin_two_way(-130, 120), abs=1e-12)
    # -140 implies 140/240 = 0.58333, +128 implies 100/228 = 0.43860: fair home 0.572368.
    assert pin["close_fair_home"] == pytest.approx(0.5723684, abs=1e-7)
    assert not lines.events["started"].iloc[0]


def test_build_lines_reads_as_of_now_and_close_stops_at_first_pitch() -> None:
    in_play = snaps(("e1", "pinnacle", t(23, 30), -250, 200))
    market = pd.concat([MARKET, in_play], ignore_index=True)
    early = build_lines(market, t(13, 30), LineSettings(max_age=timedelta(hours=2)))
    pin = book(early.books, "pinnacle")
    # At 13:30 the 22:50 and later quotes do not exist yet.
    assert (pin["close_home"], pin["now_home"]) == (-130, -130)
    # With the default 30-minute age limit the 12:00 quote is stale at 13:30.
    assert pd.isna(book(build_lines(market, t(13, 30)).books, "pinnacle")["now_home"])
    assert "fanduel" not in set(early.books["book"])

    late = build_lines(market, t(23, 40))
    pin = book(late.books, "pinnacle")
    # The in-play quote after first pitch is now, but never the close.
    assert (pin["close_home"], pin["close_away"]) == (-140, 128)
    assert (pin["now_home"], pin["now_away"]) == (-250, 200)
    assert late.events["started"].iloc[0]
    # A started game is not shopped: no best price, so no pick can follow.
    assert late.best.empty and not early.best.empty


def test_consensus_prefers_the_sharp_book_and_records_it() -> None:
    lines = build_lines(MARKET, t(23, 0))
    close = lines.consensus.set_index("phase").loc["close"]
    assert close["method"] == "sharp:pinnacle"
    assert close["fair_home"] == pytest.approx(shin_two_way(-140, 128), abs=1e-12)
    assert close["n_books"] == 3
    assert close["devig_method"] == "shin"


def test_consensus_without_a_sharp_book_is_the_median_of_books() -> None:
    lines = build_lines(MARKET[MARKET["book"] != "pinnacle"], t(23, 0))
    close = lines.consensus.set_index("phase").loc["close"]
    assert close["method"] == "median"
    # Two books: the median is the mean of their vig-free probabilities.
    expected = (shin_two_way(-145, 122) + shin_two_way(-142, 130)) / 2
    assert close["fair_home"] == pytest.approx(expected, abs=1e-12)

    three = build_lines(MARKET, t(23, 0), LineSettings(sharp_books=()))
    fair = sorted(shin_two_way(h, a) for h, a in ((-140, 128), (-145, 122), (-142, 130)))
    assert three.consensus.set_index("phase").loc["close", "fair_home"] == pytest.approx(fair[1])


def test_consensus_uses_the_named_devig_method() -> None:
    lines = build_lines(MARKET, t(23, 0), LineSettings(devig_method="proportional"))
    close = lines.consensus.set_index("phase").loc["close"]
    home, away = 140 / 240, 100 / 228
    assert close["fair_home"] == pytest.approx(home / (home + away), abs=1e-12)
    assert close["devig_method"] == "proportional"


def test_best_prices_shop_each_side_across_books() -> None:
    lines = build_lines(MARKET, t(23, 0))
    best = lines.best.set_index("side")
    # Home: -140 (pinnacle) beats -142 and -145. Away: +130 (fanduel) beats +128 and +122.
    assert (best.loc["home", "book"], best.loc["home", "price_american"]) == ("pinnacle", -140)
    assert (best.loc["away", "book"], best.loc["away", "price_american"]) == ("fanduel", 130)
    assert best.loc["away", "price_decimal"] == pytest.approx(2.30)
    assert best.loc["home", "n_books"] == 3


def test_best_prices_break_ties_by_book_name() -> None:
    tied = snaps(
        ("e1", "williamhill_us", t(22), -120, 110),
        ("e1", "betmgm", t(22), -120, 105),
    )
    best = best_prices(build_lines(tied, t(22, 10)).books).set_index("side")
    assert best.loc["home", "book"] == "betmgm"
    assert best.loc["away", "book"] == "williamhill_us"


@pytest.mark.parametrize(
    ("home", "away", "reason"),
    [
        (-130, None, "one-sided: quotes only home"),
        (None, 120, "one-sided: quotes only away"),
        (0, 120, "impossible price: home 0, away 120"),
        (-130, -50, "impossible price: home -130, away -50"),
    ],
)
def test_bad_quotes_are_excluded_with_a_reason(
    home: int | None, away: int | None, reason: str
) -> None:
    market = pd.concat([MARKET, snaps(("e1", "draftkings", t(22, 58), home, away))])
    lines = build_lines(market, t(23, 0))
    excluded = lines.excluded[lines.excluded["book"] == "draftkings"]
    assert set(excluded["phase"]) == {"snapshot", "close", "now"}
    assert excluded["reason"].str.contains(reason, regex=False).all()
    dk = book(lines.books, "draftkings")
    # The book's latest quote is bad: no fallback to the older price it no longer offers.
    assert pd.isna(dk["close_home"]) and pd.isna(dk["now_home"])
    assert dk["open_home"] == -135
    assert lines.consensus.set_index("phase").loc["now", "n_books"] == 2
    assert "draftkings" not in set(lines.best["book"])


def test_stale_books_leave_now_but_keep_open_and_close() -> None:
    lines = build_lines(MARKET, t(23, 0), LineSettings(max_age=timedelta(minutes=12)))
    # fanduel's last update (22:45) is 15 minutes old at 23:00.
    stale = lines.excluded[lines.excluded["phase"] == "now"]
    assert list(stale["book"]) == ["fanduel"]
    assert stale["reason"].iloc[0] == "stale: last update 15.0 min before now (max 12)"
    fd = book(lines.books, "fanduel")
    assert pd.isna(fd["now_home"]) and fd["close_home"] == -142
    assert lines.best.set_index("side").loc["away", "book"] == "pinnacle"


def test_game_id_is_carried_when_present() -> None:
    market = MARKET.assign(game_id=42)
    lines = build_lines(market, t(23, 0))
    assert set(lines.books["game_id"]) == {42}
    assert set(lines.consensus["game_id"]) == {42}
    assert set(lines.best["game_id"]) == {42}


def test_build_lines_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="missing columns"):
        build_lines(MARKET.drop(columns="book"), t(23))
    with pytest.raises(ValueError, match="timezone"):
        build_lines(MARKET, datetime(2024, 6, 1, 23))
    with pytest.raises(ValueError, match="max_age"):
        LineSettings(max_age=timedelta(0))
