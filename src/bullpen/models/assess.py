"""Judge a model's probabilities against the vig-free market and a base rate on the same games."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bullpen.models.evaluate import (
    CalibrationBin,
    Metrics,
    calibration_table,
    score_probabilities,
    score_soft_probabilities,
)
from bullpen.models.train import ModelSpec

# The market columns (vig-free) that play the model's role for each target.
MARKET_COLUMNS = {
    "home_win": ("p_open_home", "p_close_home"),
    "over_close": ("p_open_over", "p_close_over"),
    "p_close_home": ("p_open_home", "p_close_home"),  # the closing-line model: its label's pair
}
BASE_RATE_KEY = {"home_win": "home_rate", "over_close": "over_rate"}


@dataclass
class SeasonEvaluation:
    spec_name: str
    season: int
    comparison: dict[str, Metrics]
    calibration: dict[str, list[CalibrationBin]]
    predictions: pd.DataFrame  # game_id, game_date, label, p_model, p_open, p_close

    def model_log_loss(self) -> float:
        return self.comparison["model"].log_loss

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {name: metrics.as_dict() for name, metrics in self.comparison.items()}


def comparable_games(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Games with a label and both vig-free market prices, so every source is scored alike."""
    open_col, close_col = MARKET_COLUMNS[spec.target]
    mask = frame[spec.target].notna() & frame[open_col].notna() & frame[close_col].notna()
    return frame[mask]


def base_rate(history: pd.DataFrame, spec: ModelSpec) -> float:
    """Share of positive labels in `history` (e.g. home wins in the training seasons)."""
    labels = history[spec.target].dropna()
    return float(labels.mean()) if len(labels) else 0.5


def prediction_frame(
    games: pd.DataFrame,
    label: np.ndarray,
    p_model: np.ndarray,
    p_open: np.ndarray,
    p_close: np.ndarray,
) -> pd.DataFrame:
    """Per-game predictions as every evaluation stores them (MLflow artifact, drift reference)."""
    return pd.DataFrame(
        {
            "game_id": games["game_id"].to_numpy(),
            "game_date": games["game_date"].to_numpy(),
            "label": label,
            "p_model": p_model,
            "p_open": p_open,
            "p_close": p_close,
        }
    )


def evaluate_season(
    games: pd.DataFrame, spec: ModelSpec, p_model: np.ndarray, rate: float, season: int
) -> SeasonEvaluation:
    """`games` must be `comparable_games(...)` rows; `p_model` aligned with them."""
    open_col, close_col = MARKET_COLUMNS[spec.target]
    y = games[spec.target].to_numpy(float)
    sources = {
        "model": np.asarray(p_model, dtype=float),
        "market_open": games[open_col].to_numpy(float),
        "market_close": games[close_col].to_numpy(float),
        BASE_RATE_KEY[spec.target]: np.full(len(games), rate),
    }
    predictions = prediction_frame(
        games, y, sources["model"], sources["market_open"], sources["market_close"]
    )
    return SeasonEvaluation(
        spec.name,
        season,
        {name: score_probabilities(y, p) for name, p in sources.items()},
        {
            name: calibration_table(y, p)
            for name, p in sources.items()
            if name != BASE_RATE_KEY[spec.target]
        },
        predictions,
    )


def score_for_spec(spec: ModelSpec, target: np.ndarray, p: np.ndarray) -> Metrics:
    """0/1 outcomes for binary models; a probability target for cross-entropy models."""
    if spec.objective == "cross_entropy":
        return score_soft_probabilities(target, p)
    return score_probabilities(target, p)
