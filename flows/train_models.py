"""Train the moneyline, totals and closing-line models on earlier seasons, judge them on the
evaluation season against the vig-free market, log to MLflow, register, and move `champion` only
when earned."""

from __future__ import annotations

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE
from shared_tasks import build_features

from bullpen import DEFAULT_EVAL_SEASON, runtime
from bullpen.config import get_settings
from bullpen.models import assess, closing_line, train
from bullpen.models.tuning.store import load_tuned_params
from bullpen.registry import champion, mlflow_store

EXPERIMENT = "bullpen-training"


def _spec(model: str) -> train.ModelSpec:
    return closing_line.CLOSING_LINE if model == closing_line.NAME else train.SPECS[model]


def _eval_games(frame: pd.DataFrame, spec: train.ModelSpec, season: int) -> pd.DataFrame:
    season_games = frame[frame["season"] == season]
    if spec.name == closing_line.NAME:
        return closing_line.usable_games(season_games)
    return assess.comparable_games(season_games, spec)


def _training_rows(frame: pd.DataFrame, spec: train.ModelSpec, season: int) -> pd.DataFrame:
    history = frame[frame["season"] < season]
    return closing_line.usable_games(history) if spec.name == closing_line.NAME else history


@task(cache_policy=NONE, task_run_name="train-{model}")
def train_model(frame: pd.DataFrame, model: str, eval_season: int) -> train.TrainedModel:
    spec = _spec(model)
    if spec.name == closing_line.NAME:
        # No study tunes it; games whose move is unknown carry no label.
        history = closing_line.usable_games(frame[frame["season"] < eval_season])
        return train.train_model(history, spec, closing_line.PARAMS)
    # The latest study's best, if it beat the defaults in CV on seasons < eval_season; else None.
    params = load_tuned_params(runtime.database_url(), model, eval_season)
    return train.train_model(frame[frame["season"] < eval_season], spec, params)


@task(cache_policy=NONE, task_run_name="evaluate-{fitted.spec.name}")
def evaluate(
    fitted: train.TrainedModel, frame: pd.DataFrame, eval_season: int
) -> assess.SeasonEvaluation:
    games = _eval_games(frame, fitted.spec, eval_season)
    if fitted.spec.name == closing_line.NAME:
        return closing_line.evaluate_forecast(games, fitted.predict(games), eval_season)
    rate = assess.base_rate(frame[frame["season"] < eval_season], fitted.spec)
    return assess.evaluate_season(games, fitted.spec, fitted.predict(games), rate, eval_season)


@task(cache_policy=NONE, task_run_name="register-{fitted.spec.name}")
def register(
    fitted: train.TrainedModel, evaluation: assess.SeasonEvaluation, frame: pd.DataFrame
) -> champion.Registration:
    settings = get_settings()
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    games = _eval_games(frame, fitted.spec, evaluation.season)
    return champion.register_and_decide(
        tracking_uri=tracking_uri,
        experiment_id=mlflow_store.ensure_experiment(
            tracking_uri, EXPERIMENT, settings.artifact_root
        ),
        model=fitted,
        evaluation=evaluation,
        eval_games=games,
        fingerprint=train.training_fingerprint(
            _training_rows(frame, fitted.spec, evaluation.season), fitted.spec, fitted.params
        ),
    )


@flow(name="train-models", log_prints=True)
def train_models(
    eval_season: int = DEFAULT_EVAL_SEASON,
    models: tuple[str, ...] = ("moneyline", "totals", closing_line.NAME),
) -> dict:
    """Returns per model: registered version, champion version, decision and the comparison."""
    settings = get_settings()
    frame = build_features(runtime.database_url(settings), settings.devig_method)
    summary = {}
    for model in models:
        fitted = train_model(frame, model, eval_season)
        evaluation = evaluate(fitted, frame, eval_season)
        registration = register(fitted, evaluation, frame)
        summary[model] = {
            "version": registration.version,
            "champion_version": registration.champion_version,
            "reused_version": registration.reused,
            "decision": registration.decision.reason,
            "comparison": evaluation.as_dict(),
        }
    return summary


if __name__ == "__main__":
    train_models()
