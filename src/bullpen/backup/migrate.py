"""Move a folder of MLflow artifacts (the file:// root of a single machine) into the S3 artifact
store, and point MLflow's stored URIs there: models registered before the switch then load on
every host, not only on the one that wrote them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bullpen.backup.artifacts import S3Artifacts, upload_all
from bullpen.backup.restore import relocate_artifact_uris

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Moved:
    folder: Path
    kept: Path  # the folder, renamed: kept until an operator deletes it
    files: int
    relocated: int  # MLflow rows whose artifact URI now names the S3 store


def folder_to_s3(
    folder: Path, store: S3Artifacts, mlflow_url: str, now: datetime | None = None
) -> Moved | None:
    """Upload every file under `folder` to `store` (same relative keys), rewrite MLflow's URIs
    from the folder to the store, then rename the folder `<name>.moved-<time>`. None when there
    is nothing to move (no folder, or no file in it), so running it again is a no-op.

    Upload first, URIs next, rename last: an interruption leaves the folder in place and the
    next run uploads again (same keys, same bytes) and finishes the job.
    """
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        return None
    folder = folder.resolve()
    files = upload_all(folder, store)
    relocated = relocate_artifact_uris(mlflow_url, folder, store)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    kept = folder.with_name(f"{folder.name}.moved-{stamp}")
    folder.rename(kept)
    log.info("moved %d artifact files from %s to %s (%d URIs)", files, folder, store.uri, relocated)
    return Moved(folder, kept, files, relocated)
