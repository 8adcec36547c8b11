"""Champion rule: a version takes `champion` only if there is none or it wins on the same games."""

from __future__ import annotations

from dataclasses import dataclass

from bullpen.registry.bootstrap import BootstrapInterval


@dataclass(frozen=True)
class ChampionDecision:
    promote: bool
    reason: str
    challenger_log_loss: float
    champion_log_loss: float | None


def decide_champion(
    challenger_log_loss: float,
    champion_log_loss: float | None,
    min_improvement: float = 0.0,
    failed_checks: list[str] | None = None,
) -> ChampionDecision:
    """Both log losses must come from the same evaluation games.

    Ties keep the current champion, so rerunning an identical training never moves the alias.
    Failed behaviour checks refuse the alias before anything else, also when there is no
    champion yet: the first model would otherwise take bets unchecked.
    """
    if failed_checks:
        return ChampionDecision(
            False,
            "behaviour checks failed: " + "; ".join(failed_checks),
            challenger_log_loss,
            champion_log_loss,
        )
    if champion_log_loss is None:
        return ChampionDecision(True, "no champion yet", challenger_log_loss, None)
    gain = champion_log_loss - challenger_log_loss
    if gain > min_improvement:
        return ChampionDecision(
            True,
            f"log loss {challenger_log_loss:.5f} beats champion {champion_log_loss:.5f}",
            challenger_log_loss,
            champion_log_loss,
        )
    return ChampionDecision(
        False,
        f"log loss {challenger_log_loss:.5f} does not beat champion {champion_log_loss:.5f}",
        challenger_log_loss,
        champion_log_loss,
    )


# -- champion/challenger with statistical confidence (retrain-models, monitor-champion) --------


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


def decide_rollback(interval: BootstrapInterval, min_games: int = 100) -> PromotionDecision:
    """Roll back when the champion is worse than previous-champion at the CI's confidence.

    `interval` is the CI of mean(champion - previous champion) on the settled games since the
    promotion; `promote=True` here means "move the alias back".
    """
    if interval.n < min_games:
        return PromotionDecision(
            False, False, "monitor", f"only {interval.n} settled games (< {min_games}): wait"
        )
    if interval.lower > 0.0:
        return PromotionDecision(
            True,
            False,
            "monitor",
            f"champion worse than previous-champion on live games: {interval.describe()}",
        )
    return PromotionDecision(
        False, False, "monitor", f"champion not significantly worse: {interval.describe()}"
    )
