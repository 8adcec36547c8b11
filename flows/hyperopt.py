"""Tune the LightGBM models with Optuna: K workers add trials to one study in Postgres, then the
best trial is confirmed on the season the study held out, logged to MLflow and saved as the tuned
parameters that train-models picks up when they won both in CV and on that season."""

from __future__ import annotations

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from shared_tasks import build_features, prepare_database

from bullpen import DEFAULT_EVAL_SEASON, runtime
from bullpen.config import get_settings
from bullpen.models import mlflow_store, train
from bullpen.models.tuning import cv, report, search, store

# Upper bound on workers in one flow run; more workers means more flow runs (any machine).
MAX_WORKERS = 16


@task(cache_policy=NONE, task_run_name="prepare-study-{model}")
def prepare_study(
    storage_url: str, frame: pd.DataFrame, model: str, held_out_season: int, n_folds: int
) -> search.StudyRef:
    spec = train.SPECS[model]
    return search.prepare_study(storage_url, frame, spec, held_out_season, n_folds)


@task(cache_policy=NONE, task_run_name="run-trials-{ref.model}-worker-{worker}")
def run_trials(
    ref: search.StudyRef,
    frame: pd.DataFrame,
    n_trials: int,
    worker: int,
    seed: int | None,
    num_threads: int,
    pruning: bool,
) -> search.WorkerSummary:
    spec = train.SPECS[ref.model]
    opts = {"worker": worker, "seed": seed, "num_threads": num_threads, "pruning": pruning}
    return search.run_trials(ref, frame, spec, n_trials, run=str(flow_run.id or ""), **opts)


@task(cache_policy=NONE, task_run_name="publish-best-{ref.model}")
def publish_best(
    ref: search.StudyRef, frame: pd.DataFrame, database_url: str, tracking_uri: str, experiment: str
) -> store.TunedParams:
    return report.publish_best(ref, frame, database_url, tracking_uri, experiment)


@flow(name="optimize-models", task_runner=ThreadPoolTaskRunner(max_workers=MAX_WORKERS))
def optimize_models(
    models: tuple[str, ...] = ("moneyline", "totals"),
    n_trials: int = 40,
    workers: int = 2,
    seed: int | None = None,
    eval_season: int = DEFAULT_EVAL_SEASON,
    n_folds: int = 3,
    pruning: bool = True,
    publish: bool = True,
) -> dict[str, dict]:
    """Add `n_trials` trials per model to its study (created on first use, resumed after),
    spread over `workers` concurrent task runs; return each study's best against the defaults.
    Several runs (on any workers, any hosts) can add trials to one study at once: they pass
    `publish=False`, and one run with `n_trials=0` publishes the best after they have all
    finished (`bullpen hyperopt run --runs N`).

    Only seasons before `eval_season` are ever looked at. The study's folds end two seasons
    before it: the season just before `eval_season` is held out to confirm the best trial.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1..{MAX_WORKERS}, got {workers}")
    settings = get_settings()
    database_url = runtime.database_url(settings)
    storage_url = search.optuna_storage_url(database_url)
    # Resources are looked up once per run and handed to the tasks.
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    # Only the publishing run writes to MLflow: runs that just add trials never touch it (nor
    # race each other creating a fresh MLflow database's tables).
    experiment = (
        mlflow_store.ensure_experiment(tracking_uri, report.EXPERIMENT, settings.artifact_root)
        if publish
        else ""
    )
    prepare_database(database_url)
    frame = build_features(database_url, settings.devig_method)
    frame = frame[frame["season"] < eval_season]  # the evaluation season never reaches a study
    threads = search.threads_per_worker(workers)
    summary = {}
    for model in models:
        ref = prepare_study(storage_url, frame, model, cv.held_out_season(eval_season), n_folds)
        futures = [
            run_trials.submit(ref, frame, share, worker, seed, threads, pruning)
            for worker, share in enumerate(search.split_trials(n_trials, workers))
        ]
        ran = [future.result() for future in futures]
        best = publish_best(ref, frame, database_url, tracking_uri, experiment) if publish else None
        summary[model] = report.describe_run(ref.name, ran, best)
    return summary


if __name__ == "__main__":
    optimize_models()
