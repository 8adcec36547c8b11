"""Walk forward by season: fit the closing-line model on earlier seasons, choose the opener
strategy's settings on earlier seasons' out-of-sample forecasts, then bet the season once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bullpen.betting.metrics import BetSummary
from bullpen.betting.opener import (
    OpenerParams,
    SeasonBets,
    choose_params,
    pooled_summary,
    season_bets,
)
from bullpen.models.closing_line import SeasonForecast, forecast_season
from bullpen.models.train import ModelSpec

# Earlier out-of-sample seasons pooled to choose a season's threshold and Kelly multiplier.
SELECTION_SEASONS = 3


@dataclass
class WalkForward:
    seasons: list[SeasonBets]
    forecasts: dict[int, SeasonForecast]
    pooled: BetSummary


def forecasts_for(
    frame: pd.DataFrame,
    spec: ModelSpec,
    seasons: Sequence[int],
    *,
    first_season: int | None = None,
    params: dict | None = None,
) -> dict[int, SeasonForecast]:
    """Out-of-sample forecasts of each season from a model fit on the seasons before it."""
    return {
        s: forecast_season(frame, spec, s, first_season=first_season, params=params)
        for s in seasons
    }


def selection_games(forecasts: dict[int, SeasonForecast], season: int) -> pd.DataFrame:
    earlier = sorted(s for s in forecasts if s < season)[-SELECTION_SEASONS:]
    if not earlier:
        return pd.DataFrame()
    return pd.concat([forecasts[s].games for s in earlier], ignore_index=True)


def walk_forward(
    frame: pd.DataFrame,
    spec: ModelSpec,
    scored_seasons: Sequence[int],
    base: OpenerParams,
    *,
    first_season: int | None = None,
    model_params: dict | None = None,
) -> WalkForward:
    """Score each of `scored_seasons` with a model and settings chosen on earlier seasons only.

    The selection uses out-of-sample forecasts of up to SELECTION_SEASONS seasons before the one
    scored (each from a model fit on the seasons before it), so a scored season never influences
    its own model, threshold or Kelly multiplier.
    """
    scored = sorted(scored_seasons)
    lead = list(range(scored[0] - SELECTION_SEASONS, scored[0]))
    available = set(int(s) for s in frame["season"].unique())
    wanted = [s for s in lead if s in available and s - 1 in available] + scored
    forecasts = forecasts_for(frame, spec, wanted, first_season=first_season, params=model_params)
    results = []
    for season in scored:
        pool = selection_games(forecasts, season)
        params, why = choose_params(pool, base) if len(pool) else (base, "no earlier forecast")
        forecast = forecasts[season]
        results.append(season_bets(season, forecast.games, forecast.r2_move, params, why))
    return WalkForward(results, forecasts, pooled_summary(results))
