"""Promotion and rollback decisions (pure): confidence, behaviour checks, force."""

from __future__ import annotations

from bullpen.registry.bootstrap import BootstrapInterval
from bullpen.registry.promotion import decide_promotion, decide_rollback


def _ci(lower: float, upper: float, n: int = 2000) -> BootstrapInterval:
    return BootstrapInterval((lower + upper) / 2, lower, upper, 0.95, n, 2000)


def test_decide_promotion_promotes_only_when_ci_is_below_zero() -> None:
    assert decide_promotion(_ci(-0.004, -0.001), []).promote is True
    rejected = decide_promotion(_ci(-0.004, 0.0005), [])
    assert rejected.promote is False
    assert "not better at 95%" in rejected.reason and "+0.00050" in rejected.reason


def test_decide_promotion_force_is_recorded() -> None:
    decision = decide_promotion(_ci(0.01, 0.02), [], force=True)
    assert decision.promote and decision.forced
    assert "forced" in decision.reason
    # A challenger that is better anyway is not "forced".
    assert decide_promotion(_ci(-0.02, -0.01), [], force=True).forced is False


def test_decide_promotion_behaviour_failure_beats_force() -> None:
    decision = decide_promotion(_ci(-0.02, -0.01), ["market_monotone: 3 games"], force=True)
    assert decision.promote is False and decision.stage == "behaviour"
    assert "market_monotone" in decision.reason


def test_decide_promotion_first_model_and_identical_version() -> None:
    assert decide_promotion(None, []).promote is True
    assert decide_promotion(None, [], identical=True).promote is False


def test_decide_rollback_needs_significance_and_volume() -> None:
    assert decide_rollback(_ci(0.001, 0.01)).rollback is True
    assert decide_rollback(_ci(-0.001, 0.01)).rollback is False
    assert decide_rollback(_ci(0.001, 0.01, n=50), min_games=100).rollback is False
