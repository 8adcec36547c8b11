"""Monitoring the closing-line champion, the model recommend-bets picks with, on its forward
predictions (issue #17 item 6), against real PostgreSQL, MLflow and Prefect.

Two identical closing-line versions (v1, then v2 promoted with data through 2016) re-score 2019
identically. The bets ledger then holds v2's settled picks on 150 games of 2019 as recommend-bets
stores them (strategy `opener:closing-line-v2:...`): the predicted close, the consensus at
decision, and at settlement the closing consensus, which is this model's label. The stored
predictions are 0.3 away from the close, on the far side from 0.5. monitor-champion must roll
back on them and check-drift must judge them against the opening line (the "open stays"
forecast the model exists to beat), where a re-score sees nothing wrong.
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
from bullpen.betting.live import strategy_version
from bullpen.betting.opener import OpenerParams
from bullpen.collect.history import replay
from bullpen.db import engine
from bullpen.drift import check
from bullpen.features.dataset import load_feature_frame
from bullpen.models import closing_line, mlflow_store, train
from bullpen.ops import prefect_process
from bullpen.registry import audit, challenger, monitor, transition
from tests.integration.conftest import stage_seasons
from tests.integration.forward_picks import record_and_settle

SPEC = closing_line.CLOSING_LINE
REFERENCE_SEASON, LATER_SEASON = 2016, 2019
N_PICKS = 150
DECIDED = datetime(2019, 3, 1, tzinfo=UTC)
SETTLED = datetime(2019, 11, 1, tzinfo=UTC)
THROUGH = date(2016, 12, 31)


def cross_entropy(label: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -(label * np.log(p) + (1.0 - label) * np.log1p(-p))


@pytest.fixture(scope="module")
def world(bullpen_env: dict[str, str]) -> dict:
    url, uri = bullpen_env["BULLPEN_DATABASE_URL"], bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    data_dir = stage_seasons(
        Path(bullpen_env["BULLPEN_DATA_DIR"]), [REFERENCE_SEASON, LATER_SEASON]
    )
    for files in replay.find_season_files(data_dir):
        replay.replay_season(url, files)
    frame = load_feature_frame(url, "shin")
    history = closing_line.usable_games(frame[frame["season"] == REFERENCE_SEASON])
    experiment = mlflow_store.ensure_experiment(
        uri, "tests-forward-monitoring-closing-line", Path(bullpen_env["BULLPEN_HOME"]) / "a"
    )
    versions = []
    with engine.connect(url) as conn:
        # Same data and parameters, so the same booster; naming verbosity (always -1) only
        # changes the fingerprint: a second registered version.
        for n, extra in ((1, {}), (2, {"verbosity": -1})):
            params = {**closing_line.PARAMS, "num_boost_round": 30, **extra}
            fitted = train.train_model(history, SPEC, params)
            version = challenger.register(
                tracking_uri=uri, experiment_id=experiment, model=fitted,
                fingerprint=train.training_fingerprint(history, SPEC, fitted.params),
                trigger="test", metrics={},
            ).version  # fmt: skip
            entry = audit.AuditEntry(
                model=SPEC.name, action="promoted", stage="manual", trigger="test setup",
                reason=f"version {n}", data_through=THROUGH,
            )  # fmt: skip
            transition.promote(conn, uri, SPEC.registered_name, version, entry)
            versions.append(version)
    assert versions[0] != versions[1]
    return {"env": bullpen_env, "frame": frame, "v1": versions[0], "v2": versions[1]}


@pytest.fixture(scope="module")
def db(world: dict) -> Iterator[psycopg.Connection]:
    with engine.connect(world["env"]["BULLPEN_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def picked_games(frame: pd.DataFrame) -> pd.DataFrame:
    later = closing_line.usable_games(frame[frame["season"] == LATER_SEASON])
    later = later[later["home_win"].notna()]
    return later.sort_values(["game_date", "game_id"]).head(N_PICKS).reset_index(drop=True)


def wrong_forecasts(games: pd.DataFrame) -> np.ndarray:
    close = games["p_close_home"].to_numpy(float)
    return np.where(close > 0.5, close - 0.3, close + 0.3)


@pytest.fixture(scope="module")
def picks(world: dict, db: psycopg.Connection) -> pd.DataFrame:
    """v2's picks as recommend-bets stores them, settled with the closing consensus."""
    games = picked_games(world["frame"])
    strategy = strategy_version(world["v2"], OpenerParams(threshold=0.0))
    assert strategy_model(strategy) == (SPEC.name, world["v2"])
    stored = wrong_forecasts(games)
    sides = np.where(stored > games["p_open_home"].to_numpy(float), "home", "away")
    summary = record_and_settle(
        db, games, stored, sides, strategy=strategy, model_version=world["v2"],
        decided=DECIDED, settled=SETTLED,
    )  # fmt: skip
    assert sum(summary.by_state.values()) == N_PICKS and "void" not in summary.by_state
    return games.assign(stored=stored)


def test_without_forward_picks_both_versions_are_rescored_alike(
    world: dict, db: psycopg.Connection
) -> None:
    """Runs first (file order; it asks for no picks): the ledger is empty."""
    uri, frame = world["env"]["BULLPEN_MLFLOW_TRACKING_URI"], world["frame"]
    rescored = monitor.judge_champion(db, uri, SPEC, frame, n_boot=300)
    print("rescored:", rescored.as_dict())
    assert rescored.source == "rescored" and rescored.n_settled > 2000
    assert rescored.interval is not None and rescored.interval.mean == 0.0  # same booster
    assert rescored.decision.rollback is False


def test_monitor_and_check_drift_on_forward_picks(
    world: dict, db: psycopg.Connection, picks: pd.DataFrame, tmp_path: Path
) -> None:
    uri, frame = world["env"]["BULLPEN_MLFLOW_TRACKING_URI"], world["frame"]
    forward = forward_predictions(db, SPEC.name)
    assert len(forward) == N_PICKS and set(forward["model_version"]) == {world["v2"]}
    close = picks["p_close_home"].to_numpy(float)
    stored = picks["stored"].to_numpy(float)

    judged = monitor.judge_champion(db, uri, SPEC, frame, n_boot=300)
    print("forward:", judged.as_dict())
    assert judged.source == "forward" and judged.n_settled == N_PICKS
    previous = challenger.version_predictor(uri, SPEC, world["v1"])(picks)
    by_hand = cross_entropy(close, stored) - cross_entropy(close, previous)
    assert judged.interval is not None
    assert judged.interval.mean == pytest.approx(by_hand.mean())
    assert judged.interval.lower > 0 and judged.decision.rollback is True

    options = {
        "tracking_uri": uri, "window_days": 400, "as_of": None, "reports_dir": tmp_path,
        "artifact_root": tmp_path / "artifacts",
    }  # fmt: skip
    drift = check.check_champion(frame, SPEC, forward=forward, **options)
    rescored = check.check_champion(frame, SPEC, forward=None, **options)
    perf, base = drift.performance, rescored.performance
    print("check-drift forward:", drift.source_note, perf, drift.verdict.reasons)
    print("check-drift rescored:", rescored.source_note, base, rescored.verdict.reasons)
    assert drift.performance_source == "forward" and rescored.performance_source == "rescored"
    assert perf is not None and base is not None and perf.n == N_PICKS and base.n > 2000
    assert perf.benchmark == base.benchmark == "the opening line"
    assert perf.model_log_loss == pytest.approx(cross_entropy(close, stored).mean())
    opening = picks["p_open_home"].to_numpy(float)
    assert perf.close_log_loss == pytest.approx(cross_entropy(close, opening).mean())
    assert any(r.startswith("performance:") and "the opening line" in r
               for r in drift.verdict.reasons)  # fmt: skip
    assert not any(r.startswith("performance:") for r in rescored.verdict.reasons)
    # Re-scored, the model forecasts the close at least as well as "the open stays" does.
    assert base.model_log_loss <= base.close_log_loss + 1e-4


def test_the_monitor_flow_rolls_the_closing_line_champion_back(
    world: dict, db: psycopg.Connection, picks: pd.DataFrame, prefect_server: None
) -> None:
    flow = prefect_process.load_flow("monitor.py:monitor_champion")
    result = flow(model=SPEC.name, n_boot=300)  # type: ignore[operator]
    print("monitor-champion:", result)
    assert result["source"] == "forward" and result["rolled_back"] is True
    assert result["n_settled"] == N_PICKS
    aliases = transition.read_aliases(world["env"]["BULLPEN_MLFLOW_TRACKING_URI"],
                                      SPEC.registered_name)  # fmt: skip
    assert aliases[transition.CHAMPION] == world["v1"]
