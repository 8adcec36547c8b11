"""Retrain a model and promote it only when it earns it: data-quality gate, challenger, paired
bootstrap against the champion on the same games, behaviour checks, audited alias move."""

from __future__ import annotations

from datetime import date
from functools import partial

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.events import emit_event
from shared_tasks import build_features, prepare_database

from bullpen import runtime
from bullpen.config import get_settings
from bullpen.db import engine
from bullpen.events import MODEL_PROMOTED, model_event
from bullpen.models import checks, mlflow_store
from bullpen.models.catalog import fixed_params, spec_named, training_rows
from bullpen.models.tuning.store import load_tuned_params
from bullpen.registry import challenger, promotion, quality
from bullpen.registry.challenger import Comparison, Window

EXPERIMENT = "bullpen-retraining"


@task(cache_policy=NONE, task_run_name="check-data-{model}")
def check_data(
    window: Window, model: str, as_of: date | None, thresholds: quality.QualityThresholds
) -> quality.QualityReport:
    target = spec_named(model).target
    return quality.check_training_data(
        window.train, window.evaluation, target=target,
        market_column=challenger.MARKET_FEATURE[target],
        as_of=as_of or window.as_of, thresholds=thresholds,
    )  # fmt: skip


@task(cache_policy=NONE, task_run_name="train-challenger-{model}")
def train_challenger(
    window: Window, model: str, trigger: str, *, database_url: str, tracking_uri: str,
    experiment_id: str,
) -> challenger.RegisteredVersion:  # fmt: skip
    spec = spec_named(model)
    params = fixed_params(spec)
    if params is None:  # the latest study's best, if it beat the defaults; else the defaults
        params = load_tuned_params(database_url, model, window.eval_season)
    return challenger.train_and_register(
        window, spec, params, tracking_uri=tracking_uri, experiment_id=experiment_id,
        trigger=trigger,
    )  # fmt: skip


@task(cache_policy=NONE, task_run_name="compare-{model}")
def compare(
    window: Window, model: str, version: str, confidence: float, n_boot: int, *, tracking_uri: str
) -> Comparison:
    return challenger.compare_with_champion(
        tracking_uri, spec_named(model), version, window.evaluation,
        confidence=confidence, n_boot=n_boot,
    )  # fmt: skip


@task(cache_policy=NONE)
def record_decision(
    model: str, decision: promotion.PromotionDecision, comparison: Comparison, trigger: str,
    data_through: date, *, database_url: str, tracking_uri: str,
) -> int:  # fmt: skip
    with engine.connect(database_url) as conn:
        return challenger.record_decision(
            conn, tracking_uri, spec_named(model), decision, comparison,
            trigger=trigger, data_through=data_through,
        )  # fmt: skip


@task(cache_policy=NONE)
def record_stop(
    model: str, report: quality.QualityReport, trigger: str, window: Window, *,
    database_url: str, tracking_uri: str,
) -> int:  # fmt: skip
    champion = challenger.champion_version(tracking_uri, spec_named(model))
    with engine.connect(database_url) as conn:
        return challenger.record_stop(
            conn, spec_named(model), report.reasons, report.numbers, trigger=trigger,
            champion_version=champion, data_through=window.data_through,
        )  # fmt: skip


@flow(name="retrain-models", log_prints=True)
def retrain_models(
    model: str = "moneyline",
    reason: str = "scheduled",
    force: bool = False,
    eval_season: int | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    as_of: date | None = None,
    min_train_games: int = 2000,
    min_eval_games: int = 300,
) -> dict:
    """Returns `challenger.RetrainOutcome.as_dict()`: the decision, its reason, the bootstrap
    interval and the audit row id."""
    settings = get_settings()
    database_url = runtime.database_url(settings)
    tracking_uri = runtime.mlflow_tracking_uri(settings)
    prepare_database(database_url)
    frame = build_features(database_url, settings.devig_method)
    spec = spec_named(model)
    window = challenger.split_window(training_rows(spec, frame), spec, eval_season)
    trigger = f"{reason} (--force)" if force else reason
    outcome = partial(
        challenger.RetrainOutcome, model=model, trigger=trigger, eval_season=window.eval_season,
        n_eval_games=len(window.evaluation),
    )  # fmt: skip

    # Gate 1: data quality. Failing data stops the run and registers nothing.
    limits = quality.QualityThresholds(
        min_train_games=min_train_games, min_eval_games=min_eval_games
    )
    report = check_data(window, model, as_of, limits)
    if not report.passed:
        audit_id = record_stop(
            model, report, trigger, window, database_url=database_url, tracking_uri=tracking_uri
        )
        reason_text = "; ".join(report.reasons)
        print(f"{model}: stopped at the data-quality gate: {reason_text}")
        return outcome(action="stopped", reason=reason_text, audit_id=audit_id).as_dict()

    # Challenger vs champion on the same evaluation games; behaviour checks; decision.
    experiment_id = mlflow_store.ensure_experiment(tracking_uri, EXPERIMENT, settings.artifact_root)
    version = train_challenger(
        window, model, trigger, database_url=database_url, tracking_uri=tracking_uri,
        experiment_id=experiment_id,
    ).version  # fmt: skip
    comparison = compare(window, model, version, confidence, n_boot, tracking_uri=tracking_uri)
    decision = promotion.decide_promotion(
        comparison.interval, checks.failed(comparison.checks), force=force,
        identical=version == comparison.champion_version,
    )  # fmt: skip
    audit_id = record_decision(
        model, decision, comparison, trigger, window.data_through,
        database_url=database_url, tracking_uri=tracking_uri,
    )  # fmt: skip

    action = "promoted" if decision.promote else "rejected"
    create_markdown_artifact(
        f"**{model}**: challenger v{version} **{action}**{' (forced)' * decision.forced}: "
        f"{decision.reason} (trigger: {trigger})",
        key=f"retrain-decision-{model}",
    )
    if decision.promote:
        emit_event(
            **model_event(
                MODEL_PROMOTED,
                model,
                version=version,
                reason=decision.reason,
                forced=decision.forced,
            )
        )
    print(f"{model}: challenger v{version} {action}: {decision.reason}")
    return outcome(
        action=action, reason=decision.reason, audit_id=audit_id, decision=decision,
        comparison=comparison,
    ).as_dict()  # fmt: skip


if __name__ == "__main__":
    retrain_models()
