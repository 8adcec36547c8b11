"""One drift check: champion predictions on the reference and the current window, the Evidently
report, performance against the market's benchmark (drift.performance.BENCHMARKS), and the
verdict.

Performance judges what the champion predicted before the games whenever the bets ledger holds
settled forward picks of the champion in the window (bullpen.betting.forward: the probability
stored at decision time, labelled by the settled result, or for the closing-line model by the
closing consensus, and the benchmark stored with it);
otherwise the champion re-scored on the window's history, and the check says which. Feature and
prediction drift stay on the whole window re-scored, like the reference they are compared with:
the picked games are a selection (edges at the best price), their predictions are not a sample
of the window's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd

from bullpen.betting.forward import forward_games
from bullpen.drift.performance import BENCHMARKS, Performance, measure_performance
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
    judged: pd.DataFrame | None = None,
) -> CheckOutcome:
    """Compare `current` with `reference` on the model's features and on `predict`'s output.

    `judged` (columns label, p_home and the benchmark's forward column: forward picks' stored
    predictions) replaces `current` re-scored as the games performance is measured on.
    """
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
    bench = BENCHMARKS[spec.target]
    options = {
        "loss": lambda y, p: challenger.per_game_loss(spec, y, p),
        "benchmark": bench.words,
    }
    if judged is None:
        performance = measure_performance(
            current[spec.target], current[PREDICTION], current[bench.frame_column],
            confidence=confidence, **options,
        )  # fmt: skip
    else:
        performance = measure_performance(
            judged["label"], judged["p_home"], judged[bench.forward_column],
            confidence=confidence, **options,
        )  # fmt: skip
    reference_perf = measure_performance(
        reference[spec.target], reference[PREDICTION], reference[bench.frame_column], n_boot=1,
        **options,
    )  # fmt: skip
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
    forward: pd.DataFrame | None = None,
) -> DriftCheck:
    """Check the champion of `spec` on the `window_days` up to `as_of` (default: newest game)
    against its training seasons; log the numbers and the HTML report to MLflow. `forward` is
    the ledger's `forward_predictions` of this model (None or empty: performance re-scored)."""
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
    picks = forward_games(forward, spec.target, version)
    bench = BENCHMARKS[spec.target].forward_column
    if not picks.empty and bench is not None:
        picks = picks[picks["game_id"].isin(current["game_id"]) & picks[bench].notna()]
    if picks.empty:
        source = "rescored"
        note = f"no settled forward picks of v{version} in {start}..{end}: re-scored history"
    else:
        source = "forward"
        note = (
            f"performance on v{version}'s {len(picks)} settled forward picks (predictions "
            "stored in the bets ledger before the games)"
        )
    outcome = run_check(
        build_reference(frame, seasons, start, end),
        current,
        spec,
        challenger.version_predictor(tracking_uri, spec, version),
        thresholds=thresholds,
        prediction_p_value=prediction_p_value,
        confidence=confidence,
        html_path=html,
        judged=None if picks.empty else picks,
    )
    result = DriftCheck(
        spec.name, version, start, end, seasons, outcome.drift, outcome.performance,
        outcome.verdict, performance_source=source, source_note=note,
    )  # fmt: skip
    experiment = mlflow_store.ensure_experiment(tracking_uri, EXPERIMENT, artifact_root)
    run_id, report_uri = log_drift_run(tracking_uri, experiment, result, html)
    return replace(result, report_uri=report_uri, mlflow_run_id=run_id)
