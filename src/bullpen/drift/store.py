"""Persist a drift check (the numbers to `drift_checks`, the HTML report to MLflow) and list the
stored ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import psycopg

from bullpen.drift.performance import Performance
from bullpen.drift.policy import Verdict
from bullpen.drift.report import DriftResult


@dataclass(frozen=True)
class DriftCheck:
    model: str
    champion_version: str
    window_start: date
    window_end: date
    reference_seasons: list[int]
    drift: DriftResult
    performance: Performance | None
    verdict: Verdict
    report_uri: str | None = None
    mlflow_run_id: str | None = None
    # Where `performance` comes from: "forward" (predictions stored in the bets ledger before
    # the games) or "rescored" (the champion re-scored on the window's history).
    performance_source: str = "rescored"
    source_note: str = ""


def write_drift_check(conn: psycopg.Connection, check: DriftCheck) -> int:
    d, p = check.drift, check.performance
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO drift_checks (model, champion_version, window_start, window_end,
                   reference_seasons, n_reference, n_current, n_features, n_drifted, drift_share,
                   prediction_drift, prediction_drift_p, n_settled, model_log_loss,
                   close_log_loss, relative_gap, gap_lower, gap_upper, verdict, reasons,
                   per_feature, report_uri, mlflow_run_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                       %s, %s, %s, %s, %s)
               RETURNING check_id""",
            (
                check.model, check.champion_version, check.window_start, check.window_end,
                check.reference_seasons, d.n_reference, d.n_current, len(d.features),
                d.n_drifted, d.drift_share,
                bool(d.prediction and d.prediction.drifted),
                d.prediction.value if d.prediction else None,
                p.n if p else 0, p.model_log_loss if p else None,
                p.close_log_loss if p else None, p.relative_gap if p else None,
                p.interval.lower if p else None, p.interval.upper if p else None,
                check.verdict.verdict, check.verdict.reasons,
                json.dumps({c.column: c.as_dict() for c in d.features}),
                check.report_uri, check.mlflow_run_id,
            ),
        ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class StoredCheck:
    """One row of `drift_checks`, as `bullpen drift list` shows it."""

    check_id: int
    checked_at: datetime
    window_start: date
    window_end: date
    champion_version: str
    verdict: str
    drift_share: float
    prediction_drift: bool
    relative_gap: float | None
    reasons: list[str]


def list_drift_checks(conn: psycopg.Connection, model: str, limit: int = 20) -> list[StoredCheck]:
    """The model's stored checks, newest first."""
    rows = conn.execute(
        "SELECT check_id, checked_at, window_start, window_end, champion_version, verdict,"
        " drift_share, prediction_drift, relative_gap, reasons FROM drift_checks"
        " WHERE model = %s ORDER BY checked_at DESC, check_id DESC LIMIT %s",
        (model, limit),
    ).fetchall()
    return [StoredCheck(*row) for row in rows]


def log_drift_run(
    tracking_uri: str, experiment_id: str, check: DriftCheck, html_path: Path
) -> tuple[str, str]:
    """An MLflow run holding the check's numbers and its Evidently HTML; (run_id, html URI)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    metrics = {
        "drift_share": check.drift.drift_share,
        "n_drifted": float(check.drift.n_drifted),
        "n_current": float(check.drift.n_current),
    }
    if check.drift.prediction is not None:
        metrics["prediction_drift_p"] = check.drift.prediction.value
    if check.performance is not None:
        metrics.update(
            model_log_loss=check.performance.model_log_loss,
            close_log_loss=check.performance.close_log_loss,
            relative_gap=check.performance.relative_gap,
        )
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"drift-{check.model}-{check.window_end}"
    ) as run:
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "bullpen.model": check.model,
                "bullpen.champion_version": check.champion_version,
                "bullpen.verdict": check.verdict.verdict,
                "bullpen.performance_source": check.performance_source,
            }
        )
        mlflow.log_artifact(str(html_path))
        uri = f"{run.info.artifact_uri}/{html_path.name}"
    return run.info.run_id, uri
