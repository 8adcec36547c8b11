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
class DriftResult:
    features: list[ColumnDrift]
    prediction: ColumnDrift | None
    n_reference: int
    n_current: int

    @property
    def n_drifted(self) -> int:
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


def _is_drift(method: str, threshold: float, value: float) -> bool:
    # Evidently 0.7 reports a value, not a verdict: p-value tests drift below the threshold,
    # distance measures at or above it.
    distance = ("distance", "divergence", "psi", "hellinger", "energy")
    if any(token in method.lower() for token in distance):
        return value >= threshold
    return value < threshold


def run_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    *,
    prediction_p_value: float = 0.001,
    html_path: Path | None = None,
) -> DriftResult:
    """Evidently's DataDriftPreset per column (its default tests), K-S on `prediction`.

    Predictions get a K-S test at a strict p-value because the check runs daily: at 0.05, a
    random half of a season against the other half flags drift about once in twenty checks.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's import-time deprecation noise
        from evidently import Report
        from evidently.presets import DataDriftPreset

    has_prediction = PREDICTION in reference and PREDICTION in current
    all_columns = [*columns, PREDICTION] if has_prediction else list(columns)
    preset = DataDriftPreset(
        columns=all_columns,
        per_column_method={PREDICTION: "ks"} if has_prediction else None,
        per_column_threshold={PREDICTION: prediction_p_value} if has_prediction else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([preset]).run(
            current_data=current[all_columns].astype(float),
            reference_data=reference[all_columns].astype(float),
        )
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    per_column = parse_value_drift(snapshot.dict())
    return DriftResult(
        features=[per_column[c] for c in columns if c in per_column],
        prediction=per_column.get(PREDICTION),
        n_reference=len(reference),
        n_current=len(current),
    )


def parse_value_drift(snapshot: dict[str, Any]) -> dict[str, ColumnDrift]:
    """Per-column drift from a snapshot dict: the metrics whose config type ends in ValueDrift."""
    out: dict[str, ColumnDrift] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        method = str(config.get("method"))
        threshold = float(config.get("threshold"))
        value = float(metric["value"])
        column = str(config["column"])
        drifted = _is_drift(method, threshold, value)
        out[column] = ColumnDrift(column, method, threshold, value, drifted)
    return out
