"""The first model (no champion yet) must pass the behaviour checks like any challenger.

`decide_promotion` is the one rule for every champion, first or not, in train-models (which the
demo runs first) and retrain-models. The whole train-models path, `register_and_decide` against
the real MLflow registry on Postgres, is in tests/integration/test_first_champion_gate.py.
"""

from __future__ import annotations

from bullpen.registry.promotion import decide_promotion

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
