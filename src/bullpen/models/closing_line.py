"""The closing-line model: predict where the market will close from what is known at the open.

Nobody beats the closing line on log loss with public data; the edge is in timing. This model
starts from the vig-free opening home probability (its logit is the base margin) and learns the
open-to-close move from open-time features only (the listed starters, bullpens, lineups from
previous games). Its target is the vig-free closing home probability, fitted by LightGBM's
cross-entropy objective (log loss with a probability as the label), so its prediction is a
probability that the opener strategy (bullpen.betting.opener) compares with the opening prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bullpen.betting.metrics import logit, r2_of_move
from bullpen.features.build import MARKET_OPEN_FEATURES
from bullpen.features.players import PLAYER_FEATURES
from bullpen.models import assess
from bullpen.models.evaluate import score_soft_probabilities
from bullpen.models.train import ModelSpec, TrainedModel, train_model

NAME = "closing-line"
TARGET = "p_close_home"
BASE = "p_open_home"


# The move is a real but small signal: trees take hundreds of rounds at the default 0.02, and the
# walk-forward fits one model a season. 0.05 is chosen for speed, not scored on any season.
PARAMS: dict[str, float] = {"learning_rate": 0.05}


def closing_line_spec(open_time_features: Sequence[str]) -> ModelSpec:
    """The spec over the market's opening numbers plus `open_time_features` (never game-time)."""
    return ModelSpec(
        NAME,
        TARGET,
        (*MARKET_OPEN_FEATURES, *open_time_features),
        # The opening price as a feature is also the base margin (the same number as BASE): the
        # behaviour gate then moves both together when it asks "a bigger favourite at the open".
        # No monotone constraint: it halved the R^2 of the move (0.048 against 0.087 on 2014).
        base_margin="mkt_open_home_prob",
        objective="cross_entropy",
    )


def usable_games(frame: pd.DataFrame) -> pd.DataFrame:
    """Games with both vig-free prices: the ones whose move is known (the label)."""
    return frame[frame[TARGET].notna() & frame[BASE].notna()]


def predicted_move(frame: pd.DataFrame, p_close_pred: np.ndarray) -> np.ndarray:
    return logit(p_close_pred) - logit(frame[BASE].to_numpy(float))


def actual_move(frame: pd.DataFrame) -> np.ndarray:
    return logit(frame[TARGET].to_numpy(float)) - logit(frame[BASE].to_numpy(float))


@dataclass
class SeasonForecast:
    """One season's out-of-sample closing-line predictions from a model fit on earlier seasons."""

    season: int
    train_seasons: list[int]
    games: pd.DataFrame  # usable games of the season, with column p_close_pred
    r2_move: float
    model: TrainedModel


def forecast_season(
    frame: pd.DataFrame,
    spec: ModelSpec,
    season: int,
    *,
    first_season: int | None = None,
    params: dict | None = None,
) -> SeasonForecast:
    """Fit on every usable season before `season` (from `first_season`), predict `season`."""
    data = usable_games(frame)
    train = data[data["season"] < season]
    if first_season is not None:
        train = train[train["season"] >= first_season]
    if train.empty:
        raise ValueError(f"no usable season before {season} to fit the closing-line model on")
    model = train_model(train, spec, {**PARAMS, **(params or {})})
    games = data[data["season"] == season].copy()
    if games.empty:
        raise ValueError(f"season {season} has no game with both opening and closing prices")
    games["p_close_pred"] = model.predict(games)
    return SeasonForecast(season, model.train_seasons, games, r2_of_forecast(games), model)


def r2_of_forecast(games: pd.DataFrame) -> float:
    """Out-of-sample R^2 of the predicted move (logit scale) for games with p_close_pred."""
    return r2_of_move(actual_move(games), predicted_move(games, games["p_close_pred"].to_numpy()))


def evaluate_forecast(
    games: pd.DataFrame, p_close_pred: np.ndarray, season: int
) -> assess.SeasonEvaluation:
    """The model's and the opening price's predictions of the close, scored alike.

    `log_loss` is the cross-entropy against the vig-free closing probability; the opening price
    is the baseline a closing-line model must beat (predicting "no move").
    """
    target = games[TARGET].to_numpy(float)
    sources = {
        "model": np.asarray(p_close_pred, dtype=float),
        "market_open": games[BASE].to_numpy(float),
    }
    predictions = assess.prediction_frame(
        games, target, sources["model"], sources["market_open"], target
    )
    return assess.SeasonEvaluation(
        NAME,
        season,
        {name: score_soft_probabilities(target, p) for name, p in sources.items()},
        {},
        predictions,
    )


def open_time_features(frame: pd.DataFrame | None = None) -> list[str]:
    """The player features known when the line opens (never game-time ones)."""
    return [
        name
        for name, when in PLAYER_FEATURES.items()
        if when == "open" and (frame is None or name in frame)
    ]


CLOSING_LINE = closing_line_spec(open_time_features())
