"""The champion rule: no champion yet, or strictly better on the same games."""

from __future__ import annotations

from bullpen.registry.promotion import decide_champion


def test_decide_champion_promotes_when_no_champion() -> None:
    decision = decide_champion(0.68, None)
    assert decision.promote and decision.reason == "no champion yet"


def test_decide_champion_promotes_strictly_better() -> None:
    assert decide_champion(0.675, 0.676).promote


def test_decide_champion_rejects_worse_log_loss() -> None:
    decision = decide_champion(0.690, 0.676)
    assert not decision.promote
    assert "does not beat champion" in decision.reason


def test_decide_champion_keeps_champion_on_tie() -> None:
    assert not decide_champion(0.676, 0.676).promote


def test_decide_champion_requires_min_improvement() -> None:
    assert not decide_champion(0.6755, 0.676, min_improvement=0.001).promote
    assert decide_champion(0.674, 0.676, min_improvement=0.001).promote
