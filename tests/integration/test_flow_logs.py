"""A deployed run's log tells its story (issue #19 item 6): the backup flow logs which backup
it made, with which key (id only), where, and what retention deleted, and leaves the same line
as a markdown artifact; both read back from the Prefect API (as `prefect flow-run logs` does)."""

from __future__ import annotations

import time
from typing import Any

from bullpen.ops import prefect_process
from tests.integration.test_backup import s3_env

__all__ = ["s3_env"]  # a fixture, used by name


def _messages(flow_run_id: Any) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def test_backup_run_logs_what_it_kept_and_with_which_key(
    s3_env: dict[str, str], prefect_server: None
) -> None:
    from bullpen.backup.archive import BackupKey

    state = prefect_process.load_flow("backup.py:backup")(kind="manual", return_state=True)  # type: ignore[operator]
    assert state.is_completed(), state
    created = state.result()["id"]
    key_id = BackupKey.parse(s3_env["BULLPEN_BACKUP_KEY"]).key_id()
    wanted = f"backup {created} (manual): "
    deadline = time.monotonic() + 30  # logs reach the API in batches
    while True:
        lines = [m for m in _messages(state.state_details.flow_run_id) if m.startswith(wanted)]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert lines, _messages(state.state_details.flow_run_id)
    assert f"encrypted with key {key_id} to s3://bullpen-test-backups/" in lines[0]
    assert "retention deleted 0" in lines[0]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:  # the same story in the UI's Artifacts tab
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    assert artifact.key == "backup" and artifact.data == lines[0]
