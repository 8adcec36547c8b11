"""One drift check: champion predictions on the reference and the current window, the Evidently
report, performance against the closing line, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd

from bullpen.drift.performance import Performance, measure_performance
from bullpen.drift.policy import DriftThresholds, Verdict, drift_verdict
from bullpen.drift.report import (
    PREDICTION,
    DriftResult,
    build_current_window,
    build_reference,
    run_drift_report,
)
from bullpen.drift.store import DriftCheck, log_drift_run
from bullpen.models import mlflow_store
from bullpen.models.assess import MARKET_COLUMNS
from bullpen.models.checks import Predict
from bullpen.models.train import ModelSpec
from bullpen.registry import challenger, transition

EXPERIMENT = "bullpen-drift"


@dataclass(frozen=True)
class CheckOutcome:
    drift: DriftResult
    performance: Performance | None
    reference_gap: float | None
    verdict: Verdict


def run_check(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: ModelSpec,
    predict: Predict,
    *,
    thresholds: DriftThresholds | None = None,
    prediction_p_value: float = 0.001,
    confidence: float = 0.95,
    html_path: Path | None = None,
) -> CheckOutcome:
    """Compare `current` with `reference` on the model's features and on `predict`'s output."""
    reference = reference.assign(**{PREDICTION: predict(reference)})
    current = current.assign(**{PREDICTION: predict(current)})
    thresholds = thresholds or DriftThresholds()
    drift = run_drift_report(
        reference,
        current,
        list(spec.features),
        prediction_p_value=prediction_p_value,
        drift_share=thresholds.max_drift_share,  # Evidently's dataset test, for the record
        html_path=html_path,
    )
    close = MARKET_COLUMNS[spec.target][1]
    performance = measure_performance(
        current[spec.target], current[PREDICTION], current[close], confidence=confidence
    )
    reference_perf = measure_performance(
        reference[spec.target], reference[PREDICTION], reference[close], n_boot=1
    )
    reference_gap = (
        reference_perf.model_log_loss - reference_perf.close_log_loss if reference_perf else None
    )
    verdict = drift_verdict(drift, performance, reference_gap=reference_gap, thresholds=thresholds)
    return CheckOutcome(drift, performance, reference_gap, verdict)


def check_champion(
    frame: pd.DataFrame,
    spec: ModelSpec,
    *,
    tracking_uri: str,
    window_days: int,
    as_of: date | None,
    reports_dir: Path,
    artifact_root: Path,
    thresholds: DriftThresholds | None = None,
    prediction_p_value: float = 0.001,
    confidence: float = 0.95,
) -> DriftCheck:
    """Check the champion of `spec` on the `window_days` up to `as_of` (default: newest game)
    against its training seasons; log the numbers and the HTML report to MLflow."""
    name = spec.registered_name
    champion = mlflow_store.get_alias_version(tracking_uri, name, transition.CHAMPION)
    if champion is None:
        raise LookupError(f"{name} has no champion: run train-models first")
    version = str(champion.version)
    seasons = challenger.training_seasons(tracking_uri, spec, version)
    current = build_current_window(frame, as_of or max(frame["game_date"]), window_days)
    if current.empty:
        raise ValueError(f"no games in the {window_days} days up to {as_of}")
    start, end = min(current["game_date"]), max(current["game_date"])
    html = reports_dir / f"drift_{spec.name}_{end}.html"
    outcome = run_check(
        build_reference(frame, seasons, start, end),
        current,
        spec,
        challenger.version_predictor(tracking_uri, spec, version),
        thresholds=thresholds,
        prediction_p_value=prediction_p_value,
        confidence=confidence,
        html_path=html,
    )
    result = DriftCheck(
        spec.name, version, start, end, seasons, outcome.drift, outcome.performance,
        outcome.verdict,
    )  # fmt: skip
    experiment = mlflow_store.ensure_experiment(tracking_uri, EXPERIMENT, artifact_root)
    run_id, report_uri = log_drift_run(tracking_uri, experiment, result, html)
    return replace(result, report_uri=report_uri, mlflow_run_id=run_id)
