"""drift_verdict exactly at each threshold (binary fractions, so the boundary is exact)."""

from __future__ import annotations

from bullpen.drift.performance import Performance
from bullpen.drift.policy import DriftThresholds, drift_verdict
from bullpen.drift.report import ColumnDrift, DriftResult
from bullpen.registry.bootstrap import BootstrapInterval

NO_DRIFT = DriftResult(
    [ColumnDrift("f0", "K-S p_value", 0.05, 0.5, False)],
    ColumnDrift("prediction", "ks", 0.001, 0.5, False),
    1000,
    500,
)
# relative gap (0.5625 - 0.5) / 0.5 = 0.125 exactly; interval lower bound 0.25 exactly.
THRESHOLDS = DriftThresholds(
    max_relative_degradation=0.125, max_gap_increase=0.125, min_settled_games=100
)


def _perf(n: int = 100, model: float = 0.5625, lower: float = 0.0) -> Performance:
    return Performance(n, model, 0.5, BootstrapInterval(model - 0.5, lower, 0.3, 0.95, n, 1))


def test_performance_is_judged_from_exactly_min_settled_games() -> None:
    judged = drift_verdict(NO_DRIFT, _perf(n=100, model=0.625), thresholds=THRESHOLDS)
    assert judged.retrain
    assert judged.reasons == [
        "performance: log loss 0.6250 is 25.0% worse than the closing line 0.5000 (> 12%)"
    ]
    assert not drift_verdict(NO_DRIFT, _perf(n=99, model=0.625), thresholds=THRESHOLDS).retrain


def test_relative_degradation_exactly_at_the_limit_is_not_a_retrain() -> None:
    assert not drift_verdict(NO_DRIFT, _perf(model=0.5625), thresholds=THRESHOLDS).retrain
    assert drift_verdict(NO_DRIFT, _perf(model=0.5625 + 1e-9), thresholds=THRESHOLDS).retrain


def test_bootstrap_bound_exactly_at_reference_plus_increase_is_not_a_retrain() -> None:
    at = drift_verdict(NO_DRIFT, _perf(lower=0.25), reference_gap=0.125, thresholds=THRESHOLDS)
    assert not at.retrain
    above = drift_verdict(
        NO_DRIFT, _perf(lower=0.25 + 1e-9), reference_gap=0.125, thresholds=THRESHOLDS
    )
    assert above.retrain and above.reasons[0].startswith("performance: gap to the closing line")
    assert above.reasons[0].endswith("is above the reference gap +0.12500 + 0.125")


def test_no_reference_gap_means_no_bootstrap_reason() -> None:
    verdict = drift_verdict(NO_DRIFT, _perf(lower=0.29), reference_gap=None, thresholds=THRESHOLDS)
    assert verdict.verdict == "ok" and verdict.reasons == []


def test_prediction_drift_reason_text() -> None:
    drift = DriftResult(NO_DRIFT.features, ColumnDrift("prediction", "ks", 0.001, 1e-6, True), 1, 1)
    assert drift_verdict(drift, None).reasons == ["prediction drift: ks 1e-06 < 0.001"]


def test_without_features_there_is_no_feature_reason() -> None:
    empty = DriftResult([], None, 0, 0)
    negative = DriftThresholds(max_drift_share=-1.0)
    assert drift_verdict(empty, None, thresholds=negative).reasons == []
