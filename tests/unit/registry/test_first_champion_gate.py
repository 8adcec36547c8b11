"""The first model (no champion yet) must pass the behaviour checks like any challenger.

Both places that can hand out the first `champion` alias are covered: `decide_promotion`
(retrain-models) and `decide_champion` (train-models, which the demo runs first). The whole
train-models path, `register_and_decide` against the real MLflow registry on Postgres, is in
tests/integration/test_first_champion_gate.py.
"""

from __future__ import annotations

from bullpen.registry.promotion import decide_champion, decide_promotion

FAILED = ["market_monotone: 12 of 300 games get a lower probability for a bigger favourite"]


def test_first_model_with_failed_checks_is_not_promoted_by_decide_promotion() -> None:
    decision = decide_promotion(None, FAILED)
    assert decision.promote is False
    assert decision.stage == "behaviour"
    assert decision.reason.startswith("behaviour checks failed: market_monotone")


def test_first_model_with_failed_checks_is_not_promoted_even_when_forced() -> None:
    decision = decide_promotion(None, FAILED, force=True)
    assert decision.promote is False and decision.forced is False


def test_first_model_that_passes_is_promoted_and_force_is_recorded() -> None:
    assert decide_promotion(None, []).stage == "first"
    assert decide_promotion(None, [], force=True).forced is True


def test_decide_champion_refuses_a_first_model_with_failed_checks() -> None:
    decision = decide_champion(0.60, None, failed_checks=FAILED)
    assert decision.promote is False
    assert decision.reason.startswith("behaviour checks failed")
    assert decide_champion(0.60, None, failed_checks=[]).promote is True


def test_decide_champion_refuses_a_better_model_with_failed_checks() -> None:
    assert decide_champion(0.60, 0.70, failed_checks=FAILED).promote is False
