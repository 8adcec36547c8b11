"""Monitoring on forward predictions (issue #17 item 6) against real PostgreSQL and MLflow.

Two identical moneyline versions (v1, then v2 promoted with data through 2016) re-score 2019
identically; the bets ledger then holds v2's settled forward picks on 150 games of 2019 whose
stored predictions are confidently wrong. monitor-champion and check-drift must judge v2 on
those stored predictions (rollback, retrain) where a re-score sees nothing wrong, and say which
source they used; without picks they fall back to re-scored history and say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from bullpen.betting.forward import forward_predictions, strategy_model
from bullpen.collect.history import replay
from bullpen.db import engine
from bullpen.drift import check
from bullpen.features.dataset import load_feature_frame
from bullpen.models import mlflow_store, train
from bullpen.models.evaluate import log_loss_per_game
from bullpen.ops import prefect_process
from bullpen.registry import audit, challenger, monitor, transition
from tests.integration.conftest import stage_seasons
from tests.integration.forward_picks import record_and_settle

REFERENCE_SEASON, LATER_SEASON = 2016, 2019
N_PICKS = 150
DECIDED = datetime(2019, 3, 1, tzinfo=UTC)
SETTLED = datetime(2019, 11, 1, tzinfo=UTC)
THROUGH = date(2016, 12, 31)


def _register(env: dict[str, str], history: pd.DataFrame, extra: dict) -> str:
    fitted = train.train_model(history, train.MONEYLINE, {"num_boost_round": 30, **extra})
    uri = env["BULLPEN_MLFLOW_TRACKING_URI"]
    experiment = mlflow_store.ensure_experiment(
        uri, "tests-forward-monitoring", Path(env["BULLPEN_HOME"]) / "a"
    )
    return challenger.register(
        tracking_uri=uri, experiment_id=experiment, model=fitted,
        fingerprint=train.training_fingerprint(history, train.MONEYLINE, fitted.params),
        trigger="test", metrics={},
    ).version  # fmt: skip


@pytest.fixture(scope="module")
def world(bullpen_env: dict[str, str]) -> dict:
    data_dir = stage_seasons(
        Path(bullpen_env["BULLPEN_DATA_DIR"]), [REFERENCE_SEASON, LATER_SEASON]
    )
    for files in replay.find_season_files(data_dir):
        replay.replay_season(bullpen_env["BULLPEN_DATABASE_URL"], files)
    frame = load_feature_frame(bullpen_env["BULLPEN_DATABASE_URL"], "shin")
    history = frame[frame["season"] == REFERENCE_SEASON]
    uri = bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    versions = []
    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"]) as conn:
        # The same data and parameters: the same booster. train._lgb_params always sets
        # verbosity -1, so naming it only changes the fingerprint: a second registered version.
        for n, extra in ((1, {}), (2, {"verbosity": -1})):
            version = _register(bullpen_env, history, extra)
            entry = audit.AuditEntry(
                model="moneyline", action="promoted", stage="manual", trigger="test setup",
                reason=f"version {n}", data_through=THROUGH,
            )  # fmt: skip
            transition.promote(conn, uri, train.MONEYLINE.registered_name, version, entry)
            versions.append(version)
    assert versions[0] != versions[1]
    aliases = transition.read_aliases(uri, train.MONEYLINE.registered_name)
    assert (aliases[transition.CHAMPION], aliases[transition.PREVIOUS_CHAMPION]) == (
        versions[1],
        versions[0],
    )
    return {"env": bullpen_env, "frame": frame, "v1": versions[0], "v2": versions[1]}


@pytest.fixture(scope="module")
def db(world: dict) -> Iterator[psycopg.Connection]:
    with engine.connect(world["env"]["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def _picked_games(frame: pd.DataFrame) -> pd.DataFrame:
    later = frame[(frame["season"] == LATER_SEASON) & frame["home_win"].notna()]
    later = later[later["p_open_home"].notna() & later["p_close_home"].notna()]
    return later.sort_values(["game_date", "game_id"]).head(N_PICKS).reset_index(drop=True)


def _record_wrong_forward_picks(db: psycopg.Connection, world: dict) -> pd.DataFrame:
    """v2's picks as recommend-bets stores them, each predicting the loser at 0.8, settled."""
    games = _picked_games(world["frame"])
    strategy = f"opener:moneyline-v{world['v2']}:t0:k0.25"
    assert strategy_model(strategy) == ("moneyline", world["v2"])
    stored = np.where(games["home_win"] == 1.0, 0.2, 0.8)
    summary = record_and_settle(
        db, games, stored, np.where(stored > 0.5, "home", "away"), strategy=strategy,
        model_version=world["v2"], decided=DECIDED, settled=SETTLED,
    )  # fmt: skip
    assert summary.by_state == {"lost": N_PICKS}  # every stored prediction backed the loser
    return games.assign(stored=stored)


def test_monitor_falls_back_to_rescored_history_then_judges_stored_predictions(
    world: dict, db: psycopg.Connection
) -> None:
    uri = world["env"]["BULLPEN_MLFLOW_TRACKING_URI"]
    frame = world["frame"]
    rescored = monitor.judge_champion(db, uri, train.MONEYLINE, frame, n_boot=300)
    print("rescored:", rescored.as_dict())
    assert rescored.source == "rescored" and "no settled forward picks" in rescored.source_note
    assert rescored.n_settled > 2000  # every comparable 2019 game
    assert rescored.interval is not None and rescored.interval.mean == 0.0  # same booster
    assert rescored.decision.rollback is False

    games = _record_wrong_forward_picks(db, world)
    forward = forward_predictions(db, "moneyline")
    assert len(forward) == N_PICKS and set(forward["model_version"]) == {world["v2"]}
    by_game = forward.set_index("game_id")
    assert (by_game.loc[games["game_id"], "home_win"].to_numpy() == games["home_win"]).all()
    assert np.allclose(by_game.loc[games["game_id"], "p_home"], games["stored"])

    judged = monitor.judge_champion(db, uri, train.MONEYLINE, frame, n_boot=300)
    print("forward:", judged.as_dict())
    assert judged.source == "forward" and f"{N_PICKS} settled forward picks" in judged.source_note
    assert judged.as_dict()["source"] == "forward"
    assert judged.n_settled == N_PICKS
    y = games["home_win"].to_numpy(float)
    previous = challenger.version_predictor(uri, train.MONEYLINE, world["v1"])(games)
    champion_rescored = challenger.version_predictor(uri, train.MONEYLINE, world["v2"])(games)
    by_hand = log_loss_per_game(y, games["stored"]) - log_loss_per_game(y, previous)
    assert judged.interval is not None
    assert judged.interval.mean == pytest.approx(by_hand.mean())
    # A re-score of v2 on the same games sees no difference from v1 at all: the rollback comes
    # from the stored predictions only.
    assert np.array_equal(champion_rescored, previous)
    assert judged.interval.lower > 0.5 and judged.decision.rollback is True

    # Picks of another model version are not v2's forward record: back to re-scored history.
    fewer = monitor.judge_versions(
        frame, train.MONEYLINE, world["v2"], world["v1"], promoted=True, since=THROUGH,
        predictor=lambda v: challenger.version_predictor(uri, train.MONEYLINE, v),
        n_boot=100, forward=forward.assign(model_version="999"),
    )  # fmt: skip
    assert fewer.source == "rescored" and fewer.decision.rollback is False


def test_check_drift_measures_performance_on_stored_predictions(
    world: dict, db: psycopg.Connection, tmp_path: Path
) -> None:
    uri = world["env"]["BULLPEN_MLFLOW_TRACKING_URI"]
    frame = world["frame"]
    forward = forward_predictions(db, "moneyline")
    if forward.empty:  # run alone: the monitor test records the ledger
        _record_wrong_forward_picks(db, world)
        forward = forward_predictions(db, "moneyline")
    games = _picked_games(frame)
    options = {
        "tracking_uri": uri, "window_days": 400, "as_of": None, "reports_dir": tmp_path,
        "artifact_root": tmp_path / "artifacts",
    }  # fmt: skip
    judged = check.check_champion(frame, train.MONEYLINE, forward=forward, **options)
    rescored = check.check_champion(frame, train.MONEYLINE, forward=None, **options)
    perf, base = judged.performance, rescored.performance
    print("forward:", judged.source_note, perf, judged.verdict.reasons)
    print("rescored:", rescored.source_note, base, rescored.verdict.reasons)

    assert judged.performance_source == "forward" and rescored.performance_source == "rescored"
    assert "no settled forward picks" in rescored.source_note
    assert perf is not None and base is not None
    assert perf.n == N_PICKS and base.n > 2000
    y = games["home_win"].to_numpy(float)
    stored = np.where(y == 1.0, 0.2, 0.8)
    assert perf.model_log_loss == pytest.approx(log_loss_per_game(y, stored).mean())
    assert perf.close_log_loss == pytest.approx(
        log_loss_per_game(y, games["p_close_home"].to_numpy(float)).mean()
    )
    assert any(r.startswith("performance:") for r in judged.verdict.reasons)
    assert not any(r.startswith("performance:") for r in rescored.verdict.reasons)
    # Feature drift is the window's either way (the same games, the same reference).
    assert judged.drift.drift_share == rescored.drift.drift_share
    client = mlflow_store.client(uri)
    tags = client.get_run(judged.mlflow_run_id).data.tags
    assert tags["bullpen.performance_source"] == "forward"


def test_monitor_champion_flow_rolls_back_on_the_forward_record(
    world: dict, db: psycopg.Connection, prefect_server: None
) -> None:
    if forward_predictions(db, "moneyline").empty:
        _record_wrong_forward_picks(db, world)
    flow = prefect_process.load_flow("monitor.py:monitor_champion")
    result = flow(n_boot=300)  # type: ignore[operator]
    print("monitor-champion:", result)
    assert result["source"] == "forward" and result["rolled_back"] is True
    assert result["n_settled"] == N_PICKS and "forward picks" in result["source_note"]
    row = db.execute(
        "SELECT numbers FROM model_audit WHERE audit_id = %s", (result["audit_id"],)
    ).fetchone()
    assert row is not None and row[0]["source"] == "forward"
