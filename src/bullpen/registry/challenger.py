"""Candidate steps of train-models and retrain-models: split the window, register a version,
judge it against the champion on the same games (paired bootstrap and behaviour checks), and
record the decision through `transition` (promotion or rejection, each with its audit row)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from bullpen.models import checks, mlflow_store
from bullpen.models.assess import comparable_games
from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.train import (
    ModelSpec,
    TrainedModel,
    labelled,
    predict_booster,
    train_model,
    training_fingerprint,
)
from bullpen.registry import transition
from bullpen.registry.audit import AuditEntry, write_audit
from bullpen.registry.bootstrap import BootstrapInterval, paired_bootstrap
from bullpen.registry.promotion import PromotionDecision

log = logging.getLogger(__name__)

TRIGGER_TAG = "bullpen.retrain_trigger"
# The market price each model must be monotone in (the behaviour check perturbs it).
MARKET_FEATURE = {
    "home_win": "mkt_open_home_prob",
    "over_close": "mkt_open_over_prob",
    "p_close_home": "mkt_open_home_prob",  # the closing-line model
}


@dataclass
class Window:
    train: pd.DataFrame  # every row of seasons < eval_season
    evaluation: pd.DataFrame  # comparable (labelled, priced) rows of eval_season
    eval_season: int
    as_of: date  # newest game in the data considered

    @property
    def data_through(self) -> date:
        return max(self.evaluation["game_date"]) if len(self.evaluation) else self.as_of


def split_window(frame: pd.DataFrame, spec: ModelSpec, eval_season: int | None = None) -> Window:
    """Train on seasons before `eval_season`, judge on it (default: the newest labelled season)."""
    if eval_season is None:
        eval_season = int(frame.loc[frame[spec.target].notna(), "season"].max())
    considered = frame[frame["season"] <= eval_season]
    return Window(
        train=considered[considered["season"] < eval_season],
        evaluation=comparable_games(considered[considered["season"] == eval_season], spec),
        eval_season=eval_season,
        as_of=max(considered["game_date"]),
    )


@dataclass(frozen=True)
class RegisteredVersion:
    name: str  # the registered model name (ModelSpec.registered_name)
    version: str
    run_id: str
    reused: bool  # an identical model (same fingerprint) was already registered


def register(
    *,
    tracking_uri: str,
    experiment_id: str,
    model: TrainedModel,
    fingerprint: str,
    trigger: str,
    metrics: dict[str, float],
    run_name: str | None = None,
    artifacts: Sequence[Path] = (),
    version_tags: dict[str, str] | None = None,
) -> RegisteredVersion:
    """Log and register `model` unless an identical version (same fingerprint) exists.

    No alias moves here: the decision that follows moves them through `transition`.
    """
    name = model.spec.registered_name
    existing = mlflow_store.find_version_by_fingerprint(tracking_uri, name, fingerprint)
    if existing is not None:
        return RegisteredVersion(name, str(existing.version), str(existing.run_id), True)
    run_id, model_uri = mlflow_store.log_training_run(
        tracking_uri=tracking_uri,
        experiment_id=experiment_id,
        run_name=run_name or f"{model.spec.name}-challenger",
        booster=model.booster,
        params={
            **model.params,
            "train_seasons": model.train_seasons,
            "features": ",".join(model.spec.features),
        },
        metrics={**metrics, "num_rounds": float(model.num_rounds)},
        tags={
            "bullpen.model": model.spec.name,
            TRIGGER_TAG: trigger,
            mlflow_store.FINGERPRINT_TAG: fingerprint,
        },
        artifacts=list(artifacts),
    )
    tags = {
        mlflow_store.FINGERPRINT_TAG: fingerprint,
        mlflow_store.BASE_MARGIN_TAG: model.spec.base_margin or "",
        TRIGGER_TAG: trigger,
        **(version_tags or {}),
    }
    registered = mlflow_store.register_version(tracking_uri, name, model_uri, run_id, tags)
    return RegisteredVersion(name, str(registered.version), run_id, False)


def train_and_register(
    window: Window,
    spec: ModelSpec,
    params: dict[str, Any] | None,
    *,
    tracking_uri: str,
    experiment_id: str,
    trigger: str,
) -> RegisteredVersion:
    """Train on the window's training seasons and register the result (the challenger)."""
    fitted = train_model(window.train, spec, params)
    return register(
        tracking_uri=tracking_uri,
        experiment_id=experiment_id,
        model=fitted,
        fingerprint=training_fingerprint(window.train, spec, fitted.params),
        trigger=trigger,
        metrics={"train_rows": float(len(labelled(window.train, spec)))},
    )


def version_predictor(tracking_uri: str, spec: ModelSpec, version: str) -> checks.Predict:
    """A function games -> probabilities for a registered version (loaded once)."""
    registered = mlflow_store.client(tracking_uri).get_model_version(spec.registered_name, version)
    booster = mlflow_store.load_booster(tracking_uri, f"models:/{spec.registered_name}/{version}")
    margin = mlflow_store.base_margin_of(registered)
    return lambda games: predict_booster(booster, games, margin)


def per_game_loss(spec: ModelSpec, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-game log loss: 0/1 outcomes, or cross-entropy against a probability target (the
    closing-line model learns the vig-free close, not a result)."""
    if spec.objective != "cross_entropy":
        return log_loss_per_game(y, p)
    clipped = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1.0 - 1e-15)
    return -(y * np.log(clipped) + (1.0 - y) * np.log1p(-clipped))


@dataclass
class Comparison:
    challenger_version: str
    champion_version: str | None
    challenger_log_loss: float
    champion_log_loss: float | None
    interval: BootstrapInterval | None  # mean(challenger - champion) per-game log loss
    checks: list[checks.CheckResult] = field(default_factory=list)

    def numbers(self) -> dict[str, Any]:
        return {
            "challenger_log_loss": self.challenger_log_loss,
            "champion_log_loss": self.champion_log_loss,
            "bootstrap": self.interval.as_dict() if self.interval else None,
            "checks": {c.name: {"passed": c.passed, "detail": c.detail} for c in self.checks},
        }


@dataclass(frozen=True)
class RetrainOutcome:
    """What one retrain-models run decided; `as_dict()` is the flow's (JSON) return value."""

    model: str
    trigger: str
    eval_season: int
    n_eval_games: int
    action: str  # "stopped" (data gate), "promoted" or "rejected"
    reason: str
    audit_id: int
    decision: PromotionDecision | None = None  # None: stopped before any challenger existed
    comparison: Comparison | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "trigger": self.trigger,
            "eval_season": self.eval_season,
            "n_eval_games": self.n_eval_games,
            "action": self.action,
            "reason": self.reason,
            "audit_id": self.audit_id,
        }
        if self.decision is not None and self.comparison is not None:
            c = self.comparison
            out |= {
                "forced": self.decision.forced,
                "challenger_version": c.challenger_version,
                "champion_before": c.champion_version,
                "challenger_log_loss": c.challenger_log_loss,
                "champion_log_loss": c.champion_log_loss,
                "interval": c.interval.as_dict() if c.interval else None,
            }
        return out


def compare_with_champion(
    tracking_uri: str,
    spec: ModelSpec,
    challenger_version: str,
    games: pd.DataFrame,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Score challenger and champion on the same `games`, bootstrap, behaviour-check."""
    y = games[spec.target].to_numpy(float)
    predict_new = version_predictor(tracking_uri, spec, challenger_version)
    loss_new = per_game_loss(spec, y, predict_new(games))
    behaviour = checks.run_behaviour_checks(predict_new, games, MARKET_FEATURE[spec.target])
    name = spec.registered_name
    champion = mlflow_store.get_alias_version(tracking_uri, name, transition.CHAMPION)
    if champion is None:
        return Comparison(challenger_version, None, float(loss_new.mean()), None, None, behaviour)
    loss_old = per_game_loss(
        spec, y, version_predictor(tracking_uri, spec, str(champion.version))(games)
    )
    interval = paired_bootstrap(loss_new, loss_old, confidence=confidence, n_boot=n_boot, seed=seed)
    return Comparison(
        challenger_version,
        str(champion.version),
        float(loss_new.mean()),
        float(loss_old.mean()),
        interval,
        behaviour,
    )


def record_decision(
    conn: psycopg.Connection,
    tracking_uri: str,
    spec: ModelSpec,
    decision: PromotionDecision,
    comparison: Comparison,
    *,
    trigger: str,
    data_through: date,
    after_alias_move: Callable[[], None] | None = None,
) -> int:
    """Promote or reject through `transition` (aliases + audit row in one unit); the audit id.

    A rejected version keeps the `challenger` alias, so it can be inspected or forced later.
    """
    interval = comparison.interval
    entry = AuditEntry(
        model=spec.name,
        action="promoted" if decision.promote else "rejected",
        stage=decision.stage,
        trigger=trigger,
        reason=decision.reason,
        champion_before=comparison.champion_version,
        champion_after=comparison.champion_version,
        challenger_version=comparison.challenger_version,
        forced=decision.forced,
        ci_lower=interval.lower if interval else None,
        ci_upper=interval.upper if interval else None,
        confidence=interval.confidence if interval else None,
        numbers=comparison.numbers(),
        data_through=data_through,
    )
    if decision.promote:
        return transition.promote(
            conn, tracking_uri, spec.registered_name, comparison.challenger_version, entry,
            after_alias_move=after_alias_move,
        )  # fmt: skip
    return transition.reject(
        conn, tracking_uri, spec.registered_name, comparison.challenger_version, entry
    )


def record_stop(
    conn: psycopg.Connection, spec: ModelSpec, reasons: list[str], numbers: dict[str, Any],
    *, trigger: str, champion_version: str | None, data_through: date | None,
) -> int:  # fmt: skip
    """Gate 1 failed: audit why, register nothing."""
    entry = AuditEntry(
        model=spec.name,
        action="stopped",
        stage="data_quality",
        trigger=trigger,
        reason="; ".join(reasons),
        champion_before=champion_version,
        champion_after=champion_version,
        numbers=numbers,
        data_through=data_through,
    )
    with conn.transaction():
        return write_audit(conn, entry)


def training_seasons(tracking_uri: str, spec: ModelSpec, version: str) -> list[int]:
    """The seasons a registered version was trained on (its run's `train_seasons` param)."""
    mlflow_client = mlflow_store.client(tracking_uri)
    registered = mlflow_client.get_model_version(spec.registered_name, version)
    raw = mlflow_client.get_run(str(registered.run_id)).data.params.get("train_seasons", "[]")
    return [int(s) for s in json.loads(raw)]


def champion_version(tracking_uri: str, spec: ModelSpec) -> str | None:
    version = mlflow_store.get_alias_version(
        tracking_uri, spec.registered_name, transition.CHAMPION
    )
    return str(version.version) if version is not None else None
