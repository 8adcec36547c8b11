"""Post-promotion monitoring: is the new champion worse than previous-champion on the games
settled since the promotion? If so, roll back (aliases + audit row in one unit).

The champion is judged on what it predicted before the games whenever the bets ledger holds
settled forward picks of it since the promotion (bullpen.betting.forward.forward_predictions:
the probabilities stored at decision time, labelled by the settled result or closing
consensus); previous-champion made no forward pick on those games, so it is re-scored on them.
Without such picks both are re-scored on the frame's history, as before, and the result says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from bullpen.betting.forward import forward_games, forward_predictions
from bullpen.models.assess import comparable_games
from bullpen.models.checks import Predict
from bullpen.models.train import ModelSpec
from bullpen.registry import audit, challenger, transition
from bullpen.registry.bootstrap import BootstrapInterval, paired_bootstrap
from bullpen.registry.challenger import per_game_loss
from bullpen.registry.promotion import RollbackDecision, decide_rollback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    model: str
    champion: str | None
    previous: str | None
    n_settled: int
    interval: BootstrapInterval | None  # mean(champion - previous) per-game log loss
    decision: RollbackDecision
    audit_id: int | None = None  # the rollback's audit row, once rolled back
    # "forward": the champion's stored ledger predictions; "rescored": both re-scored history.
    source: str = "rescored"
    source_note: str = ""  # the source in words, with the number of forward picks

    def as_dict(self) -> dict[str, Any]:
        """What monitor-champion returns (JSON; the keys the CLI reads)."""
        return {
            "model": self.model,
            "rolled_back": self.audit_id is not None,
            "audit_id": self.audit_id,
            "champion": self.champion,
            "previous_champion": self.previous,
            "n_settled": self.n_settled,
            "source": self.source,
            "source_note": self.source_note,
            "reason": self.decision.reason,
            "interval": self.interval.as_dict() if self.interval else None,
        }


def judge_champion(
    conn: psycopg.Connection,
    tracking_uri: str,
    spec: ModelSpec,
    frame: pd.DataFrame,
    *,
    min_games: int = 100,
    confidence: float = 0.95,
    n_boot: int = 2000,
) -> MonitorResult:  # pragma: no mutate block (registry glue; integration: test_retrain.py)
    """Compare champion and previous-champion on games after the last promotion's data."""
    aliases = transition.read_aliases(tracking_uri, spec.registered_name)
    promoted = audit.last_promotion(conn, spec.name)
    forward = forward_predictions(conn, spec.name)
    return judge_versions(
        frame,
        spec,
        aliases[transition.CHAMPION],
        aliases[transition.PREVIOUS_CHAMPION],
        promoted=promoted is not None,
        since=promoted.data_through if promoted is not None else None,
        predictor=lambda version: challenger.version_predictor(tracking_uri, spec, version),
        min_games=min_games,
        confidence=confidence,
        n_boot=n_boot,
        forward=forward,
    )


def judge_versions(
    frame: pd.DataFrame,
    spec: ModelSpec,
    champion: str | None,
    previous: str | None,
    *,
    promoted: bool,
    since: date | None,
    predictor: Callable[[str], Predict],
    min_games: int = 100,
    confidence: float = 0.95,
    n_boot: int = 2000,
    forward: pd.DataFrame | None = None,
) -> MonitorResult:
    """The rollback decision without the registry: compare both versions (`predictor` maps a
    version to its predict function) on the settled games strictly after `since`, the newest
    game the promotion had seen, so no game that judged the promotion judges it again.

    `forward` (`forward_predictions` of this model) decides the source: the champion's stored
    predictions on its settled forward picks after `since` when there is one, else re-scored
    history. The same paired bootstrap and `min_games` rule judge either.
    """
    if champion is None or previous is None or not promoted:
        why = "no promotion with a previous-champion to compare against"
        return MonitorResult(spec.name, champion, previous, 0, None, RollbackDecision(False, why))
    later = frame if since is None else frame[frame["game_date"] > since]
    picks = forward_games(forward, spec.target, champion, after=since)
    if not picks.empty:  # previous-champion needs the games' features: picks on framed games
        picks = picks[picks["game_id"].isin(later["game_id"])]
    if not picks.empty:
        games = later.set_index("game_id").loc[picks["game_id"]].reset_index()
        y = picks["label"].to_numpy(float)
        loss_new = per_game_loss(spec, y, picks["p_home"].to_numpy(float))
        loss_old = per_game_loss(spec, y, predictor(previous)(games))
        note = (
            f"judged on v{champion}'s {len(picks)} settled forward picks (predictions stored "
            f"in the bets ledger before the games); v{previous} re-scored on the same games"
        )
        return _decide(spec, champion, previous, loss_new, loss_old, note, "forward",
                       min_games=min_games, confidence=confidence, n_boot=n_boot)  # fmt: skip
    note = f"no settled forward picks of v{champion} in the bets ledger: re-scored history"
    games = comparable_games(later, spec)
    if games.empty:
        why = f"no settled games after {since}"
        decision = RollbackDecision(False, why)
        return MonitorResult(
            spec.name, champion, previous, 0, None, decision, None, "rescored", note
        )
    y = games[spec.target].to_numpy(float)
    loss_new = per_game_loss(spec, y, predictor(champion)(games))
    loss_old = per_game_loss(spec, y, predictor(previous)(games))
    return _decide(spec, champion, previous, loss_new, loss_old, note, "rescored",
                   min_games=min_games, confidence=confidence, n_boot=n_boot)  # fmt: skip


def _decide(
    spec: ModelSpec, champion: str, previous: str, loss_new: np.ndarray, loss_old: np.ndarray,
    note: str, source: str, *, min_games: int, confidence: float, n_boot: int,
) -> MonitorResult:  # fmt: skip
    interval = paired_bootstrap(loss_new, loss_old, confidence=confidence, n_boot=n_boot)
    decision = decide_rollback(interval, min_games=min_games)
    return MonitorResult(
        spec.name, champion, previous, len(loss_new), interval, decision, None, source, note
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
    data_through: date | None = None,
) -> int:  # pragma: no mutate block (registry glue; integration: test_retrain.py)
    """champion <- previous-champion with an audit row, one unit through `transition`; return
    the audit id. `interval` (the monitor's CI of champion - previous) is None for a manual one.

    Raises:
        LookupError: there is no previous-champion (nothing moves, no row is written).
    """
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
        data_through=data_through,
    )
    return transition.rollback(conn, tracking_uri, spec.registered_name, entry)
