"""Train the moneyline, totals and closing-line models on earlier seasons, judge them on the
evaluation season against the vig-free market, log to MLflow, register, and move `champion` only
when earned: the same gates and audit trail as retrain-models (registry/champion.py)."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE
from shared_tasks import build_features, prepare_database

from bullpen import DEFAULT_EVAL_SEASON, runtime
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.models import assess, catalog, closing_line, mlflow_store, train
from bullpen.models.tuning.store import load_tuned_params
from bullpen.registry import champion

EXPERIMENT = "bullpen-training"


def _eval_games(frame: pd.DataFrame, spec: train.ModelSpec, season: int) -> pd.DataFrame:
    return assess.comparable_games(frame[frame["season"] == season], spec)


def _training_rows(frame: pd.DataFrame, spec: train.ModelSpec, season: int) -> pd.DataFrame:
    return catalog.training_rows(spec, frame[frame["season"] < season])


@task(cache_policy=NONE, task_run_name="train-{model}")
def train_model(
    frame: pd.DataFrame, model: str, eval_season: int, database_url: str
) -> train.TrainedModel:
    spec = catalog.spec_named(model)
    params = catalog.fixed_params(spec)
    if params is None:  # the latest study's best, if it beat the defaults in CV; else defaults
        params = load_tuned_params(database_url, model, eval_season)
    return train.train_model(_training_rows(frame, spec, eval_season), spec, params)


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
    fitted: train.TrainedModel,
    evaluation: assess.SeasonEvaluation,
    frame: pd.DataFrame,
    *,
    database_url: str,
    tracking_uri: str,
    experiment_id: str,
) -> champion.Registration:
    with engine.connect(database_url) as conn:
        return champion.register_and_decide(
            conn,
            tracking_uri=tracking_uri,
            experiment_id=experiment_id,
            model=fitted,
            evaluation=evaluation,
            eval_games=_eval_games(frame, fitted.spec, evaluation.season),
            fingerprint=train.training_fingerprint(
                _training_rows(frame, fitted.spec, evaluation.season), fitted.spec, fitted.params
            ),
        )


@flow(name="train-models", log_prints=True)
def train_models(
    eval_season: int = DEFAULT_EVAL_SEASON,
    models: tuple[str, ...] = ("moneyline", "totals", closing_line.NAME),
) -> dict:
    """Returns per model `asdict(champion.ModelSummary)`: registered version, champion version,
    whether the version was reused, the decision's reason and the comparison on the season."""
    settings = get_settings()
    database_url = runtime.database_url(settings)
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    prepare_database(database_url)  # the decision's audit row needs model_audit
    frame = build_features(database_url, settings.devig_method)
    experiment_id = mlflow_store.ensure_experiment(tracking_uri, EXPERIMENT, settings.artifact_root)
    summary = {}
    for model in models:
        fitted = train_model(frame, model, eval_season, database_url)
        evaluation = evaluate(fitted, frame, eval_season)
        registration = register(
            fitted, evaluation, frame, database_url=database_url, tracking_uri=tracking_uri,
            experiment_id=experiment_id,
        )  # fmt: skip
        summary[model] = asdict(champion.ModelSummary.of(registration, evaluation))
        # The decision in the run's log (prefect flow-run logs), not only in its return value.
        champ = registration.champion_version
        status = "is the champion" if champ == registration.version else f"not champion (v{champ})"
        reused = " (reused: same data and parameters)" if registration.reused else ""
        print(f"{model}: v{registration.version}{reused} {status}: {registration.decision.reason}")
    return summary


if __name__ == "__main__":
    train_models()
