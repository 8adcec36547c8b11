"""train-models' registry step: register a trained model, then judge it with the same gates as
retrain-models (behaviour checks, paired bootstrap against the champion on the same games) and
record the decision through `transition`, so the first champion gets an audit row too."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg

from bullpen.models import checks
from bullpen.models.assess import SeasonEvaluation
from bullpen.models.train import TrainedModel
from bullpen.registry import challenger, transition
from bullpen.registry.challenger import Comparison
from bullpen.registry.promotion import PromotionDecision, decide_promotion
from bullpen.report import plot_calibration

log = logging.getLogger(__name__)

TRIGGER = "train-models"
# The decision when the trained model is the champion's own version: nothing to judge, no alias
# moves and no audit row, so rerunning an identical training changes nothing.
ALREADY_CHAMPION = PromotionDecision(False, False, "identical", "already champion")


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    run_id: str
    reused: bool  # an identical model (same fingerprint) was already registered
    decision: PromotionDecision
    champion_version: str | None  # after the decision; None: no champion (first one failed)
    comparison: Comparison | None = None  # None: already champion, nothing was compared
    audit_id: int | None = None  # the promoted/rejected row; None: already champion


@dataclass(frozen=True)
class ModelSummary:
    """What train-models returns per model (`dataclasses.asdict` of it: the CLI prints it)."""

    version: str
    champion_version: str | None
    reused_version: bool
    decision: str  # the decision's reason
    comparison: dict[str, dict[str, float]]  # source -> metrics on the evaluation season

    @classmethod
    def of(cls, registration: Registration, evaluation: SeasonEvaluation) -> ModelSummary:
        return cls(
            version=registration.version,
            champion_version=registration.champion_version,
            reused_version=registration.reused,
            decision=registration.decision.reason,
            comparison=evaluation.as_dict(),
        )


def register_and_decide(
    conn: psycopg.Connection,
    *,
    tracking_uri: str,
    experiment_id: str,
    model: TrainedModel,
    evaluation: SeasonEvaluation,
    eval_games: pd.DataFrame,
    fingerprint: str,
    trigger: str = TRIGGER,
    confidence: float = 0.95,
    n_boot: int = 2000,
) -> Registration:
    """Register `model` (unless an identical version exists), then promote or reject it.

    The candidate and the current champion are scored on `eval_games`, the same games, so the
    comparison is fair even if the champion was evaluated on other games when it was promoted.
    With no champion yet the candidate still has to pass the behaviour checks. `conn` (not in a
    transaction) receives the audit row.
    """
    spec = model.spec
    registered = _register(tracking_uri, experiment_id, model, evaluation, fingerprint, trigger)
    champion_before = challenger.champion_version(tracking_uri, spec)
    if champion_before == registered.version:
        return Registration(
            registered.name, registered.version, registered.run_id, registered.reused,
            ALREADY_CHAMPION, champion_before,
        )  # fmt: skip

    comparison = challenger.compare_with_champion(
        tracking_uri, spec, registered.version, eval_games, confidence=confidence, n_boot=n_boot
    )
    decision = decide_promotion(comparison.interval, checks.failed(comparison.checks))
    audit_id = challenger.record_decision(
        conn, tracking_uri, spec, decision, comparison,
        trigger=trigger, data_through=max(eval_games["game_date"]),
    )  # fmt: skip
    champion_after = transition.read_aliases(tracking_uri, registered.name)[transition.CHAMPION]
    log.info(
        "%s v%s: %s (audit #%d)", registered.name, registered.version, decision.reason, audit_id
    )
    return Registration(
        registered.name, registered.version, registered.run_id, registered.reused,
        decision, champion_after, comparison, audit_id,
    )  # fmt: skip


def _register(
    tracking_uri: str,
    experiment_id: str,
    model: TrainedModel,
    evaluation: SeasonEvaluation,
    fingerprint: str,
    trigger: str,
) -> challenger.RegisteredVersion:
    """Register with the season's scores as run metrics and version tags (the probes read the
    tags) and the calibration plot as an artifact."""
    metrics = {
        f"{source}_{metric}": value
        for source, values in evaluation.as_dict().items()
        for metric, value in values.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        plot = plot_calibration(
            evaluation.calibration, Path(tmp) / f"calibration_{model.spec.name}.png"
        )
        return challenger.register(
            tracking_uri=tracking_uri,
            experiment_id=experiment_id,
            model=model,
            fingerprint=fingerprint,
            trigger=trigger,
            metrics=metrics,
            run_name=f"{model.spec.name}-eval-{evaluation.season}",
            artifacts=[plot],
            version_tags={
                "eval_season": str(evaluation.season),
                "eval_log_loss": f"{evaluation.model_log_loss():.6f}",
            },
        )
