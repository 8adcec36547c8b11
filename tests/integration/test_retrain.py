"""retrain-models and monitor-champion against real PostgreSQL, a real MLflow registry and the
Prefect test server: gates, promotion by paired bootstrap, audit, failure injection, rollback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bullpen.collect.history import replay
from bullpen.db import engine
from bullpen.features.dataset import load_feature_frame
from bullpen.models import checks, mlflow_store, train
from bullpen.ops import prefect_process
from bullpen.registry import audit, challenger, promotion, transition
from tests.integration.conftest import stage_seasons

SEASONS = [2016, 2017, 2018, 2019]
EVAL_SEASON = 2018  # train on 2016-2017, judge on 2018; 2019 is "live" after the promotion
NAME = "bullpen-moneyline"


@pytest.fixture(scope="module")
def loaded(bullpen_env: dict[str, str]) -> dict[str, str]:
    data_dir = stage_seasons(Path(bullpen_env["BULLPEN_DATA_DIR"]), SEASONS)
    for files in replay.find_season_files(data_dir):
        replay.replay_season(bullpen_env["BULLPEN_DATABASE_URL"], files)
    return bullpen_env


@pytest.fixture(scope="module")
def frame(loaded: dict[str, str]) -> pd.DataFrame:
    return load_feature_frame(loaded["BULLPEN_DATABASE_URL"], "shin")


def _uri(env: dict[str, str]) -> str:
    return env["BULLPEN_MLFLOW_TRACKING_URI"]


def _versions(uri: str) -> set[str]:
    return {
        str(v.version) for v in mlflow_store.client(uri).search_model_versions(f"name='{NAME}'")
    }


def _audit(env: dict[str, str]) -> list[audit.AuditRow]:
    with engine.connect(env["BULLPEN_DATABASE_URL"]) as conn:
        return audit.list_audit(conn, "moneyline")


def _register_shuffled(env: dict[str, str], frame: pd.DataFrame, seed: int) -> str:
    """A deliberately bad model: labels shuffled and no market anchor, so it learns nothing."""
    window = challenger.split_window(frame, train.MONEYLINE, EVAL_SEASON)
    history = window.train.copy()
    history["home_win"] = np.random.default_rng(seed).permutation(history["home_win"].to_numpy())
    spec = dataclasses.replace(train.MONEYLINE, base_margin=None)
    fitted = train.train_model(history, spec)
    uri = _uri(env)
    experiment = mlflow_store.ensure_experiment(
        uri, "tests-retrain", Path(env["BULLPEN_HOME"]) / "a"
    )
    registered = challenger.register(
        tracking_uri=uri, experiment_id=experiment, model=fitted,
        fingerprint=train.training_fingerprint(history, spec, fitted.params) + f"-shuffled{seed}",
        trigger="test: shuffled labels", metrics={},
    )  # fmt: skip
    assert not registered.reused
    return registered.version


def _setup_entry() -> audit.AuditEntry:
    return audit.AuditEntry(
        model="moneyline", action="promoted", stage="manual", trigger="test setup",
        reason="start from a known champion",
    )  # fmt: skip


@pytest.fixture(scope="module")
def bad_champion(loaded: dict[str, str], frame: pd.DataFrame) -> str:
    """Start from a shuffled-label champion, so a properly trained challenger must beat it."""
    version = _register_shuffled(loaded, frame, seed=0)
    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        transition.promote(conn, _uri(loaded), NAME, version, _setup_entry())
    return version


def test_retrain_stops_at_the_data_gate_without_a_new_version(
    loaded: dict[str, str], bad_champion: str, prefect_server: None
) -> None:
    versions = _versions(_uri(loaded))
    flow = prefect_process.load_flow("retrain.py:retrain_models")
    result = flow(eval_season=EVAL_SEASON, reason="test gate", min_train_games=10**6)  # type: ignore[operator]

    assert result["action"] == "stopped"
    assert "volume:" in result["reason"] and "< 1000000" in result["reason"]
    assert _versions(_uri(loaded)) == versions  # nothing registered
    row = _audit(loaded)[0]
    assert (row.action, row.stage, row.trigger) == ("stopped", "data_quality", "test gate")
    assert row.champion_before == row.champion_after == bad_champion


def test_better_challenger_is_promoted_and_audit_agrees_with_aliases(
    loaded: dict[str, str], bad_champion: str, prefect_server: None
) -> None:
    flow = prefect_process.load_flow("retrain.py:retrain_models")
    result = flow(eval_season=EVAL_SEASON, reason="test better")  # type: ignore[operator]

    assert result["action"] == "promoted" and result["forced"] is False
    interval = result["interval"]
    assert interval["upper"] < 0 and interval["n"] == result["n_eval_games"] > 2000
    assert result["challenger_log_loss"] < result["champion_log_loss"]
    aliases = transition.read_aliases(_uri(loaded), NAME)
    assert aliases == {
        "champion": result["challenger_version"],
        "challenger": None,
        "previous-champion": bad_champion,
    }
    row = _audit(loaded)[0]
    assert row.audit_id == result["audit_id"] and row.action == "promoted"
    assert row.champion_after == aliases["champion"]
    assert row.champion_before == aliases["previous-champion"]
    assert row.ci_upper == pytest.approx(interval["upper"]) and row.ci_upper < 0
    assert row.numbers["checks"]["market_monotone"]["passed"] is True


def test_bad_challenger_is_never_promoted_and_audit_says_why(
    loaded: dict[str, str], frame: pd.DataFrame, bad_champion: str
) -> None:
    uri = _uri(loaded)
    before = transition.read_aliases(uri, NAME)
    assert before["champion"] not in (None, bad_champion)  # the good model from the test above
    version = _register_shuffled(loaded, frame, seed=1)
    window = challenger.split_window(frame, train.MONEYLINE, EVAL_SEASON)
    comparison = challenger.compare_with_champion(uri, train.MONEYLINE, version, window.evaluation)
    decision = promotion.decide_promotion(comparison.interval, checks.failed(comparison.checks))
    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        audit_id = challenger.record_decision(
            conn, uri, train.MONEYLINE, decision, comparison, trigger="test shuffled",
            data_through=window.data_through,
        )  # fmt: skip

    assert decision.promote is False
    after = transition.read_aliases(uri, NAME)
    assert after["champion"] == before["champion"]
    assert after["challenger"] == version
    row = _audit(loaded)[0]
    assert (row.audit_id, row.action, row.challenger_version) == (audit_id, "rejected", version)
    assert "not better at 95%" in row.reason
    assert row.ci_lower is not None and row.ci_lower > 0  # significantly *worse*, in fact
    assert row.champion_before == row.champion_after == before["champion"]


def test_failure_between_alias_move_and_audit_commit_leaves_everything_as_it_was(
    loaded: dict[str, str], frame: pd.DataFrame
) -> None:
    uri = _uri(loaded)
    before = transition.read_aliases(uri, NAME)
    rows_before = len(_audit(loaded))
    target = before["challenger"]
    assert target is not None and target != before["champion"]
    window = challenger.split_window(frame, train.MONEYLINE, EVAL_SEASON)
    comparison = challenger.compare_with_champion(
        uri, train.MONEYLINE, target, window.evaluation, n_boot=200
    )
    forced = promotion.decide_promotion(comparison.interval, [], force=True)
    seen: list[dict] = []

    def crash() -> None:
        seen.append(transition.read_aliases(uri, NAME))  # proof the aliases had moved
        raise RuntimeError("injected failure after the alias move")

    with (
        engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn,
        pytest.raises(RuntimeError, match="injected"),
    ):
        challenger.record_decision(
            conn, uri, train.MONEYLINE, forced, comparison, trigger="test crash",
            data_through=window.data_through, after_alias_move=crash,
        )  # fmt: skip

    assert seen and seen[0]["champion"] == target
    assert transition.read_aliases(uri, NAME) == before
    assert len(_audit(loaded)) == rows_before


def test_degraded_champion_is_rolled_back_automatically(
    loaded: dict[str, str], frame: pd.DataFrame, prefect_server: None
) -> None:
    uri = _uri(loaded)
    good = transition.read_aliases(uri, NAME)["champion"]
    bad = transition.read_aliases(uri, NAME)["challenger"]
    assert good and bad
    # Force the shuffled-label model in (audited as forced); 2019 games then settle after it.
    window = challenger.split_window(frame, train.MONEYLINE, EVAL_SEASON)
    comparison = challenger.compare_with_champion(
        uri, train.MONEYLINE, bad, window.evaluation, n_boot=200
    )
    forced = promotion.decide_promotion(comparison.interval, [], force=True)
    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        challenger.record_decision(
            conn, uri, train.MONEYLINE, forced, comparison, trigger="test force",
            data_through=window.data_through,
        )  # fmt: skip
    assert _audit(loaded)[0].forced is True
    assert transition.read_aliases(uri, NAME)["previous-champion"] == good

    result = prefect_process.load_flow("monitor.py:monitor_champion")()  # type: ignore[operator]

    assert result["rolled_back"] is True
    assert result["n_settled"] > 2000  # the 2019 season, after the promotion's data
    assert result["interval"]["lower"] > 0
    aliases = transition.read_aliases(uri, NAME)
    assert aliases["champion"] == good and aliases["previous-champion"] is None
    row = _audit(loaded)[0]
    assert (row.action, row.stage, row.champion_before, row.champion_after) == (
        "rolled_back", "monitor", bad, good,
    )  # fmt: skip
    assert "worse than previous-champion" in row.reason
    assert row.audit_id == result["audit_id"] and row.trigger == "monitor-champion"
    interval = result["interval"]
    assert (row.ci_lower, row.ci_upper) == (interval["lower"], interval["upper"])
    assert row.numbers == {
        "bootstrap": result["interval"], "n_settled": result["n_settled"], "source": "rescored",
    }  # fmt: skip
    assert result["source"] == "rescored"  # no bets ledger here: re-scored history
    assert row.data_through is not None and row.data_through.year == 2019
    # Nothing left to compare against: a second run keeps the champion.
    again = prefect_process.load_flow("monitor.py:monitor_champion")()  # type: ignore[operator]
    assert again["rolled_back"] is False and again["audit_id"] is None


def test_manual_rollback_moves_both_aliases_through_transition_once(
    loaded: dict[str, str], frame: pd.DataFrame
) -> None:
    from bullpen.registry import monitor

    uri = _uri(loaded)
    good = transition.read_aliases(uri, NAME)["champion"]
    bad = _audit(loaded)[0].champion_before  # the version rolled back by the test above
    assert good and bad and good != bad
    window = challenger.split_window(frame, train.MONEYLINE, EVAL_SEASON)
    comparison = challenger.compare_with_champion(
        uri, train.MONEYLINE, bad, window.evaluation, n_boot=100
    )
    forced = promotion.decide_promotion(comparison.interval, [], force=True)
    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        challenger.record_decision(
            conn, uri, train.MONEYLINE, forced, comparison, trigger="test force again",
            data_through=window.data_through,
        )  # fmt: skip
        audit_id = monitor.rollback_champion(
            conn, uri, train.MONEYLINE, stage="manual", trigger="operator", reason="looks off"
        )
        rows_after_first = len(_audit(loaded))
        # previous-champion is gone now: a second rollback refuses and writes nothing.
        with pytest.raises(LookupError, match="no previous-champion"):
            monitor.rollback_champion(
                conn, uri, train.MONEYLINE, stage="manual", trigger="operator", reason="again"
            )

    assert transition.read_aliases(uri, NAME) == {
        "champion": good, "challenger": None, "previous-champion": None,
    }  # fmt: skip
    row = _audit(loaded)[0]
    assert (row.audit_id, row.action, row.stage, row.trigger, row.reason) == (
        audit_id, "rolled_back", "manual", "operator", "looks off",
    )  # fmt: skip
    assert (row.champion_before, row.champion_after) == (bad, good)
    assert (row.ci_lower, row.ci_upper, row.confidence) == (None, None, None)
    assert row.numbers == {"bootstrap": None} and row.data_through is None
    assert len(_audit(loaded)) == rows_after_first


def test_the_closing_line_model_retrains_on_rows_with_both_prices(
    loaded: dict[str, str], frame: pd.DataFrame, prefect_server: None
) -> None:
    """What retrain-models/on-drift runs when check-drift flags the closing-line champion."""
    flow = prefect_process.load_flow("retrain.py:retrain_models")
    result = flow(model="closing-line", eval_season=EVAL_SEASON, reason="test drift")  # type: ignore[operator]
    print(result)
    usable = frame[(frame["season"] == EVAL_SEASON) & frame["p_close_home"].notna()
                   & frame["p_open_home"].notna()]  # fmt: skip
    assert result["n_eval_games"] == len(usable) > 2000
    assert result["action"] == "promoted"  # the first closing-line champion
    aliases = transition.read_aliases(_uri(loaded), "bullpen-closing-line")
    assert aliases["champion"] == result["challenger_version"]
    with engine.connect(loaded["BULLPEN_DATABASE_URL"]) as conn:
        (row, *_) = audit.list_audit(conn, "closing-line")
    assert (row.action, row.trigger, row.champion_after) == (
        "promoted", "test drift", result["challenger_version"],
    )  # fmt: skip
