"""Replay the bundled real seasons into Postgres: one transaction per season file, idempotent."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NONE
from shared_tasks import prepare_database, transient_retries

from bullpen import config, runtime
from bullpen.collect.history import replay
from bullpen.players import linking

# A dropped connection or a restarting server: retried twice, soon (each write is idempotent).
_RETRY_DELAYS = [2, 10]


@transient_retries(_RETRY_DELAYS, "replay-season-{files.season}")
def replay_season(database_url: str, files: replay.SeasonFiles) -> dict[str, object]:
    return asdict(replay.replay_season(database_url, files))


@transient_retries(_RETRY_DELAYS, "replay-events")
def replay_events(database_url: str, seasons: list[replay.EventSeasonFiles]) -> list[dict]:
    # Two seasons at a time in two processes: one parses (Python) while the other writes
    # (Postgres); every season is still its own set of idempotent per-file transactions.
    return [asdict(s) for s in replay.replay_event_seasons(database_url, seasons, workers=2)]


@task(cache_policy=NONE, task_run_name="link-listed-starters")
def link_starters(database_url: str, register: Path) -> dict[str, int]:
    return asdict(linking.link_and_store(database_url, register))


@flow(name="collect-history", log_prints=True)
def collect_history(data_dir: str | None = None) -> list[dict[str, object]]:
    """Replay every bundled season (SBR odds 2010-2020 + Retrosheet logs) into the database,
    then the Retrosheet play-by-play of every season that has it (2009-2021)."""
    database_url = runtime.database_url()
    prepare_database(database_url)
    root = Path(data_dir) if data_dir else config.data_dir()
    files = replay.find_season_files(root)
    odds = [replay_season(database_url, season_files) for season_files in files]
    events = replay_events(database_url, replay.find_event_seasons(root))
    links = link_starters(database_url, root / linking.REGISTER_FILE)
    print(
        f"listed starters: {links['matched']} of {links['named']} named sides linked, "
        f"{links['unmatched']} unmatched (bullpen players unmatched), "
        f"{links['late_scratches']} late scratches"
    )
    return odds + events


if __name__ == "__main__":
    collect_history()
