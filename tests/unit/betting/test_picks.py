"""The ledger's pure rules: stake sizing with caps, results, P&L, CLV, closing lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from bullpen.betting.picks import (
    ClosingLine,
    Pick,
    StakePolicy,
    closing_lines,
    closing_value,
    decide_result,
    profit_of,
    size_stake,
)

POLICY = StakePolicy(
    starting_bankroll=1000.0, kelly_multiplier=0.25, max_stake_fraction=0.02, max_day_exposure=0.2
)


def test_size_stake_is_fractional_kelly() -> None:
    # -110 pays 100/110: full Kelly 0.55 - 0.45 * 1.1 = 0.055; a quarter of it on 1000 is 13.75.
    assert size_stake(0.55, -110, 1000.0, 0.0, POLICY) == pytest.approx(13.75)


def test_size_stake_caps_each_bet() -> None:
    # +150 at 0.60: full Kelly 1/3, a quarter is 8.3 %, capped at 2 % of the bankroll.
    assert size_stake(0.60, 150, 1000.0, 0.0, POLICY) == pytest.approx(20.0)


def test_size_stake_caps_the_day() -> None:
    # The day may stake 20 % of 1000; 190 are staked already, so 10 is left.
    assert size_stake(0.60, 150, 1000.0, 190.0, POLICY) == pytest.approx(10.0)
    assert size_stake(0.60, 150, 1000.0, 200.0, POLICY) == 0.0
    assert size_stake(0.60, 150, 1000.0, 250.0, POLICY) == 0.0


def test_size_stake_without_edge_is_zero_and_rounds_down_to_cents() -> None:
    assert size_stake(0.45, -110, 1000.0, 0.0, POLICY) == 0.0
    # 0.01375 * 1000.4 = 13.7555: rounding down keeps the caps true.
    assert size_stake(0.55, -110, 1000.4, 0.0, POLICY) == 13.75


@pytest.mark.parametrize(
    ("side", "status", "home", "away", "expected"),
    [
        ("home", "final", 5, 3, "won"),
        ("away", "final", 5, 3, "lost"),
        ("away", "final", 2, 7, "won"),
        ("home", "final", 4, 4, "push"),
        ("home", "postponed", None, None, "void"),
        ("away", "suspended", 1, 1, "void"),
        ("home", "cancelled", None, None, "void"),
        ("home", "moved", None, None, "void"),
        ("home", "scheduled", None, None, None),
        ("home", "live", 2, 1, None),
        ("home", "final", None, None, None),
        ("home", "unknown", None, None, None),
    ],
)
def test_decide_result(
    side: str, status: str, home: int | None, away: int | None, expected: str | None
) -> None:
    decided = decide_result(side, status, home, away)
    assert (decided[0] if decided else None) == expected


def test_decide_result_says_why() -> None:
    assert decide_result("home", "moved", None, None) == ("void", "game moved to another date")
    assert decide_result("home", "final", 5, 3) == ("won", "final 3-5 (away-home)")


def test_profit_of_pays_the_american_price_exactly() -> None:
    assert profit_of("won", 20.0, 150) == pytest.approx(30.0)
    assert profit_of("won", 11.0, -110) == pytest.approx(10.0)
    assert profit_of("lost", 11.0, -110) == -11.0
    assert profit_of("push", 11.0, -110) == 0.0
    assert profit_of("void", 11.0, -110) == 0.0
    with pytest.raises(ValueError, match="not a settled state"):
        profit_of("open", 11.0, -110)


def test_closing_value_for_each_side() -> None:
    # Home at +120 (2.2) decided at 0.45, closing at 0.48: 3 points of CLV, EV 2.2*0.48-1.
    clv, ev = closing_value("home", 120, 0.45, 0.48)
    assert (clv, ev) == (pytest.approx(0.03), pytest.approx(0.056))
    # Away at +120 decided with home at 0.55 (away 0.45), home closing at 0.52 (away 0.48).
    clv, ev = closing_value("away", 120, 0.55, 0.52)
    assert (clv, ev) == (pytest.approx(0.03), pytest.approx(0.056))
    clv, _ = closing_value("away", 120, 0.55, 0.60)
    assert clv == pytest.approx(-0.05)


def test_closing_lines_take_the_close_phase_of_linked_games() -> None:
    consensus = pd.DataFrame(
        {
            "event_id": ["a", "a", "b"],
            "game_id": pd.array([7, 7, None], dtype="Int64"),
            "phase": ["open", "close", "close"],
            "fair_home": [0.55, 0.57, 0.5],
            "method": ["sharp:pinnacle", "median", "median"],
            "devig_method": ["shin", "shin", "shin"],
        }
    )
    assert closing_lines(consensus) == {7: ClosingLine(0.57, "median/shin")}


def pick(**overrides: object) -> Pick:
    values: dict[str, object] = {
        "game_id": 1,
        "side": "home",
        "book": "pinnacle",
        "price_american": -120,
        "quoted_at": datetime(2024, 6, 1, 22, tzinfo=UTC),
        "p_home": 0.6,
        "p_away": 0.4,
        "consensus_home": 0.53,
        "consensus_method": "sharp:pinnacle/shin",
        "model_version": "3",
        "strategy_version": "opener-v1",
        "reason": "edge 0.05",
    }
    return Pick(**{**values, **overrides})  # type: ignore[arg-type]


def test_pick_validates_its_values() -> None:
    assert pick().p_side == 0.6 and pick(side="away").p_side == 0.4
    assert pick(price_american=150).price_decimal == pytest.approx(2.5)
    with pytest.raises(ValueError, match="side"):
        pick(side="over")
    with pytest.raises(ValueError, match="American price"):
        pick(price_american=0)
    with pytest.raises(ValueError, match="p_home"):
        pick(p_home=1.2)


def test_stake_policy_validates() -> None:
    with pytest.raises(ValueError, match="starting_bankroll"):
        StakePolicy(starting_bankroll=0)
    with pytest.raises(ValueError, match="max_day_exposure"):
        StakePolicy(max_day_exposure=0)
