"""Replay the bundled real seasons into Postgres: one transaction per season file, idempotent."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NONE
from shared_tasks import prepare_database

from bullpen import runtime
from bullpen.collect import replay


@task(
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=runtime.retry_transient,
    task_run_name="replay-season-{files.season}",
)
def replay_season(database_url: str, files: replay.SeasonFiles) -> dict[str, object]:
    return asdict(replay.replay_season(database_url, files))


@flow(name="collect-history", log_prints=True)
def collect_history(data_dir: str | None = None) -> list[dict[str, object]]:
    """Replay every bundled season (SBR odds 2010-2020 + Retrosheet logs) into the database."""
    database_url = runtime.database_url()
    prepare_database(database_url)
    files = replay.find_season_files(Path(data_dir) if data_dir else runtime.data_dir())
    return [replay_season(database_url, season_files) for season_files in files]


if __name__ == "__main__":
    collect_history()
