"""The promotion and rollback rules, pure: a challenger takes `champion` only when it passes the
behaviour checks and is better at the bootstrap interval's confidence (or there is no champion
yet); a champion is rolled back only when it is significantly worse than previous-champion."""

from __future__ import annotations

from dataclasses import dataclass

from bullpen.registry.bootstrap import BootstrapInterval


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    forced: bool
    stage: str  # the gate that decided: "behaviour", "bootstrap" or "first" (no champion yet)
    reason: str


def decide_promotion(
    interval: BootstrapInterval | None,
    failed_checks: list[str],
    *,
    force: bool = False,
    identical: bool = False,
) -> PromotionDecision:
    """Promote only when the challenger is better at the interval's confidence.

    `interval` is the bootstrap CI of mean(challenger - champion) per-game log loss on the same
    games (None: there is no champion). `identical`: the challenger is the champion's own
    version (same training fingerprint), so there is nothing to promote. Behaviour checks are
    never overridden, not even by `force`: a model that gives a bigger favourite a lower
    probability must not take bets.
    """
    if identical:
        return PromotionDecision(False, False, "identical", "challenger is the champion's version")
    if failed_checks:
        return PromotionDecision(
            False, False, "behaviour", "behaviour checks failed: " + "; ".join(failed_checks)
        )
    if interval is None:
        return PromotionDecision(True, force, "first", "no champion yet")
    better = interval.upper < 0.0
    if better:
        return PromotionDecision(
            True, False, "bootstrap", f"challenger better than champion: {interval.describe()}"
        )
    if force:
        return PromotionDecision(
            True, True, "bootstrap", f"forced although not better: {interval.describe()}"
        )
    return PromotionDecision(
        False,
        False,
        "bootstrap",
        f"challenger not better at {interval.confidence:.0%} (CI upper bound >= 0): "
        f"{interval.describe()}",
    )


@dataclass(frozen=True)
class RollbackDecision:
    rollback: bool  # move champion back to previous-champion
    reason: str


def decide_rollback(interval: BootstrapInterval, min_games: int = 100) -> RollbackDecision:
    """Roll back when the champion is worse than previous-champion at the CI's confidence.

    `interval` is the CI of mean(champion - previous champion) on the settled games since the
    promotion.
    """
    if interval.n < min_games:
        return RollbackDecision(False, f"only {interval.n} settled games (< {min_games}): wait")
    if interval.lower > 0.0:
        return RollbackDecision(
            True,
            f"champion worse than previous-champion on live games: {interval.describe()}",
        )
    return RollbackDecision(False, f"champion not significantly worse: {interval.describe()}")
