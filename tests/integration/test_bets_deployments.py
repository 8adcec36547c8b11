"""prefect.yaml's recommend-bets/after-odds and settle-bets/after-games, deployed with the real
`prefect deploy` on a real `prefect server start`: a completed collect-odds flow run starts
recommend-bets (and not settle-bets), a completed collect-games run starts settle-bets.

The collect flows here are stand-ins named collect-odds and collect-games (no API to collect
from): Prefect emits their Completed events itself, exactly as for the real flows.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.integration.prefect_server import server_env, standalone_server

RUN_NAMED = """
import sys
from prefect import flow

@flow(name=sys.argv[1])
def stand_in() -> None:
    pass

stand_in()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("prefect-server")
    with standalone_server(home, server_env(home)) as running:
        yield running.api, running.env


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _json(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def _runs_of(api: str, deployment_id: str) -> list[dict]:
    return httpx.post(
        f"{api}/flow_runs/filter",
        json={"deployments": {"id": {"any_": [deployment_id]}}},
        timeout=10,
    ).json()


def _wait_for_run(api: str, deployment_id: str) -> list[dict]:
    deadline, runs = time.monotonic() + 60, []
    while time.monotonic() < deadline and not runs:
        runs = _runs_of(api, deployment_id)
        time.sleep(1)
    return runs


def test_collect_runs_trigger_recommend_and_settle(server: tuple[str, dict[str, str]]) -> None:
    api, env = server
    prefect = str(Path(sys.executable).parent / "prefect")
    _run([prefect, "work-pool", "create", "bullpen-pool", "--type", "process"], env)
    for name in ("recommend-bets/after-odds", "settle-bets/after-games"):
        _run(
            [prefect, "--no-prompt", "deploy", "--prefect-file", "prefect.yaml", "--name", name],
            env,
        )
    ids = {
        name: _json(httpx.get(f"{api}/deployments/name/{name}", timeout=10))["id"]
        for name in ("recommend-bets/after-odds", "settle-bets/after-games")
    }
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()
    by_deployment = {a["actions"][0]["deployment_id"]: a["trigger"] for a in automations}
    for name, collector in (
        ("recommend-bets/after-odds", "collect-odds"),
        ("settle-bets/after-games", "collect-games"),
    ):
        trigger = by_deployment[ids[name]]
        assert trigger["expect"] == ["prefect.flow-run.Completed"]
        assert trigger["match_related"]["prefect.resource.name"] == collector

    _run([sys.executable, "-c", RUN_NAMED, "collect-odds"], env)
    assert _wait_for_run(api, ids["recommend-bets/after-odds"]), "collect-odds started nothing"
    assert _runs_of(api, ids["settle-bets/after-games"]) == []

    _run([sys.executable, "-c", RUN_NAMED, "collect-games"], env)
    assert _wait_for_run(api, ids["settle-bets/after-games"]), "collect-games started nothing"
    assert len(_runs_of(api, ids["recommend-bets/after-odds"])) == 1
