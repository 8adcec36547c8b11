"""The typed results the registry flows return as JSON, and the per-game loss the decisions use.

The keys below are the contract with the CLI (src/bullpen/cli reads them), so they are spelled
out by hand rather than derived from the dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from bullpen.models.assess import SeasonEvaluation
from bullpen.models.checks import CheckResult
from bullpen.models.evaluate import Metrics, log_loss_per_game, score_soft_probabilities
from bullpen.models.train import MONEYLINE
from bullpen.registry.bootstrap import BootstrapInterval
from bullpen.registry.challenger import Comparison, RetrainOutcome, per_game_loss
from bullpen.registry.champion import ALREADY_CHAMPION, ModelSummary, Registration
from bullpen.registry.monitor import MonitorResult
from bullpen.registry.promotion import RollbackDecision, decide_promotion

CI = BootstrapInterval(-0.01, -0.02, -0.001, 0.95, 2400, 2000)
DECIDED_KEYS = {
    "model", "trigger", "eval_season", "n_eval_games", "action", "reason", "audit_id",
    "forced", "challenger_version", "champion_before", "challenger_log_loss",
    "champion_log_loss", "interval",
}  # fmt: skip
STOPPED_KEYS = {
    "model", "trigger", "eval_season", "n_eval_games", "action", "reason", "audit_id",
}  # fmt: skip


def _comparison() -> Comparison:
    return Comparison("3", "2", 0.66, 0.67, CI, [CheckResult("market_monotone", True, "ok")])


def test_retrain_outcome_of_a_decision_has_every_key_the_cli_prints() -> None:
    decision = decide_promotion(CI, [])
    outcome = RetrainOutcome(
        "moneyline", "scheduled", 2019, 2400, "promoted", decision.reason, 7, decision,
        _comparison(),
    )  # fmt: skip
    out = outcome.as_dict()
    assert set(out) == DECIDED_KEYS
    assert (out["challenger_version"], out["champion_before"], out["audit_id"]) == ("3", "2", 7)
    assert (out["challenger_log_loss"], out["champion_log_loss"]) == (0.66, 0.67)
    assert out["interval"] == CI.as_dict() and out["forced"] is False
    assert json.loads(json.dumps(out)) == out


def test_a_stopped_retrain_has_no_challenger_keys() -> None:
    out = RetrainOutcome("totals", "drift", 2019, 12, "stopped", "volume: 12 < 300", 4).as_dict()
    assert set(out) == STOPPED_KEYS
    assert (out["action"], out["reason"], out["audit_id"]) == ("stopped", "volume: 12 < 300", 4)


@pytest.mark.parametrize("audit_id", [None, 9])
def test_monitor_result_says_rolled_back_exactly_when_an_audit_row_exists(
    audit_id: int | None,
) -> None:
    result = MonitorResult(
        "moneyline", "5", "4", 300, CI, RollbackDecision(audit_id is not None, "why"), audit_id
    )
    out = result.as_dict()
    assert out == {
        "model": "moneyline", "rolled_back": audit_id is not None, "audit_id": audit_id,
        "champion": "5", "previous_champion": "4", "n_settled": 300, "source": "rescored",
        "source_note": "", "reason": "why", "interval": CI.as_dict(),
    }  # fmt: skip


def test_train_models_summary_keeps_its_keys() -> None:
    metrics = Metrics(0.66, 0.23, 0.6, 0.01, 2400)
    evaluation = SeasonEvaluation("moneyline", 2019, {"model": metrics}, {}, pd.DataFrame())
    registration = Registration(
        "bullpen-moneyline", "1", "run", True, ALREADY_CHAMPION, "1", None, None
    )
    out = asdict(ModelSummary.of(registration, evaluation))
    assert out == {
        "version": "1", "champion_version": "1", "reused_version": True,
        "decision": "already champion", "comparison": {"model": metrics.as_dict()},
    }  # fmt: skip


def test_per_game_loss_is_the_log_loss_for_outcomes() -> None:
    y = np.array([1.0, 0.0, 1.0])
    p = np.array([0.7, 0.2, 0.4])
    assert np.allclose(per_game_loss(MONEYLINE, y, p), log_loss_per_game(y, p))
    with pytest.raises(ValueError, match="only 0 and 1"):
        per_game_loss(MONEYLINE, np.array([0.3]), np.array([0.5]))


def test_per_game_loss_is_the_cross_entropy_for_a_probability_target() -> None:
    from bullpen.models.closing_line import CLOSING_LINE

    target = np.array([0.55, 0.31, 0.72, 0.5])
    p = np.array([0.52, 0.35, 0.70, 0.5])
    loss = per_game_loss(CLOSING_LINE, target, p)
    by_hand = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    assert np.allclose(loss, by_hand)
    assert loss.mean() == pytest.approx(score_soft_probabilities(target, p).log_loss)
    # The cross-entropy is smallest when the forecast equals the target.
    assert per_game_loss(CLOSING_LINE, target, target).sum() < loss.sum()
