"""Windows of games and the Evidently 0.7 data-drift report over features and predictions."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

PREDICTION = "prediction"
# A window shorter than this is compared with the same part of the calendar in the reference
# seasons: features like games_played or a team's win_pct depend on the point in the season.
SEASON_MATCH_DAYS = 300


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str
    threshold: float
    value: float
    drifted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "threshold": self.threshold,
            "value": self.value,
            "drifted": self.drifted,
        }


@dataclass(frozen=True)
class DatasetDrift:
    """Evidently's DriftedColumnsCount over the feature columns, and its own dataset test.

    Evidently calls the dataset drifted when `share >= drift_share` (its test "share less than
    drift_share" fails); bullpen's retrain rule is in policy.py and is stricter (see there).
    """

    n_drifted: int
    share: float
    drift_share: float
    detected: bool


@dataclass(frozen=True)
class DriftResult:
    features: list[ColumnDrift]
    prediction: ColumnDrift | None
    n_reference: int
    n_current: int
    dataset: DatasetDrift | None = None  # None only for results built by hand
    # Features with no value in the reference or the window (e.g. player features of seasons
    # without play-by-play): nothing to compare, so left out of the report and the share.
    unmeasured: tuple[str, ...] = ()

    @property
    def n_drifted(self) -> int:
        """Evidently's count of drifted features (the per-column verdicts summed otherwise)."""
        if self.dataset is not None:
            return self.dataset.n_drifted
        return sum(c.drifted for c in self.features)

    @property
    def drift_share(self) -> float:
        return self.n_drifted / len(self.features) if self.features else 0.0

    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.features if c.drifted]


def build_current_window(frame: pd.DataFrame, as_of: date, days: int) -> pd.DataFrame:
    """Games in (as_of - days, as_of]."""
    start = as_of - timedelta(days=days - 1)
    dates = frame["game_date"]
    return frame[(dates >= start) & (dates <= as_of)]


def build_reference(
    frame: pd.DataFrame,
    seasons: list[int],
    window_start: date,
    window_end: date,
    *,
    max_rows: int = 5000,
    seed: int = 0,
) -> pd.DataFrame:
    """The champion's training seasons, season-matched to a short window, sampled to max_rows."""
    reference = frame[frame["season"].isin(seasons)]
    if (window_end - window_start).days < SEASON_MATCH_DAYS:
        day = pd.to_datetime(reference["game_date"])
        key = day.dt.month * 100 + day.dt.day
        lo = window_start.month * 100 + window_start.day
        hi = window_end.month * 100 + window_end.day
        in_span = (key >= lo) & (key <= hi) if lo <= hi else (key >= lo) | (key <= hi)
        reference = reference[in_span.to_numpy()]
    if len(reference) > max_rows:
        reference = reference.sample(max_rows, random_state=seed)
    return reference


def run_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    *,
    prediction_p_value: float = 0.001,
    drift_share: float = 0.5,
    html_path: Path | None = None,
) -> DriftResult:
    """Evidently's DataDriftPreset over `columns` (its default tests), K-S on `prediction`.

    A column without a single value on either side is not measured (Evidently refuses it) and
    is named in `unmeasured`.

    Predictions get a K-S test at a strict p-value because the check runs daily: at 0.05, a
    random half of a season against the other half flags drift about once in twenty checks.
    The prediction is a separate ValueDrift so that Evidently's drifted-column count covers
    the features only. Every verdict is Evidently's own (its tests), never re-derived here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's import-time deprecation noise
        from evidently import Report
        from evidently.metrics import ValueDrift
        from evidently.presets import DataDriftPreset

    unmeasured = tuple(
        c for c in columns if not (reference[c].notna().any() and current[c].notna().any())
    )
    columns = [c for c in columns if c not in unmeasured]
    has_prediction = PREDICTION in reference and PREDICTION in current
    all_columns = [*columns, PREDICTION] if has_prediction else list(columns)
    metrics: list[Any] = [DataDriftPreset(columns=list(columns), drift_share=drift_share)]
    if has_prediction:
        metrics.append(ValueDrift(column=PREDICTION, method="ks", threshold=prediction_p_value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # include_tests: the per-column and dataset verdicts are Evidently's test results.
        snapshot = Report(metrics, include_tests=True).run(
            current_data=current[all_columns].astype(float),
            reference_data=reference[all_columns].astype(float),
        )
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    result = snapshot.dict()
    per_column = parse_value_drift(result)
    return DriftResult(
        features=[per_column[c] for c in columns if c in per_column],
        prediction=per_column.get(PREDICTION),
        n_reference=len(reference),
        n_current=len(current),
        dataset=parse_dataset_drift(result),
        unmeasured=unmeasured,
    )


def _test_status(snapshot: dict[str, Any]) -> dict[str, str]:
    """{metric id: status} of the tests Evidently ran on its own metrics."""
    # `status` is Evidently's TestStatus enum in a live snapshot, its value ("FAIL") in JSON.
    return {
        str(test["metric_config"]["metric_id"]): str(
            getattr(test["status"], "value", test["status"])
        )
        for test in snapshot.get("tests", [])
        if "metric_config" in test
    }


def parse_value_drift(snapshot: dict[str, Any]) -> dict[str, ColumnDrift]:
    """Per-column drift from a snapshot dict: the metrics whose config type ends in ValueDrift.

    `drifted` is Evidently's own verdict, its ValueDrift test failing (Evidently applies each
    method's direction: p-values drift below the threshold, distances at or above it). The
    method's name says nothing reliable: Total-Variation-Distance reports a p-value, and a
    method named explicitly ("wasserstein") carries no hint at all.

    Raises:
        ValueError: a ValueDrift metric has no test result (Report run without include_tests).
    """
    status = _test_status(snapshot)
    out: dict[str, ColumnDrift] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        column = str(config["column"])
        if metric.get("id") not in status:
            raise ValueError(f"no Evidently drift test for {column}: run with include_tests=True")
        out[column] = ColumnDrift(
            column,
            str(config.get("method")),
            float(config.get("threshold")),
            float(metric["value"]),
            status[metric["id"]] == "FAIL",
        )
    return out


def parse_dataset_drift(snapshot: dict[str, Any]) -> DatasetDrift | None:
    """Evidently's DriftedColumnsCount (count, share) and its dataset test, if in the snapshot."""
    status = _test_status(snapshot)
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("DriftedColumnsCount"):
            continue
        value = metric["value"]
        return DatasetDrift(
            n_drifted=int(value["count"]),
            share=float(value["share"]),
            drift_share=float(config.get("drift_share", 0.5)),
            detected=status.get(metric.get("id")) == "FAIL",
        )
    return None
