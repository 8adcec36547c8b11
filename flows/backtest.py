"""Backtest the champion strategy: bet the opener where the closing-line champion expects the
market to move, judged by closing-line value, EV at the close and ROI, walk-forward by season."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from shared_tasks import build_features

from bullpen import DEFAULT_EVAL_SEASON, report, runtime
from bullpen.betting import opener
from bullpen.betting.report_text import season_row
from bullpen.betting.walk_forward import WalkForward, selection_games, walk_forward
from bullpen.config import get_settings
from bullpen.models import assess, closing_line, mlflow_store
from bullpen.models.predict import predict_with_alias
from bullpen.models.train import MONEYLINE


@task(cache_policy=NONE)
def score_moneyline_champion(
    frame: pd.DataFrame, eval_season: int, tracking_uri: str
) -> assess.SeasonEvaluation:
    games = assess.comparable_games(frame[frame["season"] == eval_season], MONEYLINE)
    p_model, _version = predict_with_alias(tracking_uri, MONEYLINE, games)
    rate = assess.base_rate(frame[frame["season"] < eval_season], MONEYLINE)
    return assess.evaluate_season(games, MONEYLINE, p_model, rate, eval_season)


@task(cache_policy=NONE, task_run_name="walk-forward-{first_season}-to-{eval_season}")
def earlier_seasons(
    frame: pd.DataFrame, first_season: int, eval_season: int, base: opener.OpenerParams
) -> WalkForward:
    # Every season before the evaluation season, each with a model fit on the seasons before it.
    seasons = range(first_season, eval_season)
    return walk_forward(frame, closing_line.CLOSING_LINE, seasons, base, first_season=2010)


@task(cache_policy=NONE, task_run_name="bet-{eval_season}-with-the-champion")
def champion_season(
    frame: pd.DataFrame,
    history: WalkForward,
    eval_season: int,
    base: opener.OpenerParams,
    tracking_uri: str,
) -> opener.SeasonBets:
    games = closing_line.usable_games(frame[frame["season"] == eval_season]).copy()
    p_pred, version = predict_with_alias(tracking_uri, closing_line.CLOSING_LINE, games)
    games["p_close_pred"] = p_pred
    r2 = closing_line.r2_of_forecast(games)
    pool = selection_games(history.forecasts, eval_season)
    params, why = opener.choose_params(pool, base)
    # The champion strategy is the model plus these settings: `bullpen evaluate` reads them back.
    mlflow_store.set_version_tags(
        tracking_uri,
        closing_line.CLOSING_LINE.registered_name,
        version,
        params.as_tags(why),
    )
    return opener.season_bets(eval_season, games, r2, params, f"champion v{version}; {why}")


@task(cache_policy=NONE)
def write_report(
    seasons: list[opener.SeasonBets],
    pooled: dict,
    moneyline: assess.SeasonEvaluation,
    out_dir: Path,
) -> Path:
    season = seasons[-1].season
    return report.write_strategy_report(
        out_dir / f"opener_{season}.html",
        title=f"bullpen opener strategy, walk-forward to {season}",
        seasons=seasons,
        pooled=pooled,
        comparison=moneyline.comparison,
        calibration=moneyline.calibration,
        notes=[
            "Each season is bet by a closing-line model fit on earlier seasons only; its threshold"
            " and Kelly multiplier are chosen on earlier seasons' out-of-sample forecasts.",
            f"{season} uses the registered closing-line champion.",
            "CLV = vig-free closing minus vig-free opening probability of the side bet; EV at "
            "close = opening decimal price x vig-free closing probability - 1.",
            "Vig-free prices use the Shin method; the comparison table is the home-win champion.",
        ],
    )


@task(cache_policy=NONE)
def store_report(path: Path, tracking_uri: str, artifact_root: str, eval_season: int) -> str:
    # The artifact store, not the worker's disk: with an s3:// root every host and the MLflow UI
    # read it, whichever worker ran the backtest.
    tags = {"bullpen.report": "opener-walk-forward", "bullpen.eval_season": str(eval_season)}
    return mlflow_store.log_report(
        tracking_uri, artifact_root, path, f"backtest-{eval_season}", tags
    )


@flow(name="backtest", log_prints=True)
def backtest_champion(eval_season: int = DEFAULT_EVAL_SEASON, first_season: int = 2014) -> dict:
    """Walk-forward from `first_season`; `eval_season` is bet with the registered champion."""
    settings = get_settings()
    # Resources are looked up once per run and handed to the tasks.
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    frame = build_features(runtime.database_url(settings), settings.devig_method)
    base = opener.OpenerParams(devig_method=settings.devig_method)
    moneyline = score_moneyline_champion(frame, eval_season, tracking_uri)
    history = earlier_seasons(frame, first_season, eval_season, base)
    last = champion_season(frame, history, eval_season, base, tracking_uri)
    seasons = [*history.seasons, last]
    pooled = opener.pooled_summary(seasons).as_dict()
    path = write_report(seasons, pooled, moneyline, settings.reports_dir)
    report_uri = store_report(path, tracking_uri, settings.artifact_root, eval_season)
    rows = [season_row(s) for s in seasons]
    create_table_artifact(rows, key="opener-walk-forward", description="bets by season")
    m = last.summary
    message = (
        f"Opener strategy {eval_season}: {m.n} bets, mean CLV {m.mean_clv:+.4f} "
        f"(SE {m.clv_se:.4f}), EV at close {m.ev_at_close:+.4f}, ROI {m.roi:+.4f}; "
        f"closing-line R2 of the move {last.r2_move:.3f}. Report: `{report_uri}`"
        if m.n
        else f"Opener strategy {eval_season}: no bets. Report: `{report_uri}`"
    )
    print(message)
    create_markdown_artifact(message, key="backtest-opener")
    create_link_artifact(
        link=report_uri,
        link_text=f"opener report {eval_season} (MLflow artifact)",
        key="backtest-report",
        description=f"the HTML report in the artifact store; a copy on the worker at {path}",
    )
    return {
        "report": str(path),
        "report_uri": report_uri,
        "eval_season": eval_season,
        "seasons": rows,
        "pooled": pooled,
        "comparison": moneyline.as_dict(),
        "why": {s.season: s.why for s in seasons},
    }


if __name__ == "__main__":
    backtest_champion()
