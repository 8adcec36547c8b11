"""Post-promotion monitoring: is the new champion worse than previous-champion on the games
settled since the promotion? If so, roll back (aliases + audit row in one unit)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
import psycopg

from bullpen.models.assess import comparable_games
from bullpen.models.evaluate import log_loss_per_game
from bullpen.models.train import ModelSpec
from bullpen.registry import audit, challenger, transition
from bullpen.registry.bootstrap import BootstrapInterval, paired_bootstrap
from bullpen.registry.promotion import PromotionDecision, decide_rollback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    champion: str | None
    previous: str | None
    n_settled: int
    interval: BootstrapInterval | None  # mean(champion - previous) per-game log loss
    decision: PromotionDecision  # promote=True here means "roll back"
    audit_id: int | None = None


def judge_champion(
    conn: psycopg.Connection,
    tracking_uri: str,
    spec: ModelSpec,
    frame: pd.DataFrame,
    *,
    min_games: int = 100,
    confidence: float = 0.95,
    n_boot: int = 2000,
) -> MonitorResult:
    """Compare champion and previous-champion on games after the last promotion's data."""
    aliases = transition.read_aliases(tracking_uri, spec.registered_name)
    champion, previous = aliases[transition.CHAMPION], aliases[transition.PREVIOUS_CHAMPION]
    promoted = audit.last_promotion(conn, spec.name)
    if champion is None or previous is None or promoted is None:
        why = "no promotion with a previous-champion to compare against"
        return MonitorResult(
            champion, previous, 0, None, PromotionDecision(False, False, "monitor", why)
        )
    since = promoted.data_through
    later = frame if since is None else frame[frame["game_date"] > since]
    games = comparable_games(later, spec)
    if games.empty:
        why = f"no settled games after {since}"
        return MonitorResult(
            champion, previous, 0, None, PromotionDecision(False, False, "monitor", why)
        )
    y = games[spec.target].to_numpy(float)
    loss_new = log_loss_per_game(
        y, challenger.version_predictor(tracking_uri, spec, champion)(games)
    )
    loss_old = log_loss_per_game(
        y, challenger.version_predictor(tracking_uri, spec, previous)(games)
    )
    interval = paired_bootstrap(loss_new, loss_old, confidence=confidence, n_boot=n_boot)
    decision = decide_rollback(interval, min_games=min_games)
    return MonitorResult(champion, previous, len(games), interval, decision)


def _keep(champion: str | None, previous: str | None, why: str) -> MonitorResult:
    return MonitorResult(
        champion, previous, 0, None, PromotionDecision(False, False, "monitor", why)
    )


def rollback_champion(
    conn: psycopg.Connection,
    tracking_uri: str,
    spec: ModelSpec,
    *,
    stage: str,
    trigger: str,
    reason: str,
    interval: BootstrapInterval | None = None,
    numbers: dict | None = None,
    data_through: object = None,
) -> int:
    """champion <- previous-champion with an audit row (one unit); return the audit id."""
    entry = audit.AuditEntry(
        model=spec.name,
        action="rolled_back",
        stage=stage,
        trigger=trigger,
        reason=reason,
        ci_lower=interval.lower if interval else None,
        ci_upper=interval.upper if interval else None,
        confidence=interval.confidence if interval else None,
        numbers={"bootstrap": interval.as_dict() if interval else None, **(numbers or {})},
        data_through=data_through,  # type: ignore[arg-type]
    )
    return transition.rollback(conn, tracking_uri, spec.registered_name, entry)
