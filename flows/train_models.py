"""Train the moneyline and totals models on earlier seasons, judge them on the evaluation season
against the vig-free market, log to MLflow, register, and move `champion` only when earned."""

from __future__ import annotations

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE
from shared_tasks import build_features

from bullpen import runtime
from bullpen.config import get_settings
from bullpen.models import assess, train, tune
from bullpen.registry import champion, mlflow_store

EXPERIMENT = "bullpen-training"


@task(cache_policy=NONE, task_run_name="train-{model}")
def train_model(frame: pd.DataFrame, model: str, eval_season: int) -> train.TrainedModel:
    # The latest study's best, if it beat the defaults in CV on seasons < eval_season; else None.
    params = tune.load_tuned_params(runtime.database_url(), model, eval_season)
    return train.train_model(frame[frame["season"] < eval_season], train.SPECS[model], params)


@task(cache_policy=NONE, task_run_name="evaluate-{fitted.spec.name}")
def evaluate(
    fitted: train.TrainedModel, frame: pd.DataFrame, eval_season: int
) -> assess.SeasonEvaluation:
    games = assess.comparable_games(frame[frame["season"] == eval_season], fitted.spec)
    rate = assess.base_rate(frame[frame["season"] < eval_season], fitted.spec)
    return assess.evaluate_season(games, fitted.spec, fitted.predict(games), rate, eval_season)


@task(cache_policy=NONE, task_run_name="register-{fitted.spec.name}")
def register(
    fitted: train.TrainedModel, evaluation: assess.SeasonEvaluation, frame: pd.DataFrame
) -> champion.Registration:
    settings = get_settings()
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    games = assess.comparable_games(frame[frame["season"] == evaluation.season], fitted.spec)
    return champion.register_and_decide(
        tracking_uri=tracking_uri,
        experiment_id=mlflow_store.ensure_experiment(
            tracking_uri, EXPERIMENT, settings.artifact_root
        ),
        model=fitted,
        evaluation=evaluation,
        eval_games=games,
        fingerprint=train.training_fingerprint(
            frame[frame["season"] < evaluation.season], fitted.spec, fitted.params
        ),
    )


@flow(name="train-models", log_prints=True)
def train_models(
    eval_season: int = 2019, models: tuple[str, ...] = ("moneyline", "totals")
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
