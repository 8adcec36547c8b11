"""Flow runs through the Prefect REST API (the observer's view): create on a work queue, wait,
read state, labels, logs and events."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tests.infra.multihost.services import Server

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Run:
    name: str  # "flow/deployment"
    id: str
    queue: str
    submitted: float  # time.monotonic() at creation
    finished: float = 0.0
    state: dict[str, Any] | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.submitted

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.state or {}).get("labels") or {})


def deployment_id(server: Server, name: str) -> str:
    flow, deployment = name.split("/")
    return str(server.api("GET", f"deployments/name/{flow}/{deployment}")["id"])


def create(server: Server, name: str, parameters: dict[str, Any], queue: str) -> Run:
    """A run of deployment `name` on work queue `queue` (which worker hosts poll it decides
    where it runs)."""
    body = {"parameters": parameters, "work_queue_name": queue}
    created = server.api("POST", f"deployments/{deployment_id(server, name)}/create_flow_run", body)
    return Run(name, str(created["id"]), queue, time.monotonic())


def read(server: Server, run_id: str) -> dict[str, Any]:
    return dict(server.api("GET", f"flow_runs/{run_id}"))


def wait(server: Server, runs: list[Run], timeout: float) -> list[Run]:
    """Poll until every run is terminal; each gets its state and finish time."""
    deadline = time.monotonic() + timeout
    pending = list(runs)
    while pending and time.monotonic() < deadline:
        for run in list(pending):
            state = read(server, run.id)
            if state["state_type"] in TERMINAL:
                run.state, run.finished = state, time.monotonic()
                pending.remove(run)
        time.sleep(1)
    for run in pending:
        run.state = read(server, run.id)
    return runs


def wait_for_state(server: Server, run_id: str, states: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read(server, run_id)
        if state["state_type"] in states:
            return state
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never reached {states}: {read(server, run_id)['state']}")


def states(server: Server, run_id: str) -> list[dict[str, Any]]:
    """The run's state history, oldest first."""
    found = server.api("GET", f"flow_run_states/?flow_run_id={run_id}")
    return sorted(found, key=lambda s: s["timestamp"])


def logs(server: Server, run_id: str) -> list[str]:
    body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200, "sort": "TIMESTAMP_ASC"}
    return [entry["message"] for entry in server.api("POST", "logs/filter", body)]


def events(server: Server, event: str, resource_id: str) -> list[dict[str, Any]]:
    body = {
        "filter": {
            "event": {"name": [event]},
            "resource": {"id": [resource_id]},
            "occurred": {"since": "2000-01-01T00:00:00Z"},
        },
        "limit": 50,
    }
    return list(server.api("POST", "events/filter", body).get("events", []))


def describe(run: Run) -> str:
    state = run.state or {}
    return (
        f"{run.name} on {run.labels.get('bullpen.host', '?')}: {state.get('state_type')} "
        f"{(state.get('state') or {}).get('message', '')!r}"
    )
