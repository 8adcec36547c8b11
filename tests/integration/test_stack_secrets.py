"""A local stack that does not fail by itself (issue #19 item 6), on a real Prefect server with
every deployment of prefect.yaml: `bullpen stack secrets` (run by `make up`) generates the backup
key and pauses collect-odds while no Odds API key exists; `bullpen deployment pause|resume`;
an explicit BULLPEN_BACKUP_KEY wins over the block; the automations reschedule a run that
crashed before its flow started and leave a terminal run alone."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.integration.test_ops import (  # the module's server fixture and its API helpers
    BULLPEN,
    _api,
    _create_run,
    _deployment_id,
    _prefect_env,
    _run_state,
    _wait_for,
    prefect_api,
)

__all__ = ["prefect_api"]  # a fixture, used by name
ODDS = "collect-odds/every-15-min"


def _bullpen(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BULLPEN, *args], env=env, capture_output=True, text=True, timeout=180)


def _deployment(api: str, name: str) -> dict:
    return _api(api, "GET", f"deployments/{_deployment_id(api, name)}")  # type: ignore[return-value]


def _schedules_active(api: str, name: str) -> set[bool]:
    return {s["active"] for s in _deployment(api, name)["schedules"]}


def test_stack_secrets_then_pause_and_resume(prefect_api: tuple[str, Path], tmp_path: Path) -> None:
    api, home = prefect_api
    assert _schedules_active(api, ODDS) == {False}  # prefect.yaml deploys it inactive
    env = {**_prefect_env(home, api), "BULLPEN_HOME": str(tmp_path / "home")}

    first = _bullpen(env, "stack", "secrets")
    assert first.returncode == 0, first.stdout + first.stderr
    key_file = tmp_path / "home" / "stack" / "backup.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert f"backup key: {key_file} (0600), saved as the Secret block" in first.stdout
    assert f"{ODDS}: paused: no Odds API key; save one: BULLPEN_ODDS_API_KEY=" in first.stdout
    assert f"bullpen deployment resume {ODDS}" in first.stdout
    assert "backup/hourly" not in first.stdout  # it has its key now
    assert _deployment(api, ODDS)["paused"] is True
    again = _bullpen(env, "stack", "secrets")
    assert "backup key: the saved Secret block bullpen-backup-key" in again.stdout  # idempotent

    refused = _bullpen(env, "deployment", "resume", ODDS)
    assert refused.returncode == 2
    assert f"{ODDS} stays paused: no Odds API key" in refused.stderr
    assert _deployment(api, ODDS)["paused"] is True

    resumed = _bullpen({**env, "BULLPEN_ODDS_API_KEY": "a-key"}, "deployment", "resume", ODDS)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{ODDS}: resumed" in resumed.stdout
    assert _deployment(api, ODDS)["paused"] is False and _schedules_active(api, ODDS) == {True}

    paused = _bullpen(env, "deployment", "pause", "backup/hourly")
    assert paused.returncode == 0, paused.stderr
    assert _deployment(api, "backup/hourly")["paused"] is True
    assert _schedules_active(api, "backup/hourly") == {False}
    back = _bullpen(env, "deployment", "resume", "backup/hourly")  # the block has the key
    assert back.returncode == 0, back.stderr
    assert _schedules_active(api, "backup/hourly") == {True}
    assert _bullpen(env, "deployment", "resume", "no-such/flow").returncode == 2

    # An explicit BULLPEN_BACKUP_KEY wins over the saved block; without it, the block is used.
    probe = "from bullpen import runtime; print(runtime.backup_key().key_id())"
    from bullpen.backup.archive import BackupKey, generate_key

    other = generate_key()
    explicit = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "BULLPEN_BACKUP_KEY": other},
        capture_output=True,
        text=True,
        timeout=120,
    )
    saved = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert explicit.stdout.strip() == BackupKey.parse(other).key_id(), explicit.stderr[-2000:]
    assert saved.stdout.strip() == BackupKey.parse(key_file.read_text().strip()).key_id()


def _heartbeat(api: str, run_id: str) -> None:
    event = {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": "prefect.flow-run.heartbeat",
        "resource": {"prefect.resource.id": f"prefect.flow-run.{run_id}"},
        "related": [],
    }
    _api(api, "POST", "events", json=[event])


def _set_state(api: str, run_id: str, state: str) -> None:
    _api(
        api,
        "POST",
        f"flow_runs/{run_id}/set_state",
        json={"state": {"type": state}, "force": True},
    )


def _state_names(api: str, run_id: str) -> list[str]:
    history = _api(api, "GET", "flow_run_states/", params={"flow_run_id": run_id})
    return [h["name"] for h in history]  # type: ignore[union-attr]


def test_automations_cover_early_crashes_and_spare_terminal_runs(
    prefect_api: tuple[str, Path],
) -> None:
    api, home = prefect_api
    applied = _bullpen(
        _prefect_env(home, api),
        "automations",
        "apply",
        "--reschedule-after",
        "10",
        "--heartbeat-grace",
        "10",
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    deployment = _deployment_id(api, "settle-bets/after-games")

    # Crashed before the flow started: run count 0, still rescheduled once.
    early = _create_run(api, deployment)
    _set_state(api, early, "CRASHED")
    assert _run_state(api, early)["run_count"] == 0
    _wait_for(lambda: "Rescheduled" in _state_names(api, early), 90, "the early crash rescheduled")
    # It crashes before starting again: cancelled at once, never rescheduled a second time
    # (a paused deployment's runs still reach workers, so the pause alone ends no loop).
    _set_state(api, early, "CRASHED")
    _wait_for(lambda: _run_state(api, early)["state_type"] == "CANCELLED", 60, "the loop stopped")

    # A late heartbeat after Completed: the zombie automation must not crash a finished run,
    # while a run whose heartbeats stop while Running is crashed (the automation is live).
    done, zombie = _create_run(api, deployment), _create_run(api, deployment)
    for run in (done, zombie):
        _set_state(api, run, "RUNNING")
        _heartbeat(api, run)
    _set_state(api, done, "COMPLETED")
    _heartbeat(api, done)  # reaches the server after the Completed event
    _wait_for(lambda: "Crashed" in _state_names(api, zombie), 90, "the zombie marked Crashed")
    time.sleep(15)  # the late heartbeat's window (10 s) and the reschedule delay have passed
    assert _state_names(api, early).count("Rescheduled") == 1
    assert _run_state(api, done)["state_type"] == "COMPLETED"
    assert "Crashed" not in _state_names(api, done)
