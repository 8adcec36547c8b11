"""Compare the recent window of games with the champion's training reference (Evidently), store
the numbers and the HTML report, and emit `bullpen.drift.detected` when retraining is due."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.events import emit_event
from shared_tasks import build_features, prepare_database

from bullpen import runtime
from bullpen.betting.forward import forward_predictions
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.drift import check, store
from bullpen.drift.policy import DriftThresholds
from bullpen.events import DRIFT_DETECTED, model_event
from bullpen.models.catalog import spec_named


@task(cache_policy=NONE, task_run_name="check-champion-{model}")
def check_champion(
    frame: pd.DataFrame, model: str, options: dict[str, Any], *, tracking_uri: str,
    reports_dir: Path, artifact_root: Path, database_url: str,
) -> store.DriftCheck:  # fmt: skip
    # The champion's forward predictions, when the bets ledger holds settled picks of it.
    with engine.connect(database_url) as conn:
        forward = forward_predictions(conn, model)
    return check.check_champion(
        frame, spec_named(model), tracking_uri=tracking_uri, reports_dir=reports_dir,
        artifact_root=artifact_root, forward=forward, **options,
    )  # fmt: skip


@task(cache_policy=NONE)
def write_drift_check(result: store.DriftCheck, database_url: str) -> int:
    with engine.connect(database_url) as conn:
        return store.write_drift_check(conn, result)


@flow(name="check-drift", log_prints=True)
def check_drift(
    model: str = "moneyline",
    window_days: int = 30,
    as_of: date | None = None,
    max_drift_share: float = 0.5,
    prediction_p_value: float = 0.001,
    max_relative_degradation: float = 0.05,
    max_gap_increase: float = 0.005,
    confidence: float = 0.95,
) -> dict:
    """Returns the verdict, its reasons and the numbers behind them (also in `drift_checks`)."""
    settings = get_settings()
    database_url = runtime.database_url(settings)
    prepare_database(database_url)
    frame = build_features(database_url, settings.devig_method)
    result = check_champion(
        frame,
        model,
        {
            "window_days": window_days,
            "as_of": as_of,
            "thresholds": DriftThresholds(
                max_drift_share, max_relative_degradation, max_gap_increase
            ),
            "prediction_p_value": prediction_p_value,
            "confidence": confidence,
        },
        tracking_uri=runtime.mlflow_tracking_uri(settings),
        reports_dir=settings.reports_dir,
        artifact_root=settings.artifact_root,
        database_url=database_url,
    )
    check_id = write_drift_check(result, database_url)
    verdict, drift, perf = result.verdict, result.drift, result.performance

    # Decisions become artifacts and events: the retrain-models/on-drift trigger listens.
    create_link_artifact(
        link=str(result.report_uri), link_text="Evidently drift report (MLflow artifact)",
        key=f"drift-report-{model}", description=f"{model}: {verdict.verdict}",
    )  # fmt: skip
    create_markdown_artifact(
        f"**{model}** v{result.champion_version} {result.window_start}..{result.window_end}: "
        f"**{verdict.verdict}**\n\n"
        + "\n".join(f"- {r}" for r in verdict.reasons)
        + f"\n\nPerformance source: {result.source_note}",
        key=f"drift-verdict-{model}",
    )
    if drift.unmeasured:
        print(f"{model}: not measured (no values on one side): {', '.join(drift.unmeasured)}")
    print(
        f"{model}: champion v{result.champion_version}, "
        f"{result.window_start}..{result.window_end}: {verdict.verdict}: "
        + "; ".join(verdict.reasons)
    )
    if verdict.retrain:
        emit_event(
            **model_event(
                DRIFT_DETECTED, model, reason="; ".join(verdict.reasons), check_id=check_id
            )
        )
    return {
        "model": model,
        "champion_version": result.champion_version,
        "window": [str(result.window_start), str(result.window_end)],
        "verdict": verdict.verdict,
        "reasons": verdict.reasons,
        "drift_share": drift.drift_share,
        "drifted": drift.drifted_columns(),
        "unmeasured": list(drift.unmeasured),
        "prediction_drift_p": drift.prediction.value if drift.prediction else None,
        "n_settled": perf.n if perf else 0,
        "performance_source": result.performance_source,
        "source_note": result.source_note,
        "relative_gap": perf.relative_gap if perf else None,
        "check_id": check_id,
        "report_uri": result.report_uri,
    }


if __name__ == "__main__":
    check_drift()
