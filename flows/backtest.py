"""Backtest the moneyline champion: bets at opening prices, fractional Kelly, judged by CLV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from shared_tasks import build_features

from bullpen import report, runtime
from bullpen.betting.backtest import BacktestConfig, BacktestResult, run_backtest
from bullpen.config import get_settings
from bullpen.models import assess
from bullpen.models.predict import predict_with_alias
from bullpen.models.train import MONEYLINE


@task(cache_policy=NONE)
def score_champion(frame: pd.DataFrame, eval_season: int) -> assess.SeasonEvaluation:
    games = assess.comparable_games(frame[frame["season"] == eval_season], MONEYLINE)
    p_model, _version = predict_with_alias(runtime.mlflow_tracking_uri(), MONEYLINE, games)
    rate = assess.base_rate(frame[frame["season"] < eval_season], MONEYLINE)
    return assess.evaluate_season(games, MONEYLINE, p_model, rate, eval_season)


@task(cache_policy=NONE)
def backtest(
    frame: pd.DataFrame, evaluation: assess.SeasonEvaluation, config: BacktestConfig
) -> BacktestResult:
    games = frame.set_index("game_id").loc[evaluation.predictions["game_id"]].reset_index()
    games["p_model"] = evaluation.predictions["p_model"].to_numpy()
    return run_backtest(games, config)


@task(cache_policy=NONE)
def write_report(
    evaluation: assess.SeasonEvaluation, result: BacktestResult, out_dir: Path
) -> Path:
    return report.write_report(
        out_dir / f"moneyline_{evaluation.season}.html",
        title=f"bullpen moneyline champion, season {evaluation.season}",
        comparison=evaluation.comparison,
        calibration=evaluation.calibration,
        backtest=result,
        notes=[
            "Vig-free prices use the Shin method; bets are placed at the real opening price.",
            "The model was trained on earlier seasons only; features use games before each date.",
        ],
    )


@flow(name="backtest", log_prints=True)
def backtest_champion(
    eval_season: int = 2019, edge_threshold: float = 0.03, kelly_multiplier: float = 0.25
) -> dict:
    settings = get_settings()
    frame = build_features(runtime.database_url(settings), settings.devig_method)
    evaluation = score_champion(frame, eval_season)
    config = BacktestConfig(
        edge_threshold=edge_threshold,
        kelly_multiplier=kelly_multiplier,
        devig_method=settings.devig_method,
    )
    result = backtest(frame, evaluation, config)
    path = write_report(evaluation, result, settings.reports_dir)
    summary = {
        "report": str(path),
        "bets": result.n_bets,
        "roi": result.roi,
        "mean_clv": result.mean_clv,
        "final_bankroll": result.final_bankroll,
        "comparison": evaluation.as_dict(),
    }
    create_markdown_artifact(
        f"Backtest {eval_season}: {result.n_bets} bets, ROI {result.roi:.2%}, "
        f"mean CLV {result.mean_clv:.2%}. Report: `{path}`",
        key="backtest-moneyline",
    )
    return summary


if __name__ == "__main__":
    backtest_champion()
