"""Pause and resume a deployment (the flag and every schedule), which deployments cannot run
without a secret this host does not have, and runs of a deployment submitted for any worker.

Prefect 3.8 has no `prefect deployment resume`; `bullpen deployment pause|resume NAME` uses the
client's pause_deployment / resume_deployment and update_deployment_schedule(active=...), so a
paused deployment neither schedules runs nor shows an active schedule. Prefect is imported
lazily, as in `prefect_process`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bullpen import prefect_blocks, runtime

# A deployment whose secret is missing fails every time it runs: it stays paused instead.
ODDS_KEY = (
    "no Odds API key",
    f"save one: BULLPEN_ODDS_API_KEY=<key> bullpen blocks bootstrap (Secret block "
    f"{prefect_blocks.ODDS_API_KEY_BLOCK}), then bullpen deployment resume NAME",
)
BACKUP_KEY = (
    "no backup key",
    f"save one: BULLPEN_BACKUP_KEY=$(bullpen backup keygen) bullpen blocks bootstrap (Secret "
    f"block {prefect_blocks.BACKUP_KEY_BLOCK}; `make up` does this), then bullpen deployment "
    "resume NAME",
)
NEEDS_SECRET: dict[str, tuple[str, str]] = {
    "collect-odds/every-15-min": ODDS_KEY,
    "backup/nightly": BACKUP_KEY,
    "backup/hourly": BACKUP_KEY,
    "backup-verify/weekly": BACKUP_KEY,
}


def _resolves(read: Callable[[], object]) -> bool:
    try:
        read()
    except Exception:  # noqa: BLE001 - any failure to resolve means "cannot run"
        return False
    return True


def missing_secret(name: str) -> str | None:
    """Why deployment `name` cannot run with the secrets resolvable here (environment or saved
    block), as "<what is missing>; <how to save it>"; None when it can (or needs none)."""
    need = NEEDS_SECRET.get(name)
    if need is None:
        return None
    read = runtime.odds_api_key if need is ODDS_KEY else runtime.backup_key
    if _resolves(read):
        return None
    what, how = need
    return f"{what}; {how.replace('NAME', name)}"


def set_paused(name: str, paused: bool) -> list[str]:
    """Pause (or resume) deployment `name` ("flow/deployment") and all its schedules on the API
    in PREFECT_API_URL; return one line per change. Raises LookupError if there is no such
    deployment."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise LookupError(f"no deployment {name}") from None
        if paused:
            client.pause_deployment(deployment.id)
        else:
            client.resume_deployment(deployment.id)
        done = [f"{name}: {'paused' if paused else 'resumed'}"]
        for schedule in deployment.schedules:
            client.update_deployment_schedule(deployment.id, schedule.id, active=not paused)
            state = "inactive" if paused else "active"
            done.append(f"{name}: schedule {schedule.slug or schedule.id} {state}")
    return done


def pause_without_secrets(names: list[str] | None = None) -> list[str]:
    """Pause every deployed deployment (of `names`, default all that need one) whose secret is
    missing here; one line each saying why and how to save it. Deployments not deployed yet are
    named too, so the operator knows before `prefect deploy` (prefect.yaml deploys
    collect-odds/every-15-min with its schedule inactive for this reason)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    lines: list[str] = []
    with get_client(sync_client=True) as client:
        for name in names or list(NEEDS_SECRET):
            why = missing_secret(name)
            if why is None:
                continue
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                lines.append(f"{name}: not deployed yet; cannot run here: {why}")
                continue
            if not deployment.paused or any(s.active for s in deployment.schedules):
                set_paused(name, True)
            lines.append(f"{name}: paused: {why}")
    return lines


def ensure_backup_key(key_file: Path) -> str:
    """Make sure scheduled backups have a key; say which one they will use.

    BULLPEN_BACKUP_KEY set: that one (it wins over the block). Else the saved Secret block
    `bullpen-backup-key`. Else a key kept in `key_file` (0600; generated on first use) is saved
    as that block, so `backup/hourly` does not fail for want of a key. The file is the operator's
    copy: without the key no backup can be restored."""
    from bullpen.backup.archive import BackupKey, generate_key
    from bullpen.config import get_settings

    if get_settings().backup_key is not None:
        return "backup key: BULLPEN_BACKUP_KEY from the environment (wins over the block)"
    if prefect_blocks.saved_secret(prefect_blocks.BACKUP_KEY_BLOCK) is not None:
        return f"backup key: the saved Secret block {prefect_blocks.BACKUP_KEY_BLOCK}"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
    os.chmod(key_file, 0o600)
    key = key_file.read_text().strip()
    BackupKey.parse(key)  # a damaged file must not become the block
    from prefect.blocks.system import Secret

    Secret(value=key).save(prefect_blocks.BACKUP_KEY_BLOCK, overwrite=True)
    return (
        f"backup key: {key_file} (0600), saved as the Secret block "
        f"{prefect_blocks.BACKUP_KEY_BLOCK}; keep a copy elsewhere: no key, no restore"
    )


@dataclass(frozen=True)
class RunOutcome:
    """One deployment run as the API last saw it."""

    id: str
    name: str
    state: str  # the state type: COMPLETED, FAILED, CRASHED, ... (SCHEDULED/RUNNING if waiting)
    worker: str  # the worker that picked it up ("" before one has)
    message: str  # the state's message (why a run failed or crashed)


def submit_runs(name: str, parameter_sets: list[dict[str, Any]]) -> list[str]:
    """Create one run of deployment `name` per parameter set and return their ids without
    waiting: any worker polling the deployment's pool, on any host, may pick each up."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise LookupError(f"no deployment {name}: run `prefect deploy --all` first") from None
        return [
            str(client.create_flow_run_from_deployment(deployment.id, parameters=params).id)
            for params in parameter_sets
        ]


def wait_for_runs(
    run_ids: list[str], timeout: float, poll_seconds: float = 2.0
) -> list[RunOutcome]:
    """Poll until every run is final (or `timeout` seconds pass)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = [client.read_flow_run(UUID(run_id)) for run_id in run_ids]
            final = all(run.state is not None and run.state.is_final() for run in runs)
            if final or time.monotonic() >= deadline:
                break
            time.sleep(poll_seconds)
    return [
        RunOutcome(
            id=str(run.id),
            name=run.name,
            state=run.state.type.value if run.state is not None else "UNKNOWN",
            worker=str((run.labels or {}).get("prefect.worker.name", "")),
            message=(run.state.message or "") if run.state is not None else "",
        )
        for run in runs
    ]
