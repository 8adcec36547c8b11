"""Turn drift and performance numbers into a verdict ("ok" or "retrain") with reasons; pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from bullpen.drift.performance import Performance
from bullpen.drift.report import DriftResult


@dataclass(frozen=True)
class DriftThresholds:
    # Retrain when the share of drifted features is strictly above this. Evidently's dataset rule
    # with the same default (drift_share=0.5) is `share >= drift_share`: at exactly half the
    # features drifted (16 of 32) Evidently reports dataset drift and bullpen does not retrain.
    # Kept strict on purpose: "most features moved" is the trigger, half is not most.
    max_drift_share: float = 0.5
    max_relative_degradation: float = 0.05  # champion log loss vs closing line, relative
    # Log loss the gap to the closing line may grow over the reference gap before the bootstrap
    # bound fires: two halves of one season differ by ~0.005 by chance alone.
    max_gap_increase: float = 0.005
    min_settled_games: int = 100  # fewer settled games: performance is not judged


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "ok" | "retrain"
    reasons: list[str] = field(default_factory=list)

    @property
    def retrain(self) -> bool:
        return self.verdict == "retrain"


def drift_verdict(
    drift: DriftResult,
    performance: Performance | None,
    *,
    reference_gap: float | None = None,
    thresholds: DriftThresholds = DriftThresholds(),
) -> Verdict:
    """ "retrain" when any of: more than `max_drift_share` of the features drifted (strictly
    more; Evidently's own dataset verdict, `drift.dataset.detected`, uses >=), drifted
    predictions, or degraded performance (log loss > 5% worse than the market's benchmark, the
    closing line or for the closing-line model the opening line, relatively, or the bootstrap CI
    of the per-game gap to it lies entirely above
    `reference_gap` + max_gap_increase, where `reference_gap` is the champion's gap on its
    reference games).
    """
    t = thresholds
    reasons: list[str] = []
    if drift.features and drift.drift_share > t.max_drift_share:
        reasons.append(
            f"feature drift: {drift.n_drifted}/{len(drift.features)} features drifted "
            f"({drift.drift_share:.0%} > {t.max_drift_share:.0%})"
        )
    if drift.prediction is not None and drift.prediction.drifted:
        reasons.append(
            f"prediction drift: {drift.prediction.method} {drift.prediction.value:.2g} "
            f"< {drift.prediction.threshold:g}"
        )
    if performance is not None and performance.n >= t.min_settled_games:
        if performance.relative_gap > t.max_relative_degradation:
            reasons.append(
                f"performance: log loss {performance.model_log_loss:.4f} is "
                f"{performance.relative_gap:.1%} worse than {performance.benchmark} "
                f"{performance.close_log_loss:.4f} (> {t.max_relative_degradation:.0%})"
            )
        elif (
            reference_gap is not None
            and performance.interval.lower > reference_gap + t.max_gap_increase
        ):
            reasons.append(
                f"performance: gap to {performance.benchmark} {performance.interval.describe()} "
                f"is above the reference gap {reference_gap:+.5f} + {t.max_gap_increase:g}"
            )
    return Verdict("retrain" if reasons else "ok", reasons)
