"""drift_verdict (pure): each reason on its own, and "ok" when nothing is wrong."""

from __future__ import annotations

import pytest

from bullpen.drift.performance import Performance, measure_performance
from bullpen.drift.policy import DriftThresholds, drift_verdict
from bullpen.drift.report import ColumnDrift, DriftResult, parse_value_drift
from bullpen.registry.bootstrap import BootstrapInterval


def _drift(n_drifted: int, n: int = 10, prediction_p: float = 0.5) -> DriftResult:
    features = [
        ColumnDrift(f"f{i}", "Wasserstein distance (normed)", 0.1, 0.2 if i < n_drifted else 0.01,
                    i < n_drifted)
        for i in range(n)
    ]  # fmt: skip
    prediction = ColumnDrift("prediction", "ks", 0.001, prediction_p, prediction_p < 0.001)
    return DriftResult(features, prediction, 1000, 500)


def _perf(model: float, close: float, lower: float, upper: float, n: int = 500) -> Performance:
    return Performance(n, model, close, BootstrapInterval(model - close, lower, upper, 0.95, n, 1))


def test_drift_verdict_ok_when_nothing_moved() -> None:
    verdict = drift_verdict(_drift(1), _perf(0.665, 0.664, -0.002, 0.004), reference_gap=0.001)
    assert verdict.verdict == "ok" and verdict.reasons == []


def test_drift_verdict_retrains_on_feature_share() -> None:
    verdict = drift_verdict(_drift(6), None)
    assert verdict.retrain
    assert verdict.reasons == ["feature drift: 6/10 features drifted (60% > 50%)"]
    assert not drift_verdict(_drift(5), None).retrain  # exactly the threshold is not above it


def test_drift_verdict_retrains_on_prediction_drift() -> None:
    verdict = drift_verdict(_drift(0, prediction_p=1e-6), None)
    assert verdict.retrain and verdict.reasons[0].startswith("prediction drift")


def test_drift_verdict_retrains_on_relative_degradation() -> None:
    verdict = drift_verdict(_drift(0), _perf(0.70, 0.66, 0.03, 0.05))
    assert verdict.retrain and "6.1% worse than the closing line" in verdict.reasons[0]


def test_drift_verdict_retrains_beyond_the_bootstrap_bound() -> None:
    # 3% worse (under 5%) but the whole CI lies above the champion's reference gap.
    verdict = drift_verdict(_drift(0), _perf(0.68, 0.66, 0.012, 0.028), reference_gap=0.002)
    assert verdict.retrain and "above the reference gap" in verdict.reasons[0]
    assert not drift_verdict(_drift(0), _perf(0.68, 0.66, 0.006, 0.03), reference_gap=0.002).retrain


def test_drift_verdict_ignores_performance_on_few_games() -> None:
    thresholds = DriftThresholds(min_settled_games=100)
    assert not drift_verdict(
        _drift(0), _perf(0.9, 0.66, 0.2, 0.3, n=20), thresholds=thresholds
    ).retrain


def test_measure_performance_scores_model_and_close_on_the_same_settled_games() -> None:
    y = [1.0, 0.0, 1.0, float("nan")]
    perf = measure_performance(y, [0.6, 0.4, 0.7, 0.5], [0.5, 0.5, 0.5, 0.5], n_boot=50)
    assert perf is not None and perf.n == 3
    assert perf.model_log_loss < perf.close_log_loss and perf.relative_gap < 0
    assert measure_performance([float("nan")], [0.5], [0.5]) is None


def test_parse_value_drift_reads_only_value_drift_metrics() -> None:
    snapshot = {
        "metrics": [
            {"config": {"type": "evidently:metric_v2:DriftedColumnsCount"}, "value": {"n": 1}},
            {
                "id": "m1",
                "config": {"type": "evidently:metric_v2:ValueDrift", "column": "elo_diff",
                           "method": "Wasserstein distance (normed)", "threshold": 0.1},
                "value": 0.42,
            },
        ],
        "tests": [{"id": "drift", "metric_config": {"metric_id": "m1"}, "status": "FAIL"}],
    }  # fmt: skip
    parsed = parse_value_drift(snapshot)
    assert list(parsed) == ["elo_diff"] and parsed["elo_diff"].drifted


def test_parse_value_drift_takes_the_verdict_from_evidentlys_test_not_the_value() -> None:
    # A distance far above its threshold whose test passed is not drift: Evidently decides.
    snapshot = {
        "metrics": [
            {"id": "m1", "value": 0.42,
             "config": {"type": "evidently:metric_v2:ValueDrift", "column": "elo_diff",
                        "method": "Wasserstein distance (normed)", "threshold": 0.1}},
        ],
        "tests": [{"id": "drift", "metric_config": {"metric_id": "m1"}, "status": "SUCCESS"}],
    }  # fmt: skip
    assert parse_value_drift(snapshot)["elo_diff"].drifted is False


def test_parse_value_drift_refuses_a_snapshot_without_tests() -> None:
    snapshot = {
        "metrics": [
            {"id": "m1", "value": 0.42,
             "config": {"type": "evidently:metric_v2:ValueDrift", "column": "elo_diff",
                        "method": "Wasserstein distance (normed)", "threshold": 0.1}},
        ]
    }  # fmt: skip
    with pytest.raises(ValueError, match="include_tests"):
        parse_value_drift(snapshot)


def test_exactly_half_drifted_is_evidentlys_dataset_drift_but_not_a_retrain() -> None:
    """The documented difference: Evidently flags share >= 0.5, bullpen retrains on > 0.5."""
    from bullpen.drift.report import DatasetDrift

    half = _drift(5)
    evidently = DriftResult(
        half.features, half.prediction, 1000, 500, DatasetDrift(5, 0.5, 0.5, detected=True)
    )
    assert evidently.n_drifted == 5 and evidently.drift_share == 0.5
    assert drift_verdict(evidently, None).verdict == "ok"
    assert drift_verdict(_drift(6), None).retrain


def test_n_drifted_is_evidentlys_count_when_present() -> None:
    from bullpen.drift.report import DatasetDrift

    base = _drift(3)
    read = DriftResult(base.features, base.prediction, 1000, 500, DatasetDrift(3, 0.3, 0.5, False))
    assert read.n_drifted == 3 and read.drifted_columns() == ["f0", "f1", "f2"]
    assert DriftResult([], None, 0, 0).drift_share == 0.0
