"""check-drift against real PostgreSQL and MLflow (Evidently on real seasons), and the
`retrain-models/on-drift` deployment trigger against a real `prefect server` subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from bullpen.collect.history import replay
from bullpen.db import engine
from bullpen.drift import check
from bullpen.features.dataset import load_feature_frame
from bullpen.models import mlflow_store, train
from bullpen.ops import prefect_process
from bullpen.registry import audit, challenger, transition
from tests.conftest import REPO
from tests.integration.conftest import stage_seasons
from tests.integration.prefect_server import StandaloneServer, server_env, standalone_server

REFERENCE_SEASON, LATER_SEASON = 2016, 2019


@pytest.fixture(scope="module")
def champion(bullpen_env: dict[str, str]) -> dict[str, str]:
    """Seasons 2016 and 2019 loaded; a champion trained on 2016 only (its reference)."""
    data_dir = stage_seasons(
        Path(bullpen_env["BULLPEN_DATA_DIR"]), [REFERENCE_SEASON, LATER_SEASON]
    )
    for files in replay.find_season_files(data_dir):
        replay.replay_season(bullpen_env["BULLPEN_DATABASE_URL"], files)
    frame = load_feature_frame(bullpen_env["BULLPEN_DATABASE_URL"], "shin")
    history = frame[frame["season"] == REFERENCE_SEASON]
    fitted = train.train_model(history, train.MONEYLINE, {"num_boost_round": 30})
    uri = bullpen_env["BULLPEN_MLFLOW_TRACKING_URI"]
    experiment = mlflow_store.ensure_experiment(
        uri, "tests-drift", Path(bullpen_env["BULLPEN_HOME"]) / "a"
    )
    version = challenger.register(
        tracking_uri=uri, experiment_id=experiment, model=fitted,
        fingerprint=train.training_fingerprint(history, train.MONEYLINE, fitted.params),
        trigger="test", metrics={},
    ).version  # fmt: skip
    with engine.connect(bullpen_env["BULLPEN_DATABASE_URL"]) as conn:
        entry = audit.AuditEntry(
            model="moneyline", action="promoted", stage="manual", trigger="test setup",
            reason="the reference champion",
        )  # fmt: skip
        transition.promote(conn, uri, train.MONEYLINE.registered_name, version, entry)
    return {**bullpen_env, "version": version}


def test_check_drift_gives_retrain_for_a_later_season_and_stores_it(
    champion: dict[str, str], prefect_server: None
) -> None:
    flow = prefect_process.load_flow("drift.py:check_drift")
    result = flow(model="moneyline", window_days=400)  # type: ignore[operator]
    print("shifted:", json.dumps({k: result[k] for k in ("drift_share", "prediction_drift_p",
                                                          "relative_gap", "reasons")}))  # fmt: skip

    assert result["verdict"] == "retrain"
    assert result["window"][0].startswith(str(LATER_SEASON))
    assert result["drift_share"] > 0.5
    assert any(r.startswith("feature drift") for r in result["reasons"])
    assert "home_rs_pg" in result["drifted"]  # 2019's record run scoring against 2016
    with engine.connect(champion["BULLPEN_DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT verdict, reference_seasons, n_drifted, n_features, per_feature, report_uri,"
            " mlflow_run_id, n_settled FROM drift_checks WHERE check_id = %s",
            (result["check_id"],),
        ).fetchone()
    assert row is not None
    verdict, seasons, n_drifted, n_features, per_feature, report_uri, run_id, settled = row
    assert (verdict, seasons, n_features) == ("retrain", [REFERENCE_SEASON], 32)
    assert n_drifted == sum(v["drifted"] for v in per_feature.values()) > 16
    assert settled > 2000 and report_uri == result["report_uri"]
    client = mlflow_store.client(champion["BULLPEN_MLFLOW_TRACKING_URI"])
    artifacts = [a.path for a in client.list_artifacts(run_id)]
    assert artifacts == [Path(report_uri).name]
    assert _drift_event(result["check_id"]) is not None  # the trigger's input, from the flow
    html = Path(report_uri.removeprefix("file://"))
    assert html.stat().st_size > 100_000 and html.read_bytes()[:200].strip().startswith(
        b"<!DOCTYPE"
    )


def _drift_event(check_id: int, timeout: float = 30.0) -> dict | None:
    """The bullpen.drift.detected event the flow emitted for `check_id`, read back from the
    test server (events are persisted asynchronously)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            page = client.read_events(  # the server caps limit at 50; the client defaults to 100
                EventFilter(event=EventNameFilter(name=["bullpen.drift.detected"])), limit=50
            )
            for event in page.events:
                if event.payload.get("check_id") == check_id:
                    assert event.resource.id == "bullpen.model.moneyline"
                    assert event.payload["reason"].startswith("feature drift")
                    return event.payload
            time.sleep(1)
    return None


def test_unchanged_window_gives_ok(champion: dict[str, str]) -> None:
    frame = load_feature_frame(champion["BULLPEN_DATABASE_URL"], "shin")
    season = frame[frame["season"] == LATER_SEASON]
    half = season.sample(frac=0.5, random_state=0)
    predict = challenger.version_predictor(
        champion["BULLPEN_MLFLOW_TRACKING_URI"], train.MONEYLINE, champion["version"]
    )
    outcome = check.run_check(half, season.drop(half.index), train.MONEYLINE, predict)
    print("unchanged:", outcome.drift.drift_share, outcome.drift.prediction, outcome.verdict)

    assert outcome.verdict.verdict == "ok", outcome.verdict.reasons
    assert outcome.drift.drift_share < 0.2
    assert outcome.drift.prediction is not None and not outcome.drift.prediction.drifted
    # The count is Evidently's DriftedColumnsCount and agrees with its per-column tests.
    dataset = outcome.drift.dataset
    assert dataset is not None and not dataset.detected
    assert dataset.n_drifted == sum(c.drifted for c in outcome.drift.features)
    assert outcome.performance is not None and outcome.performance.n > 1000


# -- the deployment trigger, against a real Prefect server --------------------------------------


@pytest.fixture(scope="module", autouse=True)
def real_prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneServer]:
    """Started first (autouse, not waited for) so its ~15 s start overlaps the drift tests; the
    trigger test waits for /api/health."""
    home = tmp_path_factory.mktemp("prefect-server")
    with standalone_server(home, server_env(home), wait=False) as running:
        yield running


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


EMIT = """
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
emit_event(
    event="bullpen.drift.detected",
    resource={
        "prefect.resource.id": "bullpen.model.moneyline",
        "prefect.resource.name": "moneyline",
    },
    payload={"reason": "feature drift: 19/32 features drifted (59% > 50%)", "check_id": 1},
)
EventsWorker.drain_all()
"""


def test_drift_event_starts_retrain_on_drift_deployment(
    real_prefect_server: StandaloneServer,
) -> None:
    real_prefect_server.wait_healthy()
    api, env = real_prefect_server.api, real_prefect_server.env
    bin_dir = Path(sys.executable).parent
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    pool = next(
        d["work_pool"]["name"]
        for d in spec["deployments"]
        if d["name"] == "on-drift" and d["entrypoint"].endswith(":retrain_models")
    )
    _run([str(bin_dir / "prefect"), "work-pool", "create", pool, "--type", "process"], env)
    _run(
        [str(bin_dir / "prefect"), "--no-prompt", "deploy", "--prefect-file", "prefect.yaml",
         "--name", "retrain-models/on-drift"],
        env,
    )  # fmt: skip
    deployment = httpx.get(f"{api}/deployments/name/retrain-models/on-drift", timeout=10).json()
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()
    assert any(
        a["trigger"]["expect"] == ["bullpen.drift.detected"]
        and a["actions"][0]["deployment_id"] == deployment["id"]
        for a in automations
    ), automations

    _run([sys.executable, "-c", EMIT], env)

    deadline, runs = time.monotonic() + 60, []
    while time.monotonic() < deadline and not runs:
        runs = httpx.post(
            f"{api}/flow_runs/filter",
            json={"deployments": {"id": {"any_": [deployment["id"]]}}},
            timeout=10,
        ).json()
        time.sleep(1)
    assert runs, "no flow run of retrain-models/on-drift was created by the event"
    assert runs[0]["parameters"]["model"] == "moneyline"
    assert runs[0]["parameters"]["reason"] == "feature drift: 19/32 features drifted (59% > 50%)"
