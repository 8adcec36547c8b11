"""Register a trained model as a version and give it the champion alias only when it earns it."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bullpen.models import checks
from bullpen.models.assess import SeasonEvaluation, score_for_spec
from bullpen.models.train import TrainedModel, predict_booster
from bullpen.registry import challenger, mlflow_store
from bullpen.registry.promotion import ChampionDecision, decide_champion
from bullpen.report import plot_calibration

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    run_id: str
    reused: bool  # an identical model (same fingerprint) was already registered
    decision: ChampionDecision
    champion_version: str | None  # None: no champion (the first model failed its checks)


def register_and_decide(
    *,
    tracking_uri: str,
    experiment_id: str,
    model: TrainedModel,
    evaluation: SeasonEvaluation,
    eval_games: pd.DataFrame,
    fingerprint: str,
) -> Registration:
    """Log and register `model` (unless an identical version exists), then apply the champion rule.

    The current champion is re-scored on `eval_games`, the same games as the candidate, so the
    comparison is fair even if the champion was evaluated on other games when it was promoted.
    """
    name = model.spec.registered_name
    existing = mlflow_store.find_version_by_fingerprint(tracking_uri, name, fingerprint)
    if existing is not None:
        version, run_id, reused = str(existing.version), str(existing.run_id), True
    else:
        run_id, model_uri = _log_run(tracking_uri, experiment_id, model, evaluation, fingerprint)
        registered = mlflow_store.register_version(
            tracking_uri,
            name,
            model_uri,
            run_id,
            {
                mlflow_store.FINGERPRINT_TAG: fingerprint,
                mlflow_store.BASE_MARGIN_TAG: model.spec.base_margin or "",
                "eval_season": str(evaluation.season),
                "eval_log_loss": f"{evaluation.model_log_loss():.6f}",
            },
        )
        version, reused = str(registered.version), False

    champion = mlflow_store.get_alias_version(tracking_uri, name, mlflow_store.CHAMPION)
    if champion is not None and str(champion.version) == version:
        decision = ChampionDecision(False, "already champion", evaluation.model_log_loss(), None)
        return Registration(name, version, run_id, reused, decision, version)

    champion_loss = None
    if champion is not None:
        booster = mlflow_store.load_booster(tracking_uri, f"models:/{name}/{champion.version}")
        p = predict_booster(booster, eval_games, mlflow_store.base_margin_of(champion))
        champion_loss = score_for_spec(
            model.spec, eval_games[model.spec.target].to_numpy(float), p
        ).log_loss
    # The same behaviour gate as retrain-models: this path decides the very first champion.
    market = challenger.MARKET_FEATURE[model.spec.target]
    failed = checks.failed(checks.run_behaviour_checks(model.predict, eval_games, market))
    decision = decide_champion(evaluation.model_log_loss(), champion_loss, failed_checks=failed)
    if decision.promote:
        mlflow_store.set_alias(tracking_uri, name, mlflow_store.CHAMPION, version)
    champion_version = version if decision.promote else _version_or_none(champion)
    log.info("%s v%s: %s", name, version, decision.reason)
    return Registration(name, version, run_id, reused, decision, champion_version)


def _version_or_none(registered: object) -> str | None:
    return None if registered is None else str(registered.version)  # type: ignore[attr-defined]


def _log_run(
    tracking_uri: str,
    experiment_id: str,
    model: TrainedModel,
    evaluation: SeasonEvaluation,
    fingerprint: str,
) -> tuple[str, str]:
    metrics = {
        f"{source}_{metric}": value
        for source, values in evaluation.as_dict().items()
        for metric, value in values.items()
    }
    metrics["num_rounds"] = float(model.num_rounds)
    with tempfile.TemporaryDirectory() as tmp:
        plot = plot_calibration(
            evaluation.calibration, Path(tmp) / f"calibration_{model.spec.name}.png"
        )
        return mlflow_store.log_training_run(
            tracking_uri=tracking_uri,
            experiment_id=experiment_id,
            run_name=f"{model.spec.name}-eval-{evaluation.season}",
            booster=model.booster,
            params={
                **model.params,
                "train_seasons": model.train_seasons,
                "features": ",".join(model.spec.features),
            },
            metrics=metrics,
            tags={"bullpen.model": model.spec.name, mlflow_store.FINGERPRINT_TAG: fingerprint},
            artifacts=[plot],
        )
