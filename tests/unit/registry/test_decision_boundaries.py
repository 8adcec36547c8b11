"""Each comparison in the promotion and rollback rules, exactly at its boundary."""

from __future__ import annotations

import pytest

from bullpen.registry.bootstrap import BootstrapInterval
from bullpen.registry.promotion import (
    PromotionDecision,
    RollbackDecision,
    decide_promotion,
    decide_rollback,
)


def _ci(lower: float, upper: float, n: int = 2000) -> BootstrapInterval:
    return BootstrapInterval((lower + upper) / 2, lower, upper, 0.95, n, 2000)


def test_promotion_needs_the_upper_bound_strictly_below_zero() -> None:
    # upper == 0: the challenger may be exactly as good as the champion, not better.
    at_zero = decide_promotion(_ci(-0.004, 0.0), [])
    assert at_zero.promote is False and at_zero.stage == "bootstrap"
    assert "CI upper bound >= 0" in at_zero.reason
    assert decide_promotion(_ci(-0.004, -1e-12), []).promote is True


def test_forcing_a_challenger_at_the_boundary_is_recorded_as_forced() -> None:
    decision = decide_promotion(_ci(-0.004, 0.0), [], force=True)
    assert decision.promote is True and decision.forced is True
    assert decision.reason.startswith("forced although not better")


def test_identical_version_beats_everything_else() -> None:
    decision = decide_promotion(_ci(-0.02, -0.01), ["market_monotone: 1 game"], identical=True)
    assert (decision.promote, decision.stage) == (False, "identical")


@pytest.mark.parametrize(
    ("n", "min_games", "judged"),
    [(99, 100, False), (100, 100, True), (101, 100, True), (0, 0, True)],
)
def test_rollback_waits_for_exactly_min_games(n: int, min_games: int, judged: bool) -> None:
    decision = decide_rollback(_ci(0.001, 0.01, n=n), min_games=min_games)
    assert decision.rollback is judged
    assert decision.reason.endswith(": wait") is not judged


def test_rollback_needs_the_lower_bound_strictly_above_zero() -> None:
    at_zero = decide_rollback(_ci(0.0, 0.01))
    assert at_zero.rollback is False
    assert at_zero.reason.startswith("champion not significantly worse")
    assert decide_rollback(_ci(1e-12, 0.01)).rollback is True


def test_rollback_default_min_games_is_100() -> None:
    assert decide_rollback(_ci(0.001, 0.01, n=99)).rollback is False
    assert decide_rollback(_ci(0.001, 0.01, n=100)).rollback is True


# -- every branch returns exactly this decision (the audit row stores stage, forced and reason) --
CI_BETTER = _ci(-0.004, -0.001)
CI_TIED = _ci(-0.004, 0.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((CI_BETTER, []), {"identical": True},
         PromotionDecision(False, False, "identical", "challenger is the champion's version")),
        ((CI_BETTER, ["a: 1", "b: 2"]), {"force": True},
         PromotionDecision(False, False, "behaviour", "behaviour checks failed: a: 1; b: 2")),
        ((None, []), {}, PromotionDecision(True, False, "first", "no champion yet")),
        ((None, []), {"force": True}, PromotionDecision(True, True, "first", "no champion yet")),
        ((CI_BETTER, []), {"force": True},
         PromotionDecision(True, False, "bootstrap",
                           f"challenger better than champion: {CI_BETTER.describe()}")),
        ((CI_TIED, []), {"force": True},
         PromotionDecision(True, True, "bootstrap",
                           f"forced although not better: {CI_TIED.describe()}")),
        ((CI_TIED, []), {},
         PromotionDecision(False, False, "bootstrap",
                           f"challenger not better at 95% (CI upper bound >= 0): "
                           f"{CI_TIED.describe()}")),
    ],
)  # fmt: skip
def test_decide_promotion_returns_exactly(
    args: tuple, kwargs: dict, expected: PromotionDecision
) -> None:
    assert decide_promotion(*args, **kwargs) == expected


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (_ci(0.001, 0.01, n=99),
         RollbackDecision(False, "only 99 settled games (< 100): wait")),
        (_ci(0.001, 0.01),
         RollbackDecision(True,
                          "champion worse than previous-champion on live games: "
                          + _ci(0.001, 0.01).describe())),
        (_ci(-0.001, 0.01),
         RollbackDecision(False,
                          "champion not significantly worse: " + _ci(-0.001, 0.01).describe())),
    ],
)  # fmt: skip
def test_decide_rollback_returns_exactly(
    interval: BootstrapInterval, expected: RollbackDecision
) -> None:
    assert decide_rollback(interval) == expected
